import { randomBytes } from 'node:crypto';
import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { inflateBody, parseJsonBody } from './json-body.ts';

const KEYS = new Set(['img1', 'img2']);

/** parseJsonBody with the lifted bytes put back as strings: must equal JSON.parse, or both must throw. */
function reassembled(text: string, minLength = 16): unknown {
  const { value, lifted } = parseJsonBody(Buffer.from(text), KEYS, minLength);
  if (lifted.size === 0) return value;
  const out = { ...(value as Record<string, unknown>) };
  for (const [k, bytes] of lifted) out[k] = bytes.toString('latin1');
  return out;
}

function outcome(f: () => unknown): { ok: unknown } | { threw: true } {
  try {
    return { ok: f() };
  } catch {
    return { threw: true };
  }
}

const long = (c: string) => `data:image/jpeg;base64,${c.repeat(40)}`;

describe('parseJsonBody', () => {
  it('lifts the top-level image strings out as bytes and leaves placeholders in the value', () => {
    const body = JSON.stringify({ img1: long('QUJD'), img2: long('REVG'), metadata: { img1: long('R0hJ') }, webhookUrl: 'https://x' });
    const { value, lifted } = parseJsonBody(Buffer.from(body), KEYS, 16);
    expect([...lifted.keys()]).toEqual(['img1', 'img2']);
    expect(lifted.get('img1')!.toString()).toBe(long('QUJD'));
    const v = value as Record<string, unknown>;
    expect(typeof v.img1).toBe('string');
    expect(v.img1).not.toBe(long('QUJD'));
    // Nested keys of the same name are not the images: JSON.parse reads them as usual.
    expect(v.metadata).toEqual({ img1: long('R0hJ') });
    expect(v.webhookUrl).toBe('https://x');
  });

  it.each([
    ['compact', `{"img1":"${long('QUJD')}","img2":"${long('REVG')}"}`],
    ['whitespace everywhere', ` \n{ "img1" :\t"${long('QUJD')}" ,\r\n "img2": "${long('REVG')}" } `],
    ['a later duplicate wins', `{"img1":"${long('QUJD')}","img1":"short","img2":"${long('REVG')}"}`],
    ['an earlier duplicate loses', `{"img1":"short","img1":"${long('QUJD')}"}`],
    ['escapes in the value', `{"img1":"${long('QUJD')}\\\\\\"x","img2":"${long('REVG')}\\u0041"}`],
    ['a value ending in an escaped backslash', `{"img1":"${long('QUJD')}\\\\","img2":"x"}`],
    ['an escaped key', `{"img\\u0031":"${long('QUJD')}"}`],
    ['non-ASCII in the value', `{"img1":"${long('QUJD')}é"}`],
    ['a control character in the prefix', `{"img1":"data:image/jpeg\u0001;base64,${'QUJD'.repeat(40)}"}`],
    ['brackets and quotes inside strings', `{"a":"}{][\\"","img1":"${long('QUJD')}","b":["img2",":"],"img2":"${long('REVG')}"}`],
    ['images inside an array', `[{"img1":"${long('QUJD')}"}]`],
    ['a top-level string', `"${long('QUJD')}"`],
    ['null', 'null'],
    ['numbers and nesting', `{"n":-1.5e3,"o":{"p":[1,{"q":true}]},"img1":"${long('QUJD')}","img2":null}`],
    ['truncated', `{"img1":"${long('QUJD')}","img2":"${long('REVG')}`],
    ['truncated after a value', `{"img1":"${long('QUJD')}"`],
    ['a trailing comma', `{"img1":"${long('QUJD')}",}`],
    ['a missing colon', `{"img1" "${long('QUJD')}"}`],
    ['garbage after the object', `{"img1":"${long('QUJD')}"} x`],
    ['an unterminated key', `{"img1`],
    ['empty', ''],
  ])('reads %s exactly as JSON.parse does', (_name, text) => {
    expect(outcome(() => reassembled(text))).toEqual(outcome(() => JSON.parse(text)));
  });

  it('agrees with JSON.parse on 5,000 mutated bodies', () => {
    let seed = 3;
    const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
    const base = JSON.stringify({ img1: long('QUJD'), meta: { a: [1, 'x"y'], img2: 'n' }, img2: long('REVG') });
    const inserts = ['"', '\\', '{', '}', '[', ']', ':', ',', ' ', '\\"', 'é', '\u0000', 'x', '"img1":"', '1'];
    let parsed = 0;
    for (let k = 0; k < 5_000; k++) {
      const chars = [...base];
      for (let m = 1 + rand(3); m > 0; m--) {
        const at = rand(chars.length);
        if (rand(2)) chars.splice(at, 1);
        else chars.splice(at, 0, inserts[rand(inserts.length)]!);
      }
      const text = chars.join('');
      const want = outcome(() => JSON.parse(text));
      expect(outcome(() => reassembled(text)), text).toEqual(want);
      if ('ok' in want) parsed++;
    }
    expect(parsed).toBeGreaterThan(500); // the corpus holds valid bodies, not only broken ones
  });
});

describe('inflateBody', () => {
  const text = JSON.stringify({ img1: long('QUJD'), img2: long('REVG') });
  it.each([
    ['gzip', gzipSync],
    ['deflate', deflateSync],
    ['br', brotliCompressSync],
  ] as const)('inflates %s', async (encoding, compress) => {
    expect((await inflateBody(compress(text), encoding, 1 << 20)).toString()).toBe(text);
  });

  it('stops at 20x the compressed size, or at the limit when that is smaller', async () => {
    const bomb = gzipSync(Buffer.alloc(1 << 20));
    await expect(inflateBody(bomb, 'gzip', 16 << 20)).rejects.toMatchObject({ code: 'BODY_TOO_LARGE', message: 'the body inflates more than 20x' });
    await expect(inflateBody(bomb, 'gzip', 1024)).rejects.toMatchObject({ code: 'BODY_TOO_LARGE', message: 'the request body is too large' });
    const fits = gzipSync(randomBytes(768).toString('base64')); // 1024 bytes, as images compress: barely
    await expect(inflateBody(fits, 'gzip', 1024)).resolves.toHaveLength(1024); // exactly the limit is fine
    await expect(inflateBody(fits, 'gzip', 1023)).rejects.toMatchObject({ code: 'BODY_TOO_LARGE', message: 'the request body is too large' });
  });

  it('refuses a corrupt or empty stream as INVALID_JSON', async () => {
    for (const encoding of ['gzip', 'deflate', 'br'] as const) {
      await expect(inflateBody(Buffer.from('\xff not compressed'), encoding, 1024)).rejects.toMatchObject({ code: 'INVALID_JSON', message: `the body is not valid ${encoding}` });
      await expect(inflateBody(Buffer.alloc(0), encoding, 1024)).rejects.toMatchObject({ code: 'INVALID_JSON' });
    }
  });
});
