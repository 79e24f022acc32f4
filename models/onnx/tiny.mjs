// face-api's TinyFaceDetector as an ONNX graph: a line-for-line copy of
// src/tinyYolov2/TinyYolov2Base.ts (forwardInput and runMobilenet, with TinyFaceDetector's config:
// separable convs, first layer a plain conv, filter sizes 3..512 so no conv6/conv7) and
// tinyYolov2/{depthwiseSeparableConv,leaky}.ts. The box decoding and non-maximum suppression
// (TinyYolov2Base.extractBoxes/detect) stay in TypeScript (packages/engine/src/onnx/tiny.ts).
// Input: image [1, H, W, 3] RGB in 0..255, H and W multiples of 32 (face-api's inputSize rule).
// Output: grid [1, H/32, W/32, 25], conv8's raw output in face-api's NHWC layout: per cell, 5 anchors
// of (tx, ty, tw, th, score logit).
import { Graph, conv2d, depthwiseConv2d, tfOut, tfPads, toNCHW, weight } from './graph.mjs';

export const TINY = { file: 'tiny_face_detector_model.onnx', from: 'tiny_face_detector_model', stride: 32 };

// tinyFaceDetector/const.ts
const MEAN_RGB = [117.001, 114.697, 97.404];
// leaky.ts multiplies by tf.scalar(0.10000000149011612), i.e. float32 0.1.
const LEAKY_ALPHA = 0.10000000149011612;
// runMobilenet's six tf.maxPool(out, [2, 2], stride, 'same'): five of stride 2, then one of stride 1.
const POOL_STRIDES = [2, 2, 2, 2, 2, 1];

/**
 * The explicit pads of the six 'same' max pools for an input side `n` (conv0 is 'valid', the
 * separable convs pad by one on every side, so the pools are the only size-dependent padding).
 */
function poolPads(n) {
  let side = n - 2; // conv0: 3x3 'valid'
  return POOL_STRIDES.map((stride) => {
    const pads = tfPads('same', side, side, 2, 2, stride);
    side = tfOut('same', side, 2, stride);
    return pads;
  });
}

/**
 * The graph takes any side that is a multiple of 32, so its pads must not depend on the side: with
 * n = 32k, conv0 leaves 32k - 2, the first pool 16k - 1 (odd: the second pool pads one at the bottom
 * and right), then 8k, 4k, 2k, k; the stride-1 pool always pads one at the bottom and right. Checked
 * here rather than trusted, for sides up to 8192.
 */
function constantPoolPads() {
  const ref = poolPads(TINY.stride);
  for (let n = 2 * TINY.stride; n <= 8192; n += TINY.stride) {
    if (JSON.stringify(poolPads(n)) !== JSON.stringify(ref)) throw new Error(`onnx: tiny max-pool pads differ at side ${n}`);
  }
  return ref;
}

export function buildTinyFaceDetector(weights) {
  const g = new Graph('tiny_face_detector_model', 'face-api TinyFaceDetector, converted by facematch (models/onnx/tiny.mjs)');
  const pools = constantPoolPads();
  const input = g.input('image', [1, 'H', 'W', 3]);
  // forwardInput: normalize(x, meanRgb) then div(255), in that order so the float32 rounding matches.
  let x = g.node('Div', [g.node('Sub', [toNCHW(g, input), g.floats(MEAN_RGB, [3, 1, 1])]), g.floats([255], [1])]);
  // The conv helpers want a side only to work out TF pads; the pads used here do not depend on it
  // (see constantPoolPads), so any multiple of 32 will do.
  const nominal = [416, 416];

  const bias = (name) => ({ name, data: weight(weights, name).data });
  // leaky.ts computes relu(x - 0.1x) + 0.1x. LeakyRelu(0.1) gives the same 0.1x below zero and x
  // instead of (x - 0.1x) + 0.1x above (at most an ulp apart, far below the convs' own summation-order
  // differences), and onnxruntime fuses it into the conv: half the time of the four ops at 416 px.
  const leaky = (v) => g.node('LeakyRelu', [v], { alpha: LEAKY_ALPHA });
  // tinyYolov2/depthwiseSeparableConv.ts: tf.pad by one, then tf.separableConv2d 'valid' (3x3
  // depthwise, 1x1 pointwise), plus the bias. A 3x3 stride-1 'same' conv pads by one on every side,
  // so 'same' here is exactly that zero padding.
  const separable = (v, prefix) => {
    const [d] = depthwiseConv2d(g, v, nominal, weight(weights, `${prefix}/depthwise_filter`), `${prefix}/depthwise_filter`, null, { stride: 1, padding: 'same' });
    const [p] = conv2d(g, d, nominal, weight(weights, `${prefix}/pointwise_filter`), `${prefix}/pointwise_filter`, bias(`${prefix}/bias`), { stride: 1, padding: 'valid' });
    return leaky(p);
  };
  // tf.maxPool 'same' pads with -inf, as ONNX MaxPool's pads do.
  const maxPool = (v, i) => g.node('MaxPool', [v], { kernel_shape: [2, 2], strides: [POOL_STRIDES[i], POOL_STRIDES[i]], pads: pools[i] });

  // runMobilenet with isFirstLayerConv2d: leaky(convLayer(x, conv0, 'valid')).
  [x] = conv2d(g, x, nominal, weight(weights, 'conv0/filters'), 'conv0/filters', bias('conv0/bias'), { stride: 1, padding: 'valid' });
  x = maxPool(leaky(x), 0);
  for (const [i, prefix] of ['conv1', 'conv2', 'conv3', 'conv4', 'conv5'].entries()) x = maxPool(separable(x, prefix), i + 1);
  // convLayer(out, conv8, 'valid'): 1x1, 512 -> 25, no activation.
  [x] = conv2d(g, x, nominal, weight(weights, 'conv8/filters'), 'conv8/filters', bias('conv8/bias'), { stride: 1, padding: 'valid' });
  // Back to NHWC so the grid reads as face-api's reshape([cells, cells, 5, 5]) does.
  const grid = g.node('Transpose', [x], { perm: [0, 2, 3, 1] });
  g.output(grid, 'grid', [1, 'GH', 'GW', 25]);
  return g.toBytes({ source: 'tiny_face_detector_model' });
}
