import { execFile } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { VerifyResultSchema } from '@facematch/contracts';
import { CLI_BIN, FIXTURES, REPO_ROOT, datasetsDir } from './support/env.ts';

const run = promisify(execFile);

/** Runs the real `facematch` bin in its own process; resolves with the exit code instead of throwing. */
async function facematch(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [CLI_BIN, ...args], { cwd: REPO_ROOT, env: { ...process.env, TF_BACKEND: 'wasm' } });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

const fixture = (name: string) => join(FIXTURES, name);

describe('facematch verify', () => {
  it('exits 0 and prints the result when the faces match', async () => {
    const r = await facematch('verify', fixture('person-a-1.jpg'), fixture('person-a-2.jpg'));
    expect(r.code).toBe(0);
    const result = VerifyResultSchema.parse(JSON.parse(r.stdout));
    expect(result.verified).toBe(true);
    expect(result).toMatchObject({ decision: 'match', policy: 'fmr_1e-3' });
    expect(result.model.backend).toBe('wasm');
  });

  it('decides at the policy --policy names, and refuses an unknown one', async () => {
    const r = await facematch('verify', '--policy', 'fmr_1e-4', fixture('person-a-1.jpg'), fixture('person-a-2.jpg'));
    expect(JSON.parse(r.stdout).policy).toBe('fmr_1e-4');
    const bad = await facematch('verify', '--policy', 'fmr_1e-9', fixture('person-a-1.jpg'), fixture('person-a-2.jpg'));
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--policy must be one of fmr_1e-2, fmr_1e-3, fmr_1e-4');
  });

  it('exits 1 when they do not', async () => {
    const r = await facematch('verify', fixture('person-a-1.jpg'), fixture('person-b-1.jpg'));
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout).verified).toBe(false);
  });

  it('exits 2 with the error code on stderr', async () => {
    const r = await facematch('verify', fixture('person-a-1.jpg'), fixture('no-face.jpg'));
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^NO_FACE: no face found in img2/m);
    const bad = await facematch('verify', fixture('SOURCES.md'), fixture('person-b-1.jpg'));
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^UNSUPPORTED_FORMAT: img1/m);
  });
});

