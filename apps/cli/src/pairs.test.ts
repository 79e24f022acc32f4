import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readPairs } from './pairs.ts';

const dir = mkdtempSync(join(tmpdir(), 'facematch-pairs-'));
const csv = (name: string, text: string) => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};

describe('readPairs', () => {
  it('resolves paths against the CSV folder by default and ignores extra columns', () => {
    const p = csv('a.csv', 'note,img2,img1,same\r\nx,b.jpg,/abs/a.jpg,true\ny,d.jpg,c.jpg,0\n\n');
    expect(readPairs(p)).toEqual([
      { img1: '/abs/a.jpg', img2: join(dir, 'b.jpg'), same: true },
      { img1: join(dir, 'c.jpg'), img2: join(dir, 'd.jpg'), same: false },
    ]);
    expect(readPairs(p, '/root')[1]).toMatchObject({ img1: '/root/c.jpg' });
  });

  it('rejects a bad label with its line number', () => {
    expect(() => readPairs(csv('b.csv', 'img1,img2,same\na,b,maybe\n'))).toThrow(/b\.csv:2: same must be/);
  });
});
