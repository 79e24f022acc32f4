import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { findLeaks } from './support/leaks.ts';

const fixture = (name: string) => readFileSync(join(import.meta.dirname, 'fixtures/logs', name), 'utf8');

describe('the leak scan', () => {
  it('finds the image bytes that a refused Redis SET once put in the API log', () => {
    const lines = fixture('redis-refused-set-before-fix.jsonl').split('\n').filter(Boolean);
    expect(lines.length).toBeGreaterThan(0);
    // Only the byte-array pattern sees it: the image is neither base64 nor raw bytes in that line.
    expect(findLeaks(lines.map((l, i) => [`line ${i + 1}`, l] as [string, string]))).toEqual(['line 1: JPEG byte array']);
  });

  it('finds PNG and WebP byte arrays, spaced or not, and leaves ordinary numbers alone', () => {
    const png = JSON.stringify({ data: [...Buffer.from('\x89PNG\r\n\x1a\n', 'latin1'), 0, 0] });
    const webp = `[82, 73, 70, 70, 36, 0, 0, 0, 87, 69, 66, 80, 86]`;
    expect(findLeaks([['png', png], ['webp', webp]])).toEqual(['png: PNG byte array', 'webp: WebP byte array']);
    expect(findLeaks([['numbers', '{"ms":255,"rss":216,"n":2550}']])).toEqual([]);
  });
});
