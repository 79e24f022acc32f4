import { describe, expect, it } from 'vitest';
import { euclidean, inMirrorWindow, type DecisionPolicy, type Described } from '@facematch/engine';
import type { Embedded } from './embeddings.ts';
import { allPairs, boxDiffPx, compareRuntimes, formatComparison, listedPairs, type PairDistance, type RuntimeSide } from './runtimes.ts';

// Hand-made 2-d descriptors: distances are read off the coordinates, no nets run.
const box = { x: 10, y: 20, width: 100, height: 120 };
const face = (key: string, d: number[], mirror = d, b = box, score = 0.9): Embedded => ({ key, ok: true, descriptor: Float32Array.from(d), mirror: Float32Array.from(mirror), ms: 0, mirrorMs: 0, box: b, score });
const noFace = (key: string): Embedded => ({ key, ok: false, code: 'NO_FACE', ms: 0 });

const policies: DecisionPolicy[] = [
  { name: 'fmr_1e-2', threshold: 0.5, reviewUpTo: 0.6 },
  { name: 'fmr_1e-3', threshold: 0.45, reviewUpTo: 0.55 },
  { name: 'fmr_1e-4', threshold: 0.4, reviewUpTo: 0.5 },
];

// The engine's rule (FaceEngine.pairDistance with the mirror pass on): the averaged descriptors inside the window.
const pairDistance: PairDistance = async (a: Described, b: Described, p) => {
  const plain = euclidean(a.descriptor, b.descriptor);
  if (!inMirrorWindow(plain, p)) return { distance: plain, mirrored: false };
  const [ma, mb] = await Promise.all([a.mirrored(), b.mirrored()]);
  const avg = (x: Float32Array, y: Float32Array) => x.map((v, i) => (v + y[i]!) / 2);
  return { distance: euclidean(avg(a.descriptor, ma), avg(b.descriptor, mb)), mirrored: true };
};
const side = (faces: Record<string, Embedded>): RuntimeSide => ({ embedded: (id) => faces[id]!, distance: pairDistance, policies });

