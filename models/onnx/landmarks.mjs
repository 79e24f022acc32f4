// face-api's FaceLandmark68Net as an ONNX graph: a line-for-line copy of
// src/faceFeatureExtractor/{FaceFeatureExtractor,denseBlock}.ts, common/depthwiseSeparableConv.ts and
// the fully connected layer of faceProcessor/FaceProcessor.ts.
// Input: [N, 112, 112, 3] RGB in 0..255 (the square crop). Output: landmarks [N, 136], the fc layer's
// raw output (x0, y0, x1, y1, ... in 0..1 of the input); the post-processing is the engine's
// (packages/engine/src/onnx/landmarks.ts).
import { Graph, conv2d, depthwiseConv2d, toNCHW, tfOut, weight } from './graph.mjs';

export const LANDMARKS = { file: 'face_landmark_68_model.onnx', from: 'face_landmark_68_model', input: 112 };

export function buildFaceLandmark68(weights) {
  const g = new Graph('face_landmark_68_model', 'face-api FaceLandmark68Net, converted by facematch (models/onnx/landmarks.mjs)');
  const S = LANDMARKS.input;
  const input = g.input('crops', ['N', S, S, 3]);
  // FaceFeatureExtractor: normalize(x, meanRgb) then div(255), in that order so the float32 rounding matches.
  const mean = g.floats([122.782, 117.001, 104.298], [3, 1, 1]);
  let x = g.node('Div', [g.node('Sub', [toNCHW(g, input), mean]), g.floats([255], [1])]);
  let size = [S, S];

  const bias = (name) => ({ name, data: weight(weights, name).data });
  // depthwiseSeparableConv: tf.separableConv2d (depthwise with the stride, 'same'; then a 1x1
  // pointwise conv) plus the bias, which ONNX's Conv adds after the pointwise sum as tf.add does.
  const separable = (v, sz, prefix, stride) => {
    const [d, dSize] = depthwiseConv2d(g, v, sz, weight(weights, `${prefix}/depthwise_filter`), `${prefix}/depthwise_filter`, null, { stride, padding: 'same' });
    return conv2d(g, d, dSize, weight(weights, `${prefix}/pointwise_filter`), `${prefix}/pointwise_filter`, bias(`${prefix}/bias`), { stride: 1, padding: 'valid' });
  };
  // denseBlock4 (isScaleDown = true): each conv sees the relu of the sum of all earlier outputs.
  const denseBlock4 = (prefix, isFirstLayer) => {
    let out1;
    let s1;
    if (isFirstLayer) {
      [out1, s1] = conv2d(g, x, size, weight(weights, `${prefix}/conv0/filters`), `${prefix}/conv0/filters`, bias(`${prefix}/conv0/bias`), { stride: 2, padding: 'same' });
    } else {
      [out1, s1] = separable(x, size, `${prefix}/conv0`, 2);
    }
    out1 = g.node('Relu', [out1]);
    const [out2] = separable(out1, s1, `${prefix}/conv1`, 1);
    const in3 = g.node('Relu', [g.node('Add', [out1, out2])]);
    const [out3] = separable(in3, s1, `${prefix}/conv2`, 1);
    // tf.add(out1, tf.add(out2, out3)): the same association keeps the same rounding.
    const in4 = g.node('Relu', [g.node('Add', [out1, g.node('Add', [out2, out3])])]);
    const [out4] = separable(in4, s1, `${prefix}/conv3`, 1);
    x = g.node('Relu', [g.node('Add', [out1, g.node('Add', [out2, g.node('Add', [out3, out4])])])]);
    size = s1;
  };

  denseBlock4('dense0', true);
  denseBlock4('dense1', false);
  denseBlock4('dense2', false);
  denseBlock4('dense3', false);
  x = g.node('AveragePool', [x], { kernel_shape: [7, 7], strides: [2, 2] });
  size = size.map((n) => tfOut('valid', n, 7, 2));

  // face-api flattens the NHWC tensor (as2D(N, -1)) and fc/weights is [in, out] over that order, so
  // go back to NHWC first (a no-op in cost while the pooled map is 1x1, but right for any size).
  const flat = g.node('Flatten', [g.node('Transpose', [x], { perm: [0, 2, 3, 1] })], { axis: 1 });
  const fc = weight(weights, 'fc/weights');
  if (fc.shape[0] !== size[0] * size[1] * 256) throw new Error(`onnx: fc/weights expects ${fc.shape[0]} inputs, the extractor gives ${size[0] * size[1] * 256}`);
  const fcBias = weight(weights, 'fc/bias');
  const out = g.node('Add', [g.node('MatMul', [flat, g.init('fc/weights', fc.data, fc.shape)]), g.init('fc/bias', fcBias.data, [fcBias.data.length])]);
  g.output(out, 'landmarks', ['N', 136]);
  return g.toBytes({ source: 'face_landmark_68_model' });
}
