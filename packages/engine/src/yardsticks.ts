import type * as TF from '@tensorflow/tfjs';
import { FaceMatchError, type ImageLabel } from '@facematch/contracts';
import { CHIP_SIZE } from './align.ts';
import { decodeImage, type ImageInput } from './decode.ts';
import { LANDMARK_INPUT, type FaceEngine } from './engine.ts';
import { countFlops } from './flops.ts';

/**
 * What the evaluation and the bench measure the engine against. Kept out of FaceEngine, which answers
 * requests: nothing here is on the request path.
 */

/**
 * face-api's own node-demo pipeline, kept as the yardstick our pipeline is measured against: SSD MobileNet v1
 * on the full-resolution image, 68 landmarks, descriptor of the unaligned crop, no letterboxing.
 * Its own threshold is 0.6 (REFERENCE_THRESHOLD), and it runs on tfjs's stock kernels.
 */
export function embedReference(engine: FaceEngine, input: ImageInput, image: ImageLabel): Promise<Float32Array> {
  const { tf, faceapi, kernels, limits } = engine.runtime();
  return kernels.stock(async () => {
    const img = await decodeImage(input, image, { ...limits, workMaxSide: Number.POSITIVE_INFINITY });
    const tensor = tf.tensor3d(img.data, [img.height, img.width, 3], 'int32');
    try {
      // The demo's own options: minConfidence 0.1, up to 10 faces; detectSingleFace keeps the most confident.
      const options = new faceapi.SsdMobilenetv1Options({ minConfidence: 0.1, maxResults: 10 });
      const found = await faceapi.detectSingleFace(tensor as never, options).withFaceLandmarks().withFaceDescriptor();
      if (!found) throw new FaceMatchError('NO_FACE', `no face found in ${image}`, { image });
      return found.descriptor;
    } finally {
      tensor.dispose();
    }
  });
}

/**
 * GFLOPs of one forward pass of each net at the sizes this pipeline feeds it, counted from the kernels
 * tfjs runs (tf.profile shapes): the measured basis of the GPU throughput estimate, not a timing.
 */
export async function gflopsPerPass(engine: FaceEngine): Promise<Record<'tiny224' | 'tiny416' | 'ssd512' | 'landmarks112' | 'recognition150', number>> {
  const { tf, faceapi } = engine.runtime();
  const { nets, TinyFaceDetectorOptions, SsdMobilenetv1Options } = faceapi;
  const on = async (size: number, fn: (t: TF.Tensor3D) => Promise<unknown>) => {
    const t = tf.fill([size, size, 3], 128, 'float32') as TF.Tensor3D;
    try {
      return Math.round((await countFlops(tf, () => fn(t))) / 1e6) / 1e3;
    } finally {
      t.dispose();
    }
  };
  return {
    tiny224: await on(224, (t) => nets.tinyFaceDetector.locateFaces(t as never, new TinyFaceDetectorOptions({ inputSize: 224 }))),
    tiny416: await on(416, (t) => nets.tinyFaceDetector.locateFaces(t as never, new TinyFaceDetectorOptions({ inputSize: 416 }))),
    ssd512: await on(512, (t) => nets.ssdMobilenetv1.locateFaces(t as never, new SsdMobilenetv1Options())),
    landmarks112: await on(LANDMARK_INPUT, (t) => nets.faceLandmark68Net.detectLandmarks(t as never)),
    recognition150: await on(CHIP_SIZE, (t) => nets.faceRecognitionNet.computeFaceDescriptor(t as never)),
  };
}
