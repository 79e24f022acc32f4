import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeWeights } from '@facematch/models/onnx';
import { FaceEngine } from '../engine.ts';
import { decodeImage, letterbox } from '../decode.ts';
import type { Detection } from '../nets.ts';
import { expectSameDetections, graphSession, readModelFile as read } from '../testing/detections.ts';
import { FIXTURES_DIR } from '../testing/images.ts';
import { SSD_INPUT, ssdAnchors, ssdDetections, type SsdOutputs } from './ssd.ts';

const N = 5118;

/** Raw outputs with every face logit far below any threshold and zero box encodings (box = anchor). */
function blank(): { boxes: Float32Array; scores: Float32Array; outputs: SsdOutputs } {
  const boxes = new Float32Array(N * 4);
  const scores = new Float32Array(N * 3).fill(-20);
  return { boxes, scores, outputs: { boxes: { data: boxes, dims: [1, N, 4] }, scores: { data: scores, dims: [1, N, 3] } } };
}
const logit = (p: number) => Math.log(p / (1 - p));

describe('ssdDetections on hand-made outputs', () => {
  it('regenerates the anchors face-api ships as Output/extra_dim', () => {
    const weights = decodeWeights(read('ssd_mobilenetv1_model-weights_manifest.json').toString('utf8'), (p) => read(p));
    const ref = weights.get('Output/extra_dim')!.data;
    const anchors = ssdAnchors();
    expect(anchors.length).toBe(ref.length);
    let max = 0;
    for (let i = 0; i < ref.length; i++) max = Math.max(max, Math.abs(anchors[i]! - ref[i]!));
    // An ulp or two of TF's float32 (its vectorised sqrt was not correctly rounded): 1e-4 px at 512.
    expect(max).toBeLessThan(2.5e-7);
  });

  it('decodes encodings against the anchors, clips to the input and reads column 1 as the face', () => {
    const { boxes, scores, outputs } = blank();
    // Anchor 0 (32×32 grid, cell 0, scale 0.1): centre 1/64, side 0.1. Shift down by half its height, double the height.
    boxes.set([5, 0, 5 * Math.log(2), 0], 0);
    scores[1] = logit(0.9);
    scores[0] = 20; // background and the third column are not the face score
    scores[2 * 3 + 2] = 20;
    const [d, ...rest] = ssdDetections(outputs, 0.4, 10);
    expect(rest).toEqual([]);
    expect(d!.score).toBeCloseTo(0.9, 6);
    // y: centre 0.015625 + 0.05, height 0.2 -> [-0.034375, 0.165625], clipped at 0; x: [-0.034375, 0.065625], clipped at 0.
    expect(d!.box.x).toBe(0);
    expect(d!.box.y).toBe(0);
    expect(d!.box.width).toBeCloseTo(0.065625 * SSD_INPUT, 3);
    expect(d!.box.height).toBeCloseTo(0.165625 * SSD_INPUT, 3);
  });

  it('suppresses overlaps above IoU 0.5 by falling score, honouring minScore and maxResults', () => {
    const { scores, outputs } = blank();
    const last = N - 6; // the 1×1 grid: [0.95 ar 1, 0.975 ar 1, 0.95 ar 2, 0.95 ar 0.5, 0.95 ar 3, 0.95 ar 1/3]
    scores[3 * last + 1] = logit(0.7); // [0.025, 0.975]^2
    scores[3 * (last + 1) + 1] = logit(0.8); // overlaps it by IoU 0.95: the lower of the two goes
    scores[3 * (last + 2) + 1] = logit(0.6); // ar 2, 0.67 tall and wider than the input: IoU 0.55 with either: suppressed
    scores[3 * 100 + 1] = logit(0.5); // a small anchor of the 32×32 grid (row 1, column 1): no overlap
    scores[3 * 1920 + 1] = logit(0.45); // another small one, mid-image
    scores[3 * 300 + 1] = logit(0.3); // under minScore
    const all = ssdDetections(outputs, 0.4, 10);
    expect(all.map((d) => Math.round(d.score * 100))).toEqual([80, 50, 45]);
    const big = all[0]!.box;
    expect(big.x).toBeCloseTo(0.0126603 * SSD_INPUT, 2);
    expect(big.width).toBeCloseTo((0.9873397 - 0.0126603) * SSD_INPUT, 2);
    expect(ssdDetections(outputs, 0.4, 2).map((d) => Math.round(d.score * 100))).toEqual([80, 50]);
    expect(ssdDetections(outputs, 0.25, 10).map((d) => Math.round(d.score * 100))).toEqual([80, 50, 45, 30]);
    // Without the 0.8 box, the 0.7 one is kept and the ar-2 box still overlaps it too much.
    scores[3 * (last + 1) + 1] = -20;
    expect(ssdDetections(outputs, 0.4, 10).map((d) => Math.round(d.score * 100))).toEqual([70, 50, 45]);
  });

  it('refuses outputs of another shape', () => {
    const { outputs } = blank();
    expect(() => ssdDetections({ ...outputs, scores: { data: new Float32Array(N * 2), dims: [1, N, 2] } }, 0.4, 10)).toThrow(/expected boxes/);
  });
});

