import type * as TF from '@tensorflow/tfjs';
import type * as FaceApi from '@vladmandic/face-api';
import type { Detection, Point, RuntimeNets } from './nets.ts';

const CHIP = 150;
const LANDMARKS = 112;

/** face-api's nets on a tfjs backend: the reference runtime, and the GPU path through tfjs-node-gpu. */
export class TfjsNets implements RuntimeNets {
  private readonly tf: typeof TF;
  private readonly faceapi: typeof FaceApi;

  /** Loads the four nets from the verified weight files (name → bytes). */
  constructor(b: { tf: typeof TF; faceapi: typeof FaceApi }, files: Map<string, Buffer>) {
    this.tf = b.tf;
    this.faceapi = b.faceapi;
    const nets = this.faceapi.nets;
    const load = (name: string, net: { loadFromWeightMap(m: never): void; isLoaded: boolean }) => {
      if (net.isLoaded) return;
      const groups = JSON.parse(files.get(`${name}-weights_manifest.json`)!.toString('utf8')) as TF.io.WeightsManifestConfig;
      const map: TF.NamedTensorMap = {};
      for (const g of groups) {
        const bytes = Buffer.concat(g.paths.map((p) => files.get(p)!));
        Object.assign(map, this.tf.io.decodeWeights(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength), g.weights));
      }
      net.loadFromWeightMap(map as never);
    };
    load('tiny_face_detector_model', nets.tinyFaceDetector);
    load('ssd_mobilenetv1_model', nets.ssdMobilenetv1);
    load('face_landmark_68_model', nets.faceLandmark68Net);
    load('face_recognition_model', nets.faceRecognitionNet);
  }

  async tinyFaces(rgb: Uint8Array, size: number, minScore: number): Promise<Detection[]> {
    const input = this.tf.tensor3d(rgb, [size, size, 3], 'int32');
    try {
      const found = await this.faceapi.nets.tinyFaceDetector.locateFaces(input as never, new this.faceapi.TinyFaceDetectorOptions({ inputSize: size, scoreThreshold: minScore }));
      return found.map(plain);
    } finally {
      input.dispose();
    }
  }

  async ssdFaces(rgb: Uint8Array, minScore: number, maxResults: number): Promise<Detection[]> {
    const input = this.tf.tensor3d(rgb, [512, 512, 3], 'int32');
    try {
      const found = await this.faceapi.nets.ssdMobilenetv1.locateFaces(input as never, new this.faceapi.SsdMobilenetv1Options({ minConfidence: minScore, maxResults }));
      return found.map(plain);
    } finally {
      input.dispose();
    }
  }

  async landmarks(crop: Float32Array): Promise<Point[]> {
    const input = this.tf.tensor3d(crop, [LANDMARKS, LANDMARKS, 3]);
    try {
      const lm = (await this.faceapi.nets.faceLandmark68Net.detectLandmarks(input as never)) as { relativePositions: Point[] };
      return lm.relativePositions.map((p) => ({ x: p.x, y: p.y }));
    } finally {
      input.dispose();
    }
  }

  /** One forward pass over any number of chips. */
  async descriptors(chips: Float32Array[]): Promise<Float32Array[]> {
    const inputs = chips.map((c) => this.tf.tensor3d(c, [CHIP, CHIP, 3]));
    try {
      const out = await this.faceapi.nets.faceRecognitionNet.computeFaceDescriptor(inputs as never);
      return out as Float32Array[];
    } finally {
      for (const t of inputs) t.dispose();
    }
  }

  /** Tensors alive in tfjs: the leak check of the tfjs path. */
  allocations(): number {
    return this.tf.memory().numTensors;
  }
}

function plain(d: { box: { x: number; y: number; width: number; height: number }; score: number }): Detection {
  return { box: { x: d.box.x, y: d.box.y, width: d.box.width, height: d.box.height }, score: d.score };
}
