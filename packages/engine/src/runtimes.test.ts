import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { isFaceMatchError } from '@facematch/contracts';
import { defaultModelsDir } from '@facematch/models';
import { fitSimilarity, warpSimilarity, type RgbImage } from './align.ts';
import { openRuntime, type OpenedRuntime } from './backend.ts';
import { FaceEngine, flipped, landmarkCrop, type FaceEmbedding } from './engine.ts';
import { euclidean, FACE_API_RESNET } from './recogniser.ts';
import { FIXTURES_DIR } from './testing/images.ts';

/**
 * The onnx runtime against the tfjs WASM one the calibration was measured on, on the committed fixture
 * photos: the bounds (descriptors within 1e-3 L2, detections within 1 px, the same decisions).
 * Measured here far inside them: descriptors about 1e-6 apart (L2), boxes a few millionths of a pixel;
 * the per-net tests in onnx/ go further.
 */
const DESCRIPTOR_L2 = 1e-3;
const BOX_PX = 1;
const PHOTOS = ['person-a-1.jpg', 'person-a-2.jpg', 'person-b-1.jpg', 'group.jpg', 'no-face.jpg'];

const photo = (name: string) => readFileSync(join(FIXTURES_DIR, name));
type Outcome = FaceEmbedding | { code: string };
async function embedOrCode(engine: FaceEngine, name: string): Promise<Outcome> {
  try {
    return await engine.embed(photo(name), 'img1');
  } catch (err) {
    if (!isFaceMatchError(err)) throw err;
    return { code: err.code };
  }
}

let wasm: FaceEngine;
let onnx: FaceEngine;
const embedded: Record<'wasm' | 'onnx', Map<string, Outcome>> = { wasm: new Map(), onnx: new Map() };

beforeAll(async () => {
  wasm = await FaceEngine.create({ backend: 'wasm' });
  onnx = await FaceEngine.create({ backend: 'onnx' });
  for (const name of PHOTOS) {
    embedded.wasm.set(name, await embedOrCode(wasm, name));
    embedded.onnx.set(name, await embedOrCode(onnx, name));
  }
});

describe('the onnx runtime against tfjs WASM on the fixture photos', () => {
  it('runs on the runtimes it was asked for', () => {
    expect(wasm.backend).toBe('wasm');
    expect(onnx.backend).toBe('onnx');
  });

  it('finds no face where WASM finds none, and the same subject within 1 px where it finds one', () => {
    let compared = 0;
    for (const name of PHOTOS) {
      const w = embedded.wasm.get(name)!;
      const o = embedded.onnx.get(name)!;
      if ('code' in w) {
        expect(o, name).toEqual(w);
        continue;
      }
      expect('code' in o, `${name}: onnx found no face`).toBe(false);
      const oe = o as FaceEmbedding;
      compared++;
      expect(oe.count, name).toBe(w.count);
      for (const k of ['x', 'y', 'width', 'height'] as const) expect(Math.abs(oe.box[k] - w.box[k]), `${name} box.${k}`).toBeLessThan(BOX_PX);
      expect(Math.abs(oe.score - w.score), name).toBeLessThan(1e-3);
      expect(euclidean(oe.descriptor, w.descriptor), name).toBeLessThan(DESCRIPTOR_L2);
    }
    expect(compared).toBe(4);
    expect(embedded.wasm.get('no-face.jpg')).toEqual({ code: 'NO_FACE' });
  });

  it('decides every pair of the fixtures alike under every policy, at distances within 1e-3', async () => {
    const faces = PHOTOS.filter((n) => !('code' in embedded.wasm.get(n)!));
    let pairs = 0;
    for (let i = 0; i < faces.length; i++) {
      for (let j = i + 1; j < faces.length; j++) {
        for (const name of ['fmr_1e-2', 'fmr_1e-3', 'fmr_1e-4'] as const) {
          const [w, o] = await Promise.all([wasm.verify(photo(faces[i]!), photo(faces[j]!), name), onnx.verify(photo(faces[i]!), photo(faces[j]!), name)]);
          const label = `${faces[i]} ~ ${faces[j]} at ${name}`;
          expect(o.decision, label).toBe(w.decision);
          expect(o.mirrored, label).toBe(w.mirrored);
          expect(Math.abs(o.distance - w.distance), label).toBeLessThan(1e-3);
          expect(o.model.backend).toBe('onnx');
          pairs++;
        }
      }
    }
    expect(pairs).toBe(18);
  });
});

describe('the recognition ResNet on the same chips', () => {
  let tfjsNets: OpenedRuntime;
  let onnxNets: OpenedRuntime;
  const chips: Float32Array[] = [];

  beforeAll(async () => {
    tfjsNets = await openRuntime('wasm', { modelsDir: defaultModelsDir });
    onnxNets = await openRuntime('onnx', { modelsDir: defaultModelsDir });
    // The engine's chips, built here so both runtimes see the very same pixels: the WASM subject box,
    // face-api's landmarks on the engine's crop, the dlib template; each chip and its mirror image.
    for (const name of PHOTOS.slice(0, 4)) {
      const e = embedded.wasm.get(name) as FaceEmbedding;
      const { data, info } = await sharp(photo(name)).removeAlpha().raw().toBuffer({ resolveWithObject: true });
      const img: RgbImage = { data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width: info.width, height: info.height };
      const { crop, toImage } = landmarkCrop(img, e.box);
      const points = toImage(await tfjsNets.nets.landmarks(crop));
      const { template, pick, chipSize } = FACE_API_RESNET;
      const chip = warpSimilarity(img, fitSimilarity(template, pick(points)), chipSize, chipSize);
      const mirror = flipped(chip, chipSize);
      chips.push(chip, mirror);
    }
  });

  it('gives descriptors within 1e-3 (L2) of face-api on tfjs, one chip at a time and as a batch', async () => {
    expect(chips).toHaveLength(8);
    const batch = await onnxNets.nets.descriptors(chips);
    for (const [k, chip] of chips.entries()) {
      const [w] = await tfjsNets.nets.descriptors([chip]);
      const [o] = await onnxNets.nets.descriptors([chip]);
      expect(o).toHaveLength(128);
      expect(euclidean(o!, w!), `chip ${k}`).toBeLessThan(DESCRIPTOR_L2);
      expect(euclidean(batch[k]!, o!), `chip ${k} in a batch`).toBeLessThan(1e-5);
    }
  });

  it('holds no output buffer between calls', async () => {
    await onnxNets.nets.descriptors(chips.slice(0, 2));
    expect(onnxNets.nets.allocations()).toBe(0);
  });
});
