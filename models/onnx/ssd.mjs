// face-api's SsdMobilenetv1 as an ONNX graph: a line-for-line copy of
// src/ssdMobilenetv1/{SsdMobilenetv1,mobileNetV1,pointwiseConvLayer,predictionLayer,boxPredictionLayer}.ts
// up to, not including, outputLayer. The anchor decoding, sigmoid and non-maximum suppression stay in
// TypeScript (packages/engine/src/onnx/ssd.ts), as in face-api they are plain arithmetic and loops.
// Input: image [1, 512, 512, 3] RGB in 0..255. Outputs, in face-api's anchor order (the order of
// Output/extra_dim): boxes [1, 5118, 4] raw box encodings (ty, tx, th, tw) and scores [1, 5118, 3]
// raw class logits (column 1 is the face logit).
import { Graph, channelVector, conv2d, depthwiseConv2d, toNCHW, weight } from './graph.mjs';

export const SSD = { file: 'ssd_mobilenetv1_model.onnx', from: 'ssd_mobilenetv1_model', input: 512, anchors: 5118 };

// mobileNetV1.ts's batch-norm epsilon (float32 0.001), kept as face-api spells it.
const EPSILON = 0.0010000000474974513;

export function buildSsdMobilenetv1(weights) {
  const g = new Graph('ssd_mobilenetv1_model', 'face-api SsdMobilenetv1, converted by facematch (models/onnx/ssd.mjs)');
  const S = SSD.input;
  const input = g.input('image', [1, S, S, 3]);
  // face-api normalises with div then sub (not the weights' Preprocessor/mul/x): the same two ops here.
  const x0 = g.node('Sub', [g.node('Div', [toNCHW(g, input), g.floats([127.5], [1])]), g.floats([1], [1])]);
  const zero = g.floats([0], []);
  const six = g.floats([6], []);
  const relu6 = (v) => g.node('Clip', [v, zero, six]);

  // pointwiseConvLayer: conv 'same' + batch_norm_offset, clipped to 0..6 (the offset is a conv bias).
  const pointwise = (v, size, prefix, stride) => {
    const offset = weight(weights, `${prefix}/convolution_bn_offset`);
    const [y, out] = conv2d(g, v, size, weight(weights, `${prefix}/weights`), `${prefix}/weights`, { name: `${prefix}/convolution_bn_offset`, data: offset.data }, { stride, padding: 'same' });
    return [relu6(y), out];
  };
  // depthwiseConvLayer: depthwise conv 'same', tf.batchNorm with moving mean/variance, clipped to 0..6.
  const depthwise = (v, size, prefix, stride) => {
    const [y, out] = depthwiseConv2d(g, v, size, weight(weights, `${prefix}/depthwise_weights`), `${prefix}/depthwise_weights`, undefined, { stride, padding: 'same' });
    const bn = (n) => {
      const w = weight(weights, `${prefix}/BatchNorm/${n}`);
      return g.init(`${prefix}/BatchNorm/${n}`, w.data, [w.data.length]);
    };
    const norm = g.node('BatchNormalization', [y, bn('gamma'), bn('beta'), bn('moving_mean'), bn('moving_variance')], { epsilon: EPSILON });
    return [relu6(norm), out];
  };

  // mobileNetV1: conv_0 at stride 2, then 13 depthwise/pointwise pairs, stride 2 at pairs 2, 4, 6, 12.
  let [x, size] = pointwise(x0, [S, S], 'MobilenetV1/Conv2d_0_pointwise', 2);
  let conv11;
  let conv11Size;
  for (let i = 1; i <= 13; i++) {
    const stride = [2, 4, 6, 12].includes(i) ? 2 : 1;
    [x, size] = depthwise(x, size, `MobilenetV1/Conv2d_${i}_depthwise`, stride);
    [x, size] = pointwise(x, size, `MobilenetV1/Conv2d_${i}_pointwise`, 1);
    if (i === 11) [conv11, conv11Size] = [x, size];
  }

  // predictionLayer: eight more pointwise layers, every second one at stride 2.
  const extra = [];
  let y = x;
  let ySize = size;
  for (let i = 0; i < 8; i++) {
    [y, ySize] = pointwise(y, ySize, `Prediction/Conv2d_${i}_pointwise`, i % 2 === 1 ? 2 : 1);
    extra.push([y, ySize]);
  }
  const sources = [[conv11, conv11Size], [x, size], extra[1], extra[3], extra[5], extra[7]];

  // boxPredictionLayer: 1x1 convs with bias, reshaped NHWC-wise to [N, H*W*anchors, 4] and [.., 3],
  // so the NCHW result goes back to NHWC before the reshape to keep face-api's anchor order.
  const predictor = (v, sz, prefix, width) => {
    const [c] = conv2d(g, v, sz, weight(weights, `${prefix}/weights`), `${prefix}/weights`, { name: `${prefix}/biases`, data: weight(weights, `${prefix}/biases`).data }, { stride: 1, padding: 'same' });
    return g.node('Reshape', [g.node('Transpose', [c], { perm: [0, 2, 3, 1] }), g.ints([1, -1, width])]);
  };
  const boxes = sources.map(([v, sz], i) => predictor(v, sz, `Prediction/BoxPredictor_${i}/BoxEncodingPredictor`, 4));
  const classes = sources.map(([v, sz], i) => predictor(v, sz, `Prediction/BoxPredictor_${i}/ClassPredictor`, 3));

  const anchors = sources.reduce((n, [, [h, w]], i) => n + h * w * (i === 0 ? 3 : 6), 0);
  if (anchors !== SSD.anchors || weight(weights, 'Output/extra_dim').shape[1] !== anchors) throw new Error(`onnx: ssd has ${anchors} anchors, expected ${SSD.anchors}`);
  g.output(g.node('Concat', boxes, { axis: 1 }), 'boxes', [1, anchors, 4]);
  g.output(g.node('Concat', classes, { axis: 1 }), 'scores', [1, anchors, 3]);
  return g.toBytes({ source: 'ssd_mobilenetv1_model' });
}