describe('compareRuntimes', () => {
  it('lists a pair whose decision flips between the runtimes, and not one that keeps its decision', async () => {
    const wasm = side({ a: face('a', [0, 0]), b: face('b', [0.48, 0]), c: face('c', [0, 0.2]), d: face('d', [3, 0]) });
    // b moves 0.04: its pair with a crosses 0.5 (match -> review under fmr_1e-2) and 0.5 again (review -> no_match
    // under fmr_1e-4), but stays in fmr_1e-3's review band; c and d move a little and decide the same everywhere.
    const onnx = side({ a: face('a', [0, 0]), b: face('b', [0.52, 0], [0.52, 0], { ...box, x: 12.5 }, 0.85), c: face('c', [0, 0.21]), d: face('d', [3, 0.001]) });
    const l = listedPairs([
      { img1: 'a', img2: 'b', same: true },
      { img1: 'a', img2: 'c', same: true },
      { img1: 'a', img2: 'd', same: false },
    ]);
    const c = await compareRuntimes({ name: 'hand', kind: 'pairs', images: l.images, pairs: l.pairs }, { wasm, onnx });

    expect(c.pairs).toEqual({ total: 3, genuine: 2, impostor: 1, scoredByBoth: 3 });
    expect(c.differingPairs).toBe(1);
    expect(c.differing).toHaveLength(1);
    const [flip] = c.differing;
    expect(flip).toMatchObject({ img1: 'a', img2: 'b', same: true, differs: ['fmr_1e-2', 'fmr_1e-4'] });
    expect(flip!.policies['fmr_1e-2']!.wasm).toMatchObject({ decision: 'match', mirrored: true });
    expect(flip!.policies['fmr_1e-2']!.wasm.distance).toBeCloseTo(0.48, 6);
    expect(flip!.policies['fmr_1e-2']!.onnx).toMatchObject({ decision: 'review', mirrored: true });
    expect(flip!.policies['fmr_1e-2']!.onnx.distance).toBeCloseTo(0.52, 6);
    // Every policy's outcomes are carried, the ones that agree too.
    expect(flip!.policies['fmr_1e-3']).toMatchObject({ wasm: { decision: 'review' }, onnx: { decision: 'review' } });
    expect(flip!.policies['fmr_1e-4']).toMatchObject({ wasm: { decision: 'review' }, onnx: { decision: 'no_match' } });
    expect(c.policies.map((p) => p.differing)).toEqual([1, 0, 1]);
    expect(c.policies[0]!.transitions).toEqual({ 'match -> review': 1, 'match -> match': 1, 'no_match -> no_match': 1 });

    expect(c.descriptorL2.max).toBeCloseTo(0.04, 6);
    expect(c.descriptorL2.maxImage).toBe('b');
    expect(c.mirrorL2.max).toBeCloseTo(0.04, 6);
    expect(c.boxPx).toMatchObject({ max: 2.5, maxImage: 'b', compared: 4, missing: 0 });
    expect(c.scoreDiff!.max).toBeCloseTo(0.05, 6);
    expect(c.acquisitionDisagreements).toEqual([]);
    expect(formatComparison(c).join('\n')).toMatch(/a {2}b {2}same\n\s+fmr_1e-2 +wasm 0\.4800m match +onnx 0\.5200m review/);
  });

  it('counts a NO_FACE on one runtime only as an acquisition disagreement, and its pairs as differing', async () => {
    const wasm = side({ a: face('a', [0, 0]), b: face('b', [0.1, 0]), c: face('c', [2, 0]) });
    const onnx = side({ a: face('a', [0, 0]), b: noFace('b'), c: face('c', [2, 0]) });
    const ids = ['p1/a', 'p1/b', 'p2/c'];
    const c = await compareRuntimes(
      { name: 'set', kind: 'set', images: ['a', 'b', 'c'], pairs: allPairs(ids.map((i) => i.split('/')[0]!)) },
      { wasm, onnx },
    );
    expect(c.pairs).toEqual({ total: 3, genuine: 1, impostor: 2, scoredByBoth: 1 });
    expect(c.failedToAcquire).toEqual({ wasm: 0, onnx: 1 });
    expect(c.acquisitionDisagreements).toEqual([{ image: 'b', wasm: 'ok', onnx: 'NO_FACE' }]);
    // a-b and b-c: every policy, on acquisition; a-c decides alike.
    expect(c.differing.map((p) => `${p.img1}-${p.img2}`)).toEqual(['a-b', 'b-c']);
    expect(c.differing[0]!.policies['fmr_1e-4']).toEqual({ wasm: { distance: expect.closeTo(0.1, 6), mirrored: false, decision: 'match' }, onnx: { distance: null, mirrored: false, decision: 'NO_FACE' } });
    expect(c.policies.every((p) => p.differing === 2 && p.differingAcquisition === 2 && p.differingScored === 0)).toBe(true);
    expect(c.descriptorL2.compared).toBe(2);
  });

  it('reports no difference for identical embeddings', async () => {
    const faces = { a: face('a', [0, 0]), b: face('b', [0.5, 0], [0.45, 0]) };
    const c = await compareRuntimes({ name: 'same', kind: 'set', images: ['a', 'b'], pairs: allPairs(['x', 'x']) }, { wasm: side(faces), onnx: side(faces) });
    expect(c.differingPairs).toBe(0);
    expect(c.descriptorL2).toMatchObject({ max: 0, p99: 0 });
    expect(c.boxPx!.max).toBe(0);
  });
});

describe('helpers', () => {
  it('allPairs gives every pair once, genuine within an identity', () => {
    const pairs = [...allPairs(['x', 'x', 'y'])];
    expect(pairs).toEqual([
      { i: 0, j: 1, same: true },
      { i: 0, j: 2, same: false },
      { i: 1, j: 2, same: false },
    ]);
  });

  it('boxDiffPx is the largest coordinate difference', () => {
    expect(boxDiffPx(box, { x: 11, y: 17, width: 100.5, height: 120 })).toBe(3);
  });
});
