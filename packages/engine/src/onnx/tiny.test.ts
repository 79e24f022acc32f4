import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FaceEngine } from '../engine.ts';
import { decodeImage, letterbox } from '../decode.ts';
import type { Detection } from '../nets.ts';
import { expectSameDetections, graphSession } from '../testing/detections.ts';
import { FIXTURES_DIR } from '../testing/images.ts';
import { tinyDetections, tinyInput } from './tiny.ts';

const ANCHORS = [
  [1.603231, 2.094468],
  [6.041143, 7.080126],
  [2.882459, 3.518061],
  [4.266906, 5.178857],
  [9.041765, 10.66308],
] as const;
const logit = (p: number) => Math.log(p / (1 - p));

/** A hand-made 64 px grid (2×2 cells of 32 px), every anchor's score far below any threshold. */
function blankGrid(size = 64): { grid: Float32Array; dims: number[]; size: number } {
  const cells = size / 32;
  const grid = new Float32Array(cells * cells * 25);
  for (let i = 4; i < grid.length; i += 5) grid[i] = -20;
  return { grid, dims: [1, cells, cells, 25], size };
}
/** Encodes a box (input pixels: centre, width, height) and score into its cell's anchor slot. */
function put(g: { grid: Float32Array; size: number }, anchor: number, b: { cx: number; cy: number; w: number; h: number; score: number }) {
  const cells = g.size / 32;
  const col = Math.floor(b.cx / 32);
  const row = Math.floor(b.cy / 32);
  const [aw, ah] = ANCHORS[anchor]!;
  const at = ((row * cells + col) * 5 + anchor) * 5;
  g.grid.set([logit(b.cx / 32 - col), logit(b.cy / 32 - row), Math.log(((b.w / g.size) * cells) / aw), Math.log(((b.h / g.size) * cells) / ah), logit(b.score)], at);
}

describe('tinyDetections on a hand-made grid', () => {
  it('decodes tx, ty (sigmoid within the cell) and tw, th (times the anchor) to input pixels', () => {
    const g = blankGrid();
    put(g, 3, { cx: 40, cy: 50, w: 30, h: 44, score: 0.9 });
    const [d, ...rest] = tinyDetections(g.grid, g.dims, g.size, 0.4);
    expect(rest).toEqual([]);
    // The grid is float32, so the box is good to ~1e-5 px, not exactly.
    expect(d!.score).toBeCloseTo(0.9, 6);
    expect(d!.box.x).toBeCloseTo(25, 4);
    expect(d!.box.y).toBeCloseTo(28, 4);
    expect(d!.box.width).toBeCloseTo(30, 4);
    expect(d!.box.height).toBeCloseTo(44, 4);
    // The threshold is on the sigmoid of the score logit, strictly above minScore.
    expect(tinyDetections(g.grid, g.dims, g.size, 0.95)).toEqual([]);
    expect(tinyDetections(g.grid, g.dims, g.size, d!.score)).toEqual([]);
    expect(tinyDetections(g.grid, g.dims, g.size, d!.score - 1e-12)).toHaveLength(1);
  });

  it('suppresses overlaps above IoU 0.4 greedily by falling score; of equal scores the later cell goes first', () => {
    const g = blankGrid();
    const box = (cx: number, cy: number, score: number) => ({ cx, cy, w: 20, h: 20, score });
    put(g, 0, box(26, 26, 0.9)); // A
    put(g, 1, box(28, 26, 0.8)); // IoU 0.82 with A: suppressed
    put(g, 0, box(26 + 7.586, 26, 0.6)); // IoU 0.45 with A: suppressed at 0.4 (kept at 0.5, and would then suppress D)
    put(g, 1, box(26 + 9.63, 26, 0.5)); // D: IoU 0.35 with A: kept
    put(g, 2, box(16, 48, 0.7)); // two equal scores far from everything: row 1 col 1 comes after row 1 col 0
    put(g, 2, box(48, 48, 0.7));
    const found = tinyDetections(g.grid, g.dims, g.size, 0.4);
    expect(found.map((d) => [Math.round(d.score * 100), Math.round(d.box.x + d.box.width / 2)])).toEqual([
      [90, 26],
      [70, 48],
      [70, 16],
      [50, 36],
    ]);
    expect(tinyDetections(g.grid, g.dims, g.size, 0.75).map((d) => Math.round(d.score * 100))).toEqual([90]);
  });

  it('refuses a grid of another shape and face-api\'s invalid options', () => {
    const g = blankGrid();
    expect(() => tinyDetections(g.grid, g.dims, 96, 0.4)).toThrow(/expected grid/);
    expect(() => tinyDetections(g.grid, [1, 25, 2, 2], 64, 0.4)).toThrow(/expected grid/);
    expect(() => tinyDetections(g.grid, g.dims, 64, 0)).toThrow(/minScore/);
    expect(() => tinyDetections(g.grid, g.dims, 60, 0.4)).toThrow(/multiple of 32/);
    expect(() => tinyInput(new Uint8Array(10), 64)).toThrow(/bytes/);
  });
});