describe('facematch eval', () => {
  const dir = mkdtempSync(join(tmpdir(), 'facematch-eval-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('scores a labelled CSV, counting a no-face pair as a non-match', async () => {
    const csv = join(dir, 'pairs.csv');
    writeFileSync(
      csv,
      [
        'img1,img2,same,note',
        'person-a-1.jpg,person-a-2.jpg,1,curie',
        'person-a-1.jpg,person-b-1.jpg,0,',
        'person-b-1.jpg,no-face.jpg,false,',
        'person-b-1.jpg,no-face.jpg,true,',
      ].join('\n'),
    );
    const r = await facematch('eval', '--pairs', csv, '--root', FIXTURES, '--json');
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report).toMatchObject({ pairs: 4, images: 4, falseMatches: 0, falseNonMatches: 1, accuracy: 0.75, backend: 'wasm', failedPairs: 2 });
    expect(report.noFace).toEqual([{ image: resolve(FIXTURES, 'no-face.jpg'), code: 'NO_FACE' }]);
    for (const k of ['threshold', 'tpr', 'fpr', 'bestThreshold', 'bestAccuracy', 'msPerImage']) expect(typeof report[k]).toBe('number');
  });

  it('runtimes embeds the pairs on wasm and on onnx and finds them deciding alike', async () => {
    const r = await facematch('runtimes', '--pairs', join(dir, 'pairs.csv'), '--root', FIXTURES, '--jobs', '1', '--json');
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report.runtimes.wasm).toMatchObject({ backend: 'wasm', images: 4 });
    expect(report.runtimes.onnx).toMatchObject({ backend: 'onnx', images: 4 });
    expect(report.runtimes.wasm.fingerprint).not.toBe(report.runtimes.onnx.fingerprint);
    const [set] = report.sets;
    expect(set).toMatchObject({ kind: 'pairs', images: 4, failedToAcquire: { wasm: 1, onnx: 1 }, acquisitionDisagreements: [], differingPairs: 0 });
    expect(set.pairs).toEqual({ total: 4, genuine: 2, impostor: 2, scoredByBoth: 2 });
    expect(set.descriptorL2.compared).toBe(3);
    expect(set.descriptorL2.max).toBeLessThan(1e-3);
    expect(set.boxPx.max).toBeLessThan(1);
    expect(set.policies.map((p: { name: string; differing: number }) => [p.name, p.differing])).toEqual([['fmr_1e-2', 0], ['fmr_1e-3', 0], ['fmr_1e-4', 0]]);
  });

  it('--set scores every same-person pair as genuine and every cross-person pair as impostor, and writes the report', async () => {
    const set = join(dir, 'people');
    for (const [person, file] of [['curie', 'person-a-1.jpg'], ['curie', 'person-a-2.jpg'], ['collins', 'person-b-1.jpg'], ['nobody', 'no-face.jpg']]) {
      mkdirSync(join(set, person!), { recursive: true });
      copyFileSync(fixture(file!), join(set, person!, file!));
    }
    const html = join(dir, 'report.html');
    const r = await facematch('eval', '--set', set, '--impostors', 'all', '--json', '--report', html, '--jobs', '1');
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report).toMatchObject({ images: 4, failedToAcquire: 1, genuinePairs: 1, impostorPairs: 5, policy: 'fmr_1e-3', role: 'held-back' });
    expect(report.decisions).toEqual({ genuine: { match: 1, review: 0, no_match: 0 }, impostor: { match: 0, review: 0, no_match: 5 } });
    expect(report.fmr).toBe(0);
    expect(report.fnmrCi95[1]).toBeGreaterThan(0.9); // one genuine pair says little
    expect(report.operatingPoints.map((o: { supported: boolean }) => o.supported)).toEqual([false, false, false, false]);
    const page = readFileSync(html, 'utf8');
    expect(page).toContain("default-src 'none'");
    expect(page).toContain('<svg');
  });

  it('--set needs --impostors all, and calibrate refuses a set too small for its points', async () => {
    const r = await facematch('eval', '--set', join(dir, 'people'));
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--impostors all');
    const c = await facematch('calibrate', '--set', join(dir, 'people'), '--out', join(dir, 'cal.json'), '--jobs', '1');
    expect(c.code).toBe(2);
    expect(c.stderr).toContain('too few impostor pairs');
  });

  it('refuses a CSV without the img1,img2,same header', async () => {
    const csv = join(dir, 'bad.csv');
    writeFileSync(csv, 'a,b\nx,y\n');
    const r = await facematch('eval', '--pairs', csv);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('header must name img1,img2,same');
  });
});

const datasets = datasetsDir();
describe.skipIf(!datasets)('accuracy on the labelled datasets', () => {
  it('decides a sample of dev-pairs with no false match at the default policy', async () => {
    const lines = readFileSync(join(datasets!, 'dev-pairs.csv'), 'utf8').trim().split('\n');
    const [header, ...rows] = lines;
    // Every 12th pair: ~120 pairs from every set, same and different alike.
    const sample = rows.filter((_, i) => i % 12 === 0);
    const csv = join(mkdtempSync(join(tmpdir(), 'facematch-sample-')), 'sample.csv');
    writeFileSync(csv, [header, ...sample].join('\n'));
    const r = await facematch('eval', '--pairs', csv, '--root', datasets!, '--json');
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report.pairs).toBe(sample.length);
    expect(report.policy).toBe('fmr_1e-3');
    expect(report.genuinePairs + report.impostorPairs).toBe(sample.length);
    expect(report.falseMatches).toBe(0);
    expect(report.decisions.impostor.match).toBe(0);
    // Same-person pairs the default policy refuses outright, rather than sending to review: few.
    expect(report.decisions.genuine.no_match / report.genuinePairs).toBeLessThanOrEqual(0.03);
    expect(report.fmrCi95[0]).toBe(0);
    expect(report.fmrCi95[1]).toBeGreaterThan(0);
    expect(report.noFace).toEqual([]);
  });
});
