import { describe, expect, it } from 'vitest';
import { MicroBatcher } from './batcher.ts';

describe('MicroBatcher', () => {
  it('runs requests that arrive together as one batch and hands each its own results', async () => {
    const runs: number[][] = [];
    const b = new MicroBatcher<number, number>(async (xs) => (runs.push(xs), xs.map((x) => x * 10)), 3, 1000);
    const out = await Promise.all([b.submit([1, 2]), b.submit([3]), b.submit([4, 5])]);
    expect(out).toEqual([[10, 20], [30], [40, 50]]);
    expect(runs).toEqual([[1, 2, 3, 4, 5]]);
  });

  it('flushes a partial batch when the window closes', async () => {
    const runs: number[][] = [];
    const b = new MicroBatcher<number, number>(async (xs) => (runs.push(xs), xs), 8, 5);
    expect(await b.submit([7])).toEqual([7]);
    expect(runs).toEqual([[7]]);
  });

  it('fails only the batch whose pass failed', async () => {
    let calls = 0;
    const b = new MicroBatcher<number, number>(async (xs) => {
      calls++;
      if (calls === 1) throw new Error('device lost');
      return xs;
    }, 2, 1000);
    const first = await Promise.allSettled([b.submit([1]), b.submit([2])]);
    expect(first.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect(await Promise.all([b.submit([3]), b.submit([4])])).toEqual([[3], [4]]);
  });
});
