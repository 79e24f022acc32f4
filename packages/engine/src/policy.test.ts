import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CalibrationSchema } from '@facematch/contracts';
import { calibrationPath } from '@facematch/models';
import { chooseSubject } from './engine.ts';
import { PIPELINE_VERSION, Policies, decide, loadCalibration, modelBinding } from '@facematch/models/calibration';

const dir = mkdtempSync(join(tmpdir(), 'facematch-cal-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const shipped = () => JSON.parse(readFileSync(calibrationPath, 'utf8'));
const write = (name: string, v: unknown) => {
  const p = join(dir, name);
  writeFileSync(p, typeof v === 'string' ? v : JSON.stringify(v));
  return p;
};

describe('the shipped calibration', () => {
  it('belongs to these weights and this pipeline, and orders its points strictest last', () => {
    const cal = loadCalibration(calibrationPath);
    expect(cal.model).toEqual(modelBinding());
    const p = cal.policies;
    expect(p['fmr_1e-2'].threshold).toBeGreaterThan(p['fmr_1e-3'].threshold);
    expect(p['fmr_1e-3'].threshold).toBeGreaterThan(p['fmr_1e-4'].threshold);
    for (const point of Object.values(p)) {
      expect(point.fmr).toBeLessThanOrEqual(point.target);
      expect(point.reviewUpTo).toBeGreaterThanOrEqual(point.threshold);
    }
    // The project's default is never looser than FMR 1e-3.
    expect(p[cal.default].target).toBeLessThanOrEqual(1e-3);
  });
});

describe('loadCalibration', () => {
  it('refuses a file made for another pipeline or other weights, naming what differs', () => {
    const other = shipped();
    other.model.pipeline = 'an-older-pipeline';
    other.model.weightsSha256 = '0'.repeat(64);
    const err = (() => {
      try {
        loadCalibration(write('other.json', other));
      } catch (e) {
        return e as Error & { code: string };
      }
    })();
    expect(err?.code).toBe('CALIBRATION_INVALID');
    expect(err?.message).toContain(`pipeline an-older-pipeline, engine has ${PIPELINE_VERSION}`);
    expect(err?.message).toContain('weightsSha256');
  });

  it('refuses a malformed or unreadable file', () => {
    const bad = shipped();
    delete bad.policies['fmr_1e-4'];
    expect(() => loadCalibration(write('bad.json', bad))).toThrow(/malformed: policies\.fmr_1e-4/);
    expect(() => loadCalibration(write('junk.json', '{not json'))).toThrow(/could not be read/);
    expect(() => loadCalibration(join(dir, 'missing.json'))).toThrow(/could not be read/);
  });
});

describe('Policies', () => {
  const cal = CalibrationSchema.parse(shipped());
  it('gives the named point, the default, or the expert override as `custom` without a review band', () => {
    const p = new Policies(cal);
    expect(p.get().name).toBe(cal.default);
    expect(p.get('fmr_1e-4')).toEqual({ name: 'fmr_1e-4', threshold: cal.policies['fmr_1e-4'].threshold, reviewUpTo: cal.policies['fmr_1e-4'].reviewUpTo });
    expect(new Policies(cal, { default: 'fmr_1e-2' }).get().name).toBe('fmr_1e-2');
    const custom = new Policies(cal, { thresholdOverride: 0.5 });
    expect(custom.get()).toEqual({ name: 'custom', threshold: 0.5, reviewUpTo: 0.5 });
    expect(custom.get('fmr_1e-3').name).toBe('fmr_1e-3'); // a request naming a point still gets it
  });

  it("reads a distance's FMR from the impostor CDF, rising with the distance", () => {
    const p = new Policies(cal);
    const t = cal.policies['fmr_1e-3'].threshold;
    // Read at the next grid point up, so at the threshold it is at least the measured FMR.
    expect(p.fmrAt(t)).toBeGreaterThanOrEqual(cal.policies['fmr_1e-3'].fmr);
    expect(p.fmrAt(t)).toBeLessThan(cal.policies['fmr_1e-2'].fmr);
    expect(p.fmrAt(0)).toBe(0);
    expect(p.fmrAt(0.3)).toBeLessThanOrEqual(p.fmrAt(0.5));
    // Past the last grid point: every scored impostor, out of all (pairs with a faceless photo never match).
    const { counts, total } = cal.impostorCdf;
    expect(p.fmrAt(5)).toBe(counts.at(-1)! / total);
    expect(p.fmrAt(5)).toBeGreaterThan(0.99);
  });

  it('decides match, review and no_match at the bounds', () => {
    const policy = { name: 'fmr_1e-3' as const, threshold: 0.5, reviewUpTo: 0.6 };
    expect([0.5, 0.50001, 0.6, 0.60001].map((d) => decide(d, policy))).toEqual(['match', 'review', 'review', 'no_match']);
  });
});

describe('chooseSubject', () => {
  const face = (width: number, score: number) => ({ box: { x: 0, y: 0, width, height: width }, score });
  it('lets no large, weak box beat a confident face, and picks the largest among confident ones', () => {
    // The stage photo of issue 13: a 760 px box at 0.43 on the shirt, the real 80 px face at 0.9.
    const shirt = face(760, 0.43);
    const real = face(80, 0.9);
    expect(chooseSubject([shirt, real], 'largest')).toBe(shirt);
    expect(chooseSubject([shirt, real], 'confident')).toBe(real);
    const near = face(200, 0.85);
    expect(chooseSubject([real, near, shirt], 'confident')).toBe(near);
    expect(chooseSubject([real, near], 'score')).toBe(real);
    expect(chooseSubject([], 'confident')).toBeUndefined();
  });
});
