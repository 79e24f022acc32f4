import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { countFlops } from './flops.ts';

describe('countFlops', () => {
  it('counts 2 FLOPs per multiply-accumulate of convolutions and matrix products, from their shapes', async () => {
    await tf.setBackend('cpu');
    const x = tf.zeros([1, 10, 10, 3]) as tf.Tensor4D;
    // 10x10x8 outputs, each 3x3x3 MACs.
    expect(await countFlops(tf, async () => tf.conv2d(x, tf.zeros([3, 3, 3, 8]) as tf.Tensor4D, 1, 'same').dispose())).toBe(2 * 800 * 27);
    // Depthwise: 10x10x3 outputs, each 3x3.
    expect(await countFlops(tf, async () => tf.depthwiseConv2d(x, tf.zeros([3, 3, 3, 1]) as tf.Tensor4D, 1, 'same').dispose())).toBe(2 * 300 * 9);
    // [4,5] x [5,6]: 24 outputs of 5 MACs, transposed or not.
    expect(await countFlops(tf, async () => tf.matMul(tf.zeros([4, 5]), tf.zeros([5, 6])).dispose())).toBe(2 * 24 * 5);
    expect(await countFlops(tf, async () => tf.matMul(tf.zeros([5, 4]), tf.zeros([5, 6]), true).dispose())).toBe(2 * 24 * 5);
    // Elementwise work is not counted.
    expect(await countFlops(tf, async () => tf.add(x, x).dispose())).toBe(0);
    x.dispose();
  });
});
