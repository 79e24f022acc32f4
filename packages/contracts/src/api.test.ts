import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { JobIdSchema, METADATA_MAX_BYTES, SubmitJobRequestSchema, isJobId } from './api.ts';

/** An object `depth` containers deep, counting the outermost: nested(1) is {}. */
function nested(depth: number): Record<string, unknown> {
  let v: Record<string, unknown> = {};
  for (let d = 1; d < depth; d++) v = { a: v };
  return v;
}

const issues = (metadata: unknown) => {
  const r = SubmitJobRequestSchema.safeParse({ img1: 'x', img2: 'x', metadata });
  return r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
};

describe('SubmitJobRequestSchema.metadata', () => {
  it('accepts 32 levels of nesting and refuses 33', () => {
    expect(issues(nested(32))).toEqual([]);
    expect(issues(nested(33))).toEqual(['metadata: must nest at most 32 levels deep']);
    expect(issues({ a: [[nested(29), nested(29)]] })).toEqual([]); // arrays count as levels too: 3 + 29
    expect(issues({ a: [[nested(29), nested(30)]] })).toEqual(['metadata: must nest at most 32 levels deep']);
  });

  it('refuses nesting too deep for JSON.stringify without overflowing the stack', () => {
    const deep = JSON.parse(`${'{"a":'.repeat(100_000)}1${'}'.repeat(100_000)}`) as unknown;
    expect(() => JSON.stringify(deep)).toThrow(RangeError); // what the check must not call first
    expect(issues(deep)).toEqual(['metadata: must nest at most 32 levels deep']);
    expect(issues(nested(5_000))).toEqual(['metadata: must nest at most 32 levels deep']);
  });

  it('takes at most 4096 bytes of JSON', () => {
    const fits = { s: 'é'.repeat((METADATA_MAX_BYTES - 8) / 2) }; // {"s":""} is 8 bytes; é is 2
    expect(Buffer.byteLength(JSON.stringify(fits))).toBe(METADATA_MAX_BYTES);
    expect(issues(fits)).toEqual([]);
    expect(issues({ s: `${fits.s}x` })).toEqual(['metadata: must be at most 4096 bytes of JSON']);
    expect(issues({ a: Array(5000).fill(0) })).toEqual(['metadata: must be at most 4096 bytes of JSON']);
  });

  it('bounds the walk for values shared by reference', () => {
    let v: unknown = {};
    for (let d = 0; d < 30; d++) v = { a: v, b: v }; // 2^30 paths, 31 objects
    expect(issues(v)).toEqual(['metadata: must be at most 4096 bytes of JSON']);
  });

  it('is still optional and still a record', () => {
    expect(issues(undefined)).toEqual([]);
    expect(issues([1])).toHaveLength(1);
  });
});

describe('isJobId', () => {
  it('accepts the ids the queue makes', () => {
    for (let i = 0; i < 100; i++) expect(isJobId(randomBytes(18).toString('base64url'))).toBe(true);
  });
  it.each(['events', 'id', 'completed', 'failed', 'stalled-check', '', 'A'.repeat(23), 'A'.repeat(25), 'A'.repeat(100), `${'A'.repeat(23)}=`, `${'A'.repeat(23)}+`, `${'A'.repeat(23)}\n`, 5])('refuses %j', (id) => {
    expect(isJobId(id)).toBe(false);
    expect(JobIdSchema.safeParse(id).success).toBe(false);
  });
});
