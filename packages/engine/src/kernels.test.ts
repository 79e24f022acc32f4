import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type * as TF from '@tensorflow/tfjs';
import { loadBackend, type LoadedBackend } from './backend.ts';
import { FaceEngine } from './engine.ts';
import { FIXTURES_DIR } from './testing/images.ts';

let b: LoadedBackend;
let tf: typeof TF;
beforeAll(async () => {
  b = await loadBackend('wasm');
  tf = b.tf;
});

/** The same concat through our kernel and through the stock one, as plain arrays. */
async function both(make: () => TF.Tensor[], axis: number) {
  const run = () => {
    const xs = make();
    const out = tf.concat(xs, axis);
    const r = { shape: out.shape, dtype: out.dtype, values: Array.from(out.dataSync() as ArrayLike<number>) };
    tf.dispose([...xs, out]);
    return r;
  };
  return { ours: run(), stock: await b.kernels.stock(async () => run()) };
}

// Deterministic, distinct values so a misplaced element cannot go unnoticed.
const seq = (shape: number[], start: number, dtype: 'float32' | 'int32' | 'bool' = 'float32') => {
  const n = shape.reduce((a, c) => a * c, 1);
  const vals = Array.from({ length: n }, (_, i) => (dtype === 'bool' ? (i + start) % 3 === 0 : dtype === 'int32' ? start + i : start + i * 0.5));
  return tf.tensor(vals as never, shape, dtype);
};

describe('the WASM Concat kernel', () => {
  it('is the one registered for the wasm backend', () => {
    expect(tf.getBackend()).toBe('wasm');
    expect(tf.getKernel('Concat', 'wasm')!.kernelFunc.name).toBe('fast');
  });

  const cases: [string, number[][], number][] = [
    ['three planes on the last axis, as face-api normalize does', [[4, 5, 6, 1], [4, 5, 6, 1], [4, 5, 6, 1]], 3],
    ['channel padding, as the recognition net does', [[2, 3, 3, 32], [2, 3, 3, 32]], 3],
    ['rows longer than the short-row cut', [[3, 70], [3, 130]], 1],
    ['uneven widths on a middle axis', [[2, 1, 4], [2, 3, 4], [2, 2, 4]], 1],
    ['the first axis', [[2, 3], [5, 3]], 0],
    ['a negative axis', [[2, 2, 3], [2, 2, 5]], -1],
    ['an empty input among others', [[2, 0], [2, 3], [2, 1]], 1],
  ];
  for (const [name, shapes, axis] of cases) {
    it(`matches the stock kernel: ${name}`, async () => {
      const { ours, stock } = await both(() => shapes.map((s, i) => seq(s, 1000 * i)), axis);
      expect(ours).toEqual(stock);
      expect(ours.values.length).toBe(ours.shape.reduce((a, c) => a * c, 1));
    });
  }

  it('matches the stock kernel on int32 and bool, and on a single input', async () => {
    for (const dtype of ['int32', 'bool'] as const) {
      const { ours, stock } = await both(() => [seq([3, 4, 1], 1, dtype), seq([3, 4, 2], 7, dtype)], 2);
      expect(ours).toEqual(stock);
      expect(ours.dtype).toBe(dtype);
    }
    const single = await both(() => [seq([2, 3], 5)], 1);
    expect(single.ours).toEqual(single.stock);
  });

  it('leaves descriptors of a real photo unchanged, bit for bit', async () => {
    const engine = await FaceEngine.create({ backend: 'wasm' });
    const photo = readFileSync(join(FIXTURES_DIR, 'person-a-1.jpg'));
    const ours = await engine.embed(photo, 'img1');
    const stock = await b.kernels.stock(() => engine.embed(photo, 'img1'));
    expect(Array.from(ours.descriptor)).toEqual(Array.from(stock.descriptor));
    expect(ours.box).toEqual(stock.box);
  });
});
