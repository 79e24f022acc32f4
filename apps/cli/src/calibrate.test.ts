import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CalibrationSchema } from '@facematch/contracts';
import { Policies, loadCalibration } from '@facematch/engine';
import { buildCalibration, CalibrationSetError } from './calibrate.ts';
import { atPolicy, type ScoredSet } from './biometrics.ts';

// A sampled stand-in for the LFW calibration: a seeded generator, so the input is the same on every run.
function synthetic(seed: number, impostors: number, genuine: number): ScoredSet {
  let x = seed;
  const rand = () => ((x = (x * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const normal = (mu: number, sd: number) => mu + sd * Math.sqrt(-2 * Math.log(rand() + 1e-12)) * Math.cos(2 * Math.PI * rand());
  const make = (n: number, mu: number, sd: number) => {
    const plain = Float32Array.from({ length: n }, () => Math.max(0, normal(mu, sd)));
    // The mirror average moves a distance by a few hundredths.
    const fused = plain.map((d) => Math.max(0, d - 0.01 + 0.02 * rand()));
    return { plain, fused, failed: 0 };
  };
  return { genuine: make(genuine, 0.4, 0.08), impostor: make(impostors, 0.85, 0.1) };
}

const info = { sets: ['synthetic'], filesSha256: 'a'.repeat(64), images: 100, identities: 50, failedToAcquire: 0 };
const dir = mkdtempSync(join(tmpdir(), 'facematch-calibrate-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('buildCalibration', () => {
  it('is deterministic: the same pairs give the same bytes', () => {
    const a = JSON.stringify(buildCalibration(synthetic(7, 200_000, 2_000), info, 'cmd'));
    const b = JSON.stringify(buildCalibration(synthetic(7, 200_000, 2_000), info, 'cmd'));
    expect(a).toBe(b);
  });

  it('writes a file the engine accepts, whose points hold their FMR on the set they were measured on', () => {
    const scored = synthetic(11, 200_000, 2_000);
    const cal = buildCalibration(scored, info, 'facematch calibrate --set synthetic');
    expect(CalibrationSchema.parse(cal)).toEqual(cal);
    const path = join(dir, 'cal.json');
    writeFileSync(path, JSON.stringify(cal));
    const policies = new Policies(loadCalibration(path));
    for (const name of ['fmr_1e-2', 'fmr_1e-3', 'fmr_1e-4'] as const) {
      const p = cal.policies[name];
      expect(p.fmr).toBeLessThanOrEqual(p.target);
      expect(p.fmr).toBeGreaterThan(p.target / 2); // not needlessly strict
      const again = atPolicy(scored, policies.get(name));
      expect(again.fmr).toBeCloseTo(p.fmr, 6);
    }
    expect(cal.impostorCdf.counts.at(-1)).toBe(200_000);
  });

  it('refuses a set with too few impostor pairs for FMR 1e-4', () => {
    expect(() => buildCalibration(synthetic(3, 50_000, 500), info, 'cmd')).toThrow(CalibrationSetError);
  });
});
