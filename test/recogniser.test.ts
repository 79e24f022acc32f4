import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CalibrationSchema, VerifyResultSchema, type RecogniserDescriptor } from '@facematch/contracts';
import { TINY_RECOGNISER, installTinyRecogniser } from '@facematch/engine/testing/recogniser';
import { api, dataUri, postVerify } from './support/http.ts';
import { CLI_BIN, REPO_ROOT, datasetsDir, redisUrlForTests } from './support/env.ts';
import { startService, type Service } from './support/service.ts';

/**
 * The bring-your-own recogniser path end to end: `facematch calibrate` measures an operator's model on
 * real photos (LFW fold 1, 807 images), writes the calibration its descriptor names, and the service
 * then decides with that model and names it in results and GET /model. The model is the suite's own
 * tiny one (no licensed embedding model installs from npm), so only the plumbing is under test here,
 * not its accuracy.
 */
const run = promisify(execFile);
const datasets = datasetsDir();
const redisUrl = await redisUrlForTests();
const dir = mkdtempSync(join(tmpdir(), 'facematch-byo-'));
const descriptorPath = installTinyRecogniser(dir, { calibration: 'tiny.calibration.json' });
const descriptor = JSON.parse(readFileSync(descriptorPath, 'utf8')) as RecogniserDescriptor;
const env = { ...process.env, TF_BACKEND: 'onnx', FACEMATCH_RECOGNISER: descriptorPath };
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe.skipIf(!datasets || !redisUrl)('an operator recogniser, calibrated by facematch calibrate', () => {
  let svc: Service;
  let calibrated: ReturnType<typeof CalibrationSchema.parse>;

  beforeAll(async () => {
    const out = join(dir, 'tiny.calibration.json');
    const { stdout } = await run(process.execPath, [CLI_BIN, 'calibrate', '--set', join(datasets!, 'lfw-fold1'), '--out', out, '--jobs', '2'], { cwd: REPO_ROOT, env, maxBuffer: 1 << 24 });
    expect(stdout).toContain(`wrote ${out}`);
    calibrated = CalibrationSchema.parse(JSON.parse(readFileSync(out, 'utf8')));
    svc = await startService(redisUrl!, { workers: 1, env: { TF_BACKEND: 'onnx', FACEMATCH_RECOGNISER: descriptorPath } });
  }, 600_000);
  afterAll(async () => svc?.stop());

  it('writes a calibration bound to the model, measured on every pair of the set', () => {
    expect(calibrated.model).toMatchObject({ recognizer: TINY_RECOGNISER, weightsSha256: descriptor.sha256 });
    expect(calibrated.set.images).toBe(807);
    expect(calibrated.set.impostorPairs).toBeGreaterThan(300_000);
    const p = calibrated.policies;
    // Stricter points sit at smaller distances, and each holds its target on the set it was measured on.
    expect(p['fmr_1e-4'].threshold).toBeLessThan(p['fmr_1e-3'].threshold);
    expect(p['fmr_1e-3'].threshold).toBeLessThan(p['fmr_1e-2'].threshold);
    for (const name of ['fmr_1e-2', 'fmr_1e-3', 'fmr_1e-4'] as const) expect(p[name].fmr).toBeLessThanOrEqual(p[name].target);
  });

  it('decides /verify with it at those thresholds, and names it in the result and GET /model', async () => {
    expect(svc.workers[0]!.ready).toMatchObject({ backend: 'onnx' });
    const r = await postVerify(svc.baseUrl, { img1: dataUri('person-a-1.jpg'), img2: dataUri('person-a-2.jpg') });
    expect(r.status).toBe(200);
    const result = VerifyResultSchema.parse(r.body);
    expect(result.model).toMatchObject({ recognizer: TINY_RECOGNISER, backend: 'onnx' });
    expect(result.threshold).toBe(calibrated.policies['fmr_1e-3'].threshold);
    expect(result.mirrored).toBe(false);
    expect(result.verified).toBe(result.distance <= result.threshold);

    const model = await api(svc.baseUrl, 'GET', '/model');
    expect(model.status).toBe(200);
    expect(model.body.recogniser).toMatchObject({ name: TINY_RECOGNISER, distance: 'cosine', embedding: 588 });
    expect(model.body.calibration.policies['fmr_1e-3'].threshold).toBe(calibrated.policies['fmr_1e-3'].threshold);
  });
});
