// Builds the ONNX graphs of the four face-api nets from face-api's own weight files. The graphs
// are the project's conversion of the pinned weights: nothing converted is downloaded or committed;
// stage.mjs writes them next to the weights and manifest.json pins their sha256.
import { decodeWeights } from './graph.mjs';
import { buildRecognition } from './recognition.mjs';
import { buildTinyFaceDetector } from './tiny.mjs';
import { buildSsdMobilenetv1 } from './ssd.mjs';
import { buildFaceLandmark68 } from './landmarks.mjs';

export { decodeWeights };
export { Graph } from './graph.mjs';

/** Each graph: its file, the face-api net it comes from, and its builder. */
export const GRAPHS = [
  { file: 'tiny_face_detector_model.onnx', from: 'tiny_face_detector_model', build: buildTinyFaceDetector },
  { file: 'ssd_mobilenetv1_model.onnx', from: 'ssd_mobilenetv1_model', build: buildSsdMobilenetv1 },
  { file: 'face_landmark_68_model.onnx', from: 'face_landmark_68_model', build: buildFaceLandmark68 },
  { file: 'face_recognition_model.onnx', from: 'face_recognition_model', build: buildRecognition },
];

/**
 * The graph of one net, from its weights manifest and shards as bytes (`read(file)`).
 * @param {string} from  the face-api net name, e.g. 'face_recognition_model'
 * @param {(file: string) => Uint8Array} read
 */
export function buildGraph(from, read) {
  const spec = GRAPHS.find((g) => g.from === from);
  if (!spec) throw new Error(`onnx: no converter for ${from}`);
  const weights = decodeWeights(Buffer.from(read(`${from}-weights_manifest.json`)).toString('utf8'), (p) => read(p));
  return spec.build(weights);
}
