import { describe, expect, it } from 'vitest';
import { ALIGN_INDICES, applySimilarity, chipTemplate, fitSimilarity, warpSimilarity } from './align.ts';

describe('fitSimilarity', () => {
  it('recovers a known rotation, scale and shift exactly', () => {
    const truth = { a: 2 * Math.cos(0.3), b: 2 * Math.sin(0.3), tx: 40, ty: -7 };
    const from = chipTemplate();
    const to = from.map((p) => applySimilarity(truth, p));
    const fit = fitSimilarity(from, to);
    for (const k of ['a', 'b', 'tx', 'ty'] as const) expect(fit[k]).toBeCloseTo(truth[k], 9);
  });

  it('uses dlib’s 33 alignment landmarks', () => {
    expect(ALIGN_INDICES).toHaveLength(33);
    expect(ALIGN_INDICES).not.toContain(17); // brows
    expect(ALIGN_INDICES).not.toContain(57); // lower lip
  });
});

describe('warpSimilarity', () => {
  const src = { width: 4, height: 2, data: Uint8Array.from({ length: 24 }, (_, i) => i * 10) };

  it('copies pixels under the identity', () => {
    expect([...warpSimilarity(src, { a: 1, b: 0, tx: 0, ty: 0 }, 4, 2)]).toEqual([...src.data]);
  });

  it('fills outside the source with grey', () => {
    expect([...warpSimilarity(src, { a: 1, b: 0, tx: 100, ty: 0 }, 1, 1)]).toEqual([128, 128, 128]);
  });

  it('averages when shrinking instead of skipping pixels', () => {
    const out = warpSimilarity(src, { a: 2, b: 0, tx: 0.5, ty: 0.5 }, 2, 1);
    // each output pixel is the mean of a 2x2 block
    const mean = (idx: number[]) => idx.reduce((s, i) => s + src.data[i]!, 0) / idx.length;
    expect(out[0]).toBeCloseTo(mean([0, 3, 12, 15]), 5);
  });
});
