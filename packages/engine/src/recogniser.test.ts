import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FaceMatchError, type Calibration, type RecogniserDescriptor } from '@facematch/contracts';
import { calibrationPath } from '@facematch/models';
import { modelBinding } from '@facematch/models/calibration';
import { FaceEngine } from './engine.ts';
import { euclidean, feedChips, unitLength } from './recogniser.ts';
import { FIXTURES_DIR } from './testing/images.ts';
import { installTinyRecogniser } from './testing/recogniser.ts';

const dir = mkdtempSync(join(tmpdir(), 'facematch-recogniser-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const install = (overrides: Partial<RecogniserDescriptor> = {}, name?: string) => installTinyRecogniser(dir, overrides, name);

/** The shipped calibration's points, re-bound to the tiny model (a real one comes from `facematch calibrate`). */
function calibrationFor(descriptorPath: string): string {
  const cal = JSON.parse(readFileSync(calibrationPath, 'utf8')) as Calibration;
  const d = JSON.parse(readFileSync(descriptorPath, 'utf8')) as RecogniserDescriptor;
  const path = join(dir, 'tiny.calibration.json');
  writeFileSync(path, JSON.stringify({ ...cal, model: modelBinding(d) }));
  return path;
}

describe('feedChips', () => {
  it('reorders channels, scales and lays out as the descriptor says', () => {
    // One 16 px chip whose pixel p is (r, g, b) = (p, 100 + p, 200 - p).
    const chip = new Float32Array(16 * 16 * 3).map((_, i) => [Math.floor(i / 3), 100 + Math.floor(i / 3), 200 - Math.floor(i / 3)][i % 3]!);
    const base = { schema: 1 as const, name: 't', onnx: 't.onnx', sha256: 'a'.repeat(64), licence: 'x', alignment: 'dlib' as const, embedding: 4, distance: 'euclidean' as const };
    const nchw = feedChips([chip], { ...base, input: { size: 16, layout: 'nchw', colour: 'bgr', mean: [10, 0, 0], scale: [2, 1, 0.5] } });
    expect(nchw.dims).toEqual([1, 3, 16, 16]);
    expect([nchw.data[0], nchw.data[256], nchw.data[512]]).toEqual([(200 - 10) * 2, 100, 0 * 0.5]);
    expect(nchw.data[5]).toBe((200 - 5 - 10) * 2);
    const nhwc = feedChips([chip, chip], { ...base, input: { size: 16, layout: 'nhwc', colour: 'rgb', mean: [0, 0, 0], scale: [1, 1, 1] } });
    expect(nhwc.dims).toEqual([2, 16, 16, 3]);
    expect(Array.from(nhwc.data.subarray(15, 18))).toEqual([5, 105, 195]);
  });
});

describe('a plugged recogniser', () => {
  it('embeds with the operator model, names it, and decides by a calibration bound to it', async () => {
    const path = install();
    const engine = await FaceEngine.create({ backend: 'onnx', recogniser: path, calibration: calibrationFor(path) });
    const a1 = readFileSync(join(FIXTURES_DIR, 'person-a-1.jpg'));
    const a2 = readFileSync(join(FIXTURES_DIR, 'person-a-2.jpg'));
    const e = await engine.embed(a1, 'img1');
    expect(e.descriptor).toHaveLength(588);
    expect(euclidean(e.descriptor, unitLength(e.descriptor))).toBeLessThan(1e-6);
    expect(await e.mirrored()).toBe(e.descriptor); // no mirror pass for a model it was not measured on
    const r = await engine.verify(a1, a2);
    expect(r.model).toMatchObject({ recognizer: 'tiny_test_recogniser', backend: 'onnx', version: expect.stringContaining('+tiny_test_recogniser') });
    expect(r.mirrored).toBe(false);
    const b = await engine.embed(a2, 'img2');
    expect(r.distance).toBeCloseTo(euclidean(e.descriptor, b.descriptor), 5);
  });

  it('refuses the calibration of face-api ResNet, a missing calibration and altered model bytes', async () => {
    const path = install();
    await expect(FaceEngine.create({ backend: 'onnx', recogniser: path, calibration: calibrationPath })).rejects.toThrow(/belongs to another model/);
    await expect(FaceEngine.create({ backend: 'onnx', recogniser: path })).rejects.toMatchObject({ code: 'CALIBRATION_INVALID' });
    const altered = install({ sha256: 'b'.repeat(64) }, 'altered.json');
    const err = await FaceEngine.create({ backend: 'onnx', recogniser: altered, calibration: false }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FaceMatchError);
    expect(err).toMatchObject({ code: 'MODELS_INVALID', message: expect.stringContaining('sha256') });
  });

  it('runs on the onnx runtime only', async () => {
    const path = install();
    await expect(FaceEngine.create({ backend: 'wasm', recogniser: path, calibration: false })).rejects.toThrow(/onnx runtime only/);
  });
});