describe('the ONNX SsdMobilenetv1 against face-api on tfjs-wasm', () => {
  let engine: FaceEngine;
  let session: ort.InferenceSession;
  beforeAll(async () => {
    engine = await FaceEngine.create({ backend: 'wasm', calibration: false });
    session = await graphSession('ssd_mobilenetv1_model');
  });
  afterAll(async () => {
    await session?.release();
  });

  async function both(rgb: Buffer, minScore: number, maxResults: number): Promise<{ ref: Detection[]; got: Detection[] }> {
    const { faceapi, tf } = engine.runtime();
    const input = tf.tensor3d(rgb, [SSD_INPUT, SSD_INPUT, 3], 'int32');
    let ref: Detection[];
    try {
      const found = await faceapi.nets.ssdMobilenetv1.locateFaces(input as never, new faceapi.SsdMobilenetv1Options({ minConfidence: minScore, maxResults }));
      ref = found.map((d) => ({ score: d.score, box: { x: d.box.x, y: d.box.y, width: d.box.width, height: d.box.height } }));
    } finally {
      input.dispose();
    }
    const image = new ort.Tensor('float32', Float32Array.from(rgb), [1, SSD_INPUT, SSD_INPUT, 3]);
    const out = await session.run({ image });
    const got = ssdDetections({ boxes: { data: out.boxes!.data as Float32Array, dims: out.boxes!.dims }, scores: { data: out.scores!.data as Float32Array, dims: out.scores!.dims } }, minScore, maxResults);
    return { ref, got };
  }


  const photos = ['person-a-1.jpg', 'person-a-2.jpg', 'person-b-1.jpg', 'group.jpg', 'no-face.jpg'];
  for (const name of photos) {
    it(`finds the same faces in ${name}, letterboxed as the engine does`, async () => {
      const img = await decodeImage(readFileSync(join(FIXTURES_DIR, name)), 'img1', engine.runtime().limits);
      let faces = 0;
      for (const margin of [0, 0.3]) {
        const lb = await letterbox(img, SSD_INPUT, margin);
        const { ref, got } = await both(lb.data, 0.4, 10);
        expectSameDetections(ref, got);
        faces += ref.length;
      }
      if (name === 'no-face.jpg') expect(faces).toBe(0);
      else expect(faces).toBeGreaterThan(0);
    });
  }

  it('agrees below the engine threshold too, where many more boxes reach the NMS (group.jpg)', async () => {
    const img = await decodeImage(readFileSync(join(FIXTURES_DIR, 'group.jpg')), 'img1', engine.runtime().limits);
    const { ref, got } = await both((await letterbox(img, SSD_INPUT, 0)).data, 0.05, 100);
    expect(ref.length).toBeGreaterThan(10);
    expectSameDetections(ref, got);
  });
});