describe('the ONNX TinyFaceDetector against face-api on tfjs-wasm', () => {
  let engine: FaceEngine;
  let session: ort.InferenceSession;
  beforeAll(async () => {
    engine = await FaceEngine.create({ backend: 'wasm', calibration: false });
    session = await graphSession('tiny_face_detector_model');
  });
  afterAll(async () => {
    await session?.release();
  });

  const plain = (d: { score: number; box: { x: number; y: number; width: number; height: number } }): Detection => ({ score: d.score, box: { x: d.box.x, y: d.box.y, width: d.box.width, height: d.box.height } });

  async function both(rgb: Uint8Array, size: number, minScore: number): Promise<{ ref: Detection[]; got: Detection[] }> {
    const { faceapi, tf } = engine.runtime();
    const input = tf.tensor3d(rgb, [size, size, 3], 'int32');
    let ref: Detection[];
    try {
      const found = await faceapi.nets.tinyFaceDetector.locateFaces(input as never, new faceapi.TinyFaceDetectorOptions({ inputSize: size, scoreThreshold: minScore }));
      ref = found.map(plain);
    } finally {
      input.dispose();
    }
    const out = await session.run({ image: new ort.Tensor('float32', tinyInput(rgb, size), [1, size, size, 3]) });
    const got = tinyDetections(out.grid!.data as Float32Array, out.grid!.dims, size, minScore);
    return { ref, got };
  }


  it("decodes the hand-made grid exactly as face-api's own post-processing does", async () => {
    const { faceapi, tf } = engine.runtime();
    const g = blankGrid(96);
    put(g, 3, { cx: 40, cy: 50, w: 30, h: 44, score: 0.9 });
    put(g, 0, { cx: 44, cy: 52, w: 28, h: 40, score: 0.8 });
    put(g, 2, { cx: 80, cy: 20, w: 16, h: 20, score: 0.7 });
    put(g, 2, { cx: 16, cy: 80, w: 16, h: 20, score: 0.7 });
    put(g, 4, { cx: 70, cy: 70, w: 90, h: 90, score: 0.45 });
    // The real net with its forward pass replaced by the grid: extractBoxes, NMS and the box classes are face-api's.
    const net = Object.create(faceapi.nets.tinyFaceDetector) as typeof faceapi.nets.tinyFaceDetector;
    Object.assign(net, {
      // toBatchTensor also records the input size that extractBoxes' correction factors read.
      forwardInput: (netInput: { toBatchTensor(size: number, center: boolean): { dispose(): void } }, inputSize: number) => {
        netInput.toBatchTensor(inputSize, false).dispose();
        return tf.tensor4d(g.grid, g.dims as [number, number, number, number]);
      },
    });
    const input = tf.zeros([96, 96, 3], 'int32');
    try {
      const ref = (await net.locateFaces(input as never, new faceapi.TinyFaceDetectorOptions({ inputSize: 96, scoreThreshold: 0.4 }))).map(plain);
      expect(ref.length).toBe(4);
      expect(tinyDetections(g.grid, g.dims, 96, 0.4)).toEqual(ref);
    } finally {
      input.dispose();
    }
  });

  const photos = ['person-a-1.jpg', 'person-a-2.jpg', 'person-b-1.jpg', 'group.jpg', 'no-face.jpg'];
  // The engine's three tiny passes (engine.ts, DEFAULT tuning).
  const passes = [
    { size: 224, margin: 0.3 },
    { size: 256, margin: 0 },
    { size: 416, margin: 0 },
  ];
  for (const name of photos) {
    it(`finds the same faces in ${name} at each of the engine's passes`, async () => {
      const img = await decodeImage(readFileSync(join(FIXTURES_DIR, name)), 'img1', engine.runtime().limits);
      let faces = 0;
      for (const { size, margin } of passes) {
        const lb = await letterbox(img, size, margin);
        const { ref, got } = await both(lb.data, size, 0.4);
        expectSameDetections(ref, got);
        faces += ref.length;
      }
      // group.jpg's 29 faces are too small for the tiny detector at these sizes (the engine's SSD pass
      // finds them): its agreement there is on the empty result, and below the threshold in the next test.
      if (name === 'no-face.jpg' || name === 'group.jpg') expect(faces).toBe(0);
      else expect(faces).toBeGreaterThan(0);
    });
  }

  it('agrees far below the engine threshold too, where many more boxes reach the NMS', async () => {
    let found = 0;
    for (const name of ['group.jpg', 'person-b-1.jpg']) {
      const img = await decodeImage(readFileSync(join(FIXTURES_DIR, name)), 'img1', engine.runtime().limits);
      const { ref, got } = await both((await letterbox(img, 416, 0)).data, 416, 0.01);
      expectSameDetections(ref, got);
      found += ref.length;
    }
    expect(found).toBeGreaterThan(15);
  });

  it("takes any multiple of 32 on either side: the raw grid matches face-api's network on a 96×160 crop", async () => {
    const { faceapi, tf } = engine.runtime();
    const img = await decodeImage(readFileSync(join(FIXTURES_DIR, 'group.jpg')), 'img1', engine.runtime().limits);
    const lb = await letterbox(img, 160, 0);
    const crop = lb.data.subarray(32 * 160 * 3, 128 * 160 * 3); // rows 32..127: 96×160
    const net = faceapi.nets.tinyFaceDetector;
    // forwardInput without toBatchTensor's squaring: normalize, div(255), runMobilenet.
    const ref = tf.tidy(() => {
      const x = tf.sub(tf.tensor4d(Float32Array.from(crop), [1, 96, 160, 3]), tf.tensor1d([117.001, 114.697, 97.404])).div(255);
      // face-api bundles its own tfjs typings: the same tensor, another type.
      return net.runMobilenet(x as never, net.params as never) as unknown as ReturnType<typeof tf.zeros>;
    });
    try {
      const out = await session.run({ image: new ort.Tensor('float32', Float32Array.from(crop), [1, 96, 160, 3]) });
      expect(out.grid!.dims).toEqual(ref.shape);
      const want = ref.dataSync();
      const got = out.grid!.data as Float32Array;
      let max = 0;
      for (let i = 0; i < want.length; i++) max = Math.max(max, Math.abs(got[i]! - want[i]!));
      expect(max).toBeLessThan(1e-3);
    } finally {
      ref.dispose();
    }
  });
});
