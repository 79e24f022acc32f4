import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { defaultModelsDir } from '@facematch/models';
import { buildGraph } from '@facematch/models/onnx';
import type { RgbImage } from '../align.ts';
import { FaceEngine, LANDMARK_INPUT, landmarkCrop } from '../engine.ts';
import type { Point } from '../nets.ts';
import { FIXTURES_DIR } from '../testing/images.ts';
import { landmarkPositions } from './landmarks.ts';

// Every point within this fraction of the crop side of face-api's: 0.011 px of the 112 px crop. Measured
// here: 2.4e-7 on these crops, 1.8e-7 (2e-5 px) over 360 dataset photos; the margin is for other CPUs' kernels.
const TOLERANCE = 1e-4;
const S = LANDMARK_INPUT;

let engine: FaceEngine;
let session: ort.InferenceSession;
const crops: Float32Array[] = [];

async function rgb(name: string): Promise<RgbImage> {
  const { data, info } = await sharp(readFileSync(join(FIXTURES_DIR, name))).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width: info.width, height: info.height };
}

/** The engine's landmark crop: a square around the box, resampled to 112. */
const faceCrop = (img: RgbImage, box: { x: number; y: number; width: number; height: number }) => landmarkCrop(img, box).crop;

async function faceApi(crop: Float32Array): Promise<Point[]> {
  const { faceapi, tf } = engine.runtime();
  const input = tf.tensor3d(crop, [S, S, 3]);
  try {
    const lm = (await faceapi.nets.faceLandmark68Net.detectLandmarks(input as never)) as { relativePositions: Point[] };
    return lm.relativePositions.map((p) => ({ x: p.x, y: p.y }));
  } finally {
    input.dispose();
  }
}

async function onnx(batch: Float32Array[]): Promise<Point[][]> {
  const data = new Float32Array(batch.length * S * S * 3);
  batch.forEach((c, i) => data.set(c, i * S * S * 3));
  const feed = new ort.Tensor('float32', data, [batch.length, S, S, 3]);
  const out = await session.run({ crops: feed });
  const t = out.landmarks!;
  expect(t.dims).toEqual([batch.length, 136]);
  const values = Float32Array.from(t.data as Float32Array);
  feed.dispose();
  t.dispose();
  return batch.map((_, i) => landmarkPositions(values, i));
}

function maxDiff(a: Point[], b: Point[]): number {
  expect(a).toHaveLength(68);
  expect(b).toHaveLength(68);
  return Math.max(...a.map((p, i) => Math.max(Math.abs(p.x - b[i]!.x), Math.abs(p.y - b[i]!.y))));
}

beforeAll(async () => {
  engine = await FaceEngine.create({ backend: 'wasm', calibration: false });
  const bytes = buildGraph('face_landmark_68_model', (f) => readFileSync(join(defaultModelsDir, f)));
  session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1, interOpNumThreads: 1, graphOptimizationLevel: 'all' });

  // Realistic crops: face-api's tiny detector finds the faces, cropped as the engine crops them; plus
  // each photo's centre square, a crop the net was not meant for, to cover odd inputs too.
  const { faceapi, tf } = engine.runtime();
  for (const name of ['person-a-1.jpg', 'person-a-2.jpg', 'person-b-1.jpg', 'group.jpg']) {
    const img = await rgb(name);
    const t = tf.tensor3d(img.data, [img.height, img.width, 3], 'int32');
    try {
      const found = (await faceapi.nets.tinyFaceDetector.locateFaces(t as never, new faceapi.TinyFaceDetectorOptions({ inputSize: 608, scoreThreshold: 0.4 }))) as { box: { x: number; y: number; width: number; height: number } }[];
      for (const d of found.slice(0, 8)) crops.push(faceCrop(img, d.box));
    } finally {
      t.dispose();
    }
    const side = Math.min(img.width, img.height);
    crops.push(faceCrop(img, { x: (img.width - side) / 2, y: (img.height - side) / 2, width: side, height: side }));
  }
});

describe('face_landmark_68 as ONNX', () => {
  it('finds faces to crop in the fixtures', () => {
    expect(crops.length).toBeGreaterThanOrEqual(6);
  });

  it('gives face-api’s relative positions on every crop, one at a time', async () => {
    let worst = 0;
    for (const crop of crops) {
      const [got] = await onnx([crop]);
      worst = Math.max(worst, maxDiff(got!, await faceApi(crop)));
    }
    expect(worst).toBeLessThan(TOLERANCE);
  });

  it('gives the same points for a batch as one by one', async () => {
    const batch = await onnx(crops);
    for (let i = 0; i < crops.length; i++) {
      const [alone] = await onnx([crops[i]!]);
      expect(maxDiff(batch[i]!, alone!)).toBeLessThan(1e-6);
    }
  });
});
