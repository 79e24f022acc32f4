// face-api's FaceRecognitionNet (dlib's ResNet-34-like, 128-d descriptor) as an ONNX graph: a
// line-for-line copy of src/faceRecognitionNet/{FaceRecognitionNet,convLayer,residualLayer}.ts.
// Input: [N, 150, 150, 3] RGB in 0..255 (the aligned chip). Output: descriptor [N, 128].
import { Graph, channelVector, conv2d, toNCHW, tfOut, weight } from './graph.mjs';

export const RECOGNITION = { file: 'face_recognition_model.onnx', from: 'face_recognition_model', input: 150 };

export function buildRecognition(weights) {
  const g = new Graph('face_recognition_model', 'face-api FaceRecognitionNet, converted by facematch (models/onnx/recognition.mjs)');
  const S = RECOGNITION.input;
  const input = g.input('chips', ['N', S, S, 3]);
  const mean = g.floats([122.782, 117.001, 104.298], [3, 1, 1]);
  let x = g.node('Div', [g.node('Sub', [toNCHW(g, input), mean]), g.floats([255], [1])]);
  let size = [S, S];
  let channels = 3;

  const convLayer = (v, sz, prefix, stride, relu, padding) => {
    const filters = weight(weights, `${prefix}/conv/filters`);
    const bias = weight(weights, `${prefix}/conv/bias`);
    let [y, out] = conv2d(g, v, sz, filters, `${prefix}/conv/filters`, { name: `${prefix}/conv/bias`, data: bias.data }, { stride, padding });
    y = g.node('Mul', [y, channelVector(g, `${prefix}/scale/weights`, weight(weights, `${prefix}/scale/weights`).data)]);
    y = g.node('Add', [y, channelVector(g, `${prefix}/scale/biases`, weight(weights, `${prefix}/scale/biases`).data)]);
    return [relu ? g.node('Relu', [y]) : y, out, filters.shape[3]];
  };
  const residual = (prefix) => {
    const [a, s1] = convLayer(x, size, `${prefix}/conv1`, 1, true, 'same');
    const [b] = convLayer(a, s1, `${prefix}/conv2`, 1, false, 'same');
    x = g.node('Relu', [g.node('Add', [b, x])]);
  };
  const residualDown = (prefix) => {
    const [a, s1] = convLayer(x, size, `${prefix}/conv1`, 2, true, 'valid');
    let [b, s2, outChannels] = convLayer(a, s1, `${prefix}/conv2`, 1, false, 'same');
    let pooled = g.node('AveragePool', [x], { kernel_shape: [2, 2], strides: [2, 2] });
    const poolSize = [tfOut('valid', size[0], 2, 2), tfOut('valid', size[1], 2, 2)];
    // face-api pads the conv branch with a zero row and column when the pooled branch is larger.
    if (poolSize[0] !== s2[0] || poolSize[1] !== s2[1]) {
      b = g.node('Pad', [b, g.ints([0, 0, 0, 0, 0, 0, poolSize[0] - s2[0], poolSize[1] - s2[1]])]);
      s2 = poolSize;
    }
    // ... and the shortcut with zero channels when the conv branch is wider.
    if (outChannels !== channels) pooled = g.node('Pad', [pooled, g.ints([0, 0, 0, 0, 0, outChannels - channels, 0, 0])]);
    x = g.node('Relu', [g.node('Add', [pooled, b])]);
    size = s2;
    channels = outChannels;
  };

  [x, size, channels] = convLayer(x, size, 'conv32_down', 2, true, 'valid');
  x = g.node('MaxPool', [x], { kernel_shape: [3, 3], strides: [2, 2] });
  size = size.map((n) => tfOut('valid', n, 3, 2));
  for (const p of ['conv32_1', 'conv32_2', 'conv32_3']) residual(p);
  residualDown('conv64_down');
  for (const p of ['conv64_1', 'conv64_2', 'conv64_3']) residual(p);
  residualDown('conv128_down');
  for (const p of ['conv128_1', 'conv128_2']) residual(p);
  residualDown('conv256_down');
  for (const p of ['conv256_1', 'conv256_2']) residual(p);
  residualDown('conv256_down_out');

  const avg = g.node('Flatten', [g.node('GlobalAveragePool', [x])], { axis: 1 });
  const fc = weight(weights, 'fc');
  const descriptor = g.node('MatMul', [avg, g.init('fc', fc.data, fc.shape)]);
  g.output(descriptor, 'descriptor', ['N', 128]);
  return g.toBytes({ source: 'face_recognition_model' });
}
