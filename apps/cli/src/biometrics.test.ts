import { describe, expect, it } from 'vitest';
import { atPolicy, clopperPearson, countAtOrBelow, decisionCounts, detCurve, operatingPoints, sorted, thresholdAtFmr, type PairClass } from './biometrics.ts';

const cls = (plain: number[], fused = plain, failed = 0): PairClass => ({ plain: Float32Array.from(plain), fused: Float32Array.from(fused), failed });

describe('clopperPearson', () => {
  it('matches published exact intervals', () => {
    // 0 of 1000: the upper bound is 1 - 0.025^(1/1000), the "rule of three" region.
    const [lo0, hi0] = clopperPearson(0, 1000);
    expect(lo0).toBe(0);
    expect(hi0).toBeCloseTo(1 - 0.025 ** (1 / 1000), 6);
    // 5 of 100: [0.0164, 0.1128] (e.g. R's binom.test(5, 100)).
    const [lo, hi] = clopperPearson(5, 100);
    expect(lo).toBeCloseTo(0.01643, 4);
    expect(hi).toBeCloseTo(0.11284, 4);
    expect(clopperPearson(100, 100)[1]).toBe(1);
  });

  it('stays tight and ordered for millions of trials', () => {
    const [lo, hi] = clopperPearson(2500, 2_500_000);
    expect(lo).toBeLessThan(1e-3);
    expect(hi).toBeGreaterThan(1e-3);
    expect(hi - lo).toBeLessThan(1.6e-4);
  });
});

describe('operating points', () => {
  // 10,000 impostors evenly spread over (0.5, 1.5]; 100 genuine over (0, 1].
  const impostor = cls(Array.from({ length: 10_000 }, (_, i) => 0.5 + (i + 1) / 10_000));
  const genuine = cls(Array.from({ length: 100 }, (_, i) => (i + 1) / 100));

  it('puts the threshold where at most the target share of impostors lies at or under it', () => {
    const imp = sorted(impostor.fused);
    const t = thresholdAtFmr(imp, 10_000, 1e-2)!;
    expect(countAtOrBelow(imp, t)).toBeLessThanOrEqual(100);
    expect(countAtOrBelow(imp, t + 2e-4)).toBeGreaterThan(100);
  });

  it('refuses a point the impostor pairs cannot support', () => {
    const ops = operatingPoints({ genuine, impostor }, [1e-2, 1e-3, 1e-4]);
    expect(ops.map((o) => o.supported)).toEqual([true, true, false]);
    expect(ops[2]).toMatchObject({ threshold: null, fnmr: null });
    expect(ops[0]!.threshold).toBeCloseTo(0.51, 3); // 100 impostors lie in (0.5, 0.51]
    expect(ops[0]!.fnmr).toBeCloseTo(0.49, 6); // the genuine pairs above it
  });

  it('draws a DET curve with FMR rising and FNMR falling', () => {
    const det = detCurve({ genuine, impostor });
    for (let i = 1; i < det.length; i++) {
      expect(det[i]!.fmr).toBeGreaterThan(det[i - 1]!.fmr);
      expect(det[i]!.fnmr).toBeLessThanOrEqual(det[i - 1]!.fnmr);
    }
  });
});

describe('decisions', () => {
  const policy = { name: 'fmr_1e-3' as const, threshold: 0.5, reviewUpTo: 0.6 };

  it('decides on the fused distance inside the mirror window and on the plain one outside, as /verify does', () => {
    // 0.52 plain, 0.49 fused: inside the window, so a match. 0.42 plain, 0.55 fused: outside, a match on plain.
    // 0.58 plain: review. 0.75 plain, 0.55 fused: past the window (0.6 + 0.11), so no_match on plain.
    const c = cls([0.52, 0.42, 0.58, 0.75], [0.49, 0.55, 0.58, 0.55], 2);
    expect(decisionCounts(c, policy)).toEqual({ match: 2, review: 1, no_match: 3 });
  });

  it('counts unscored pairs as non-matches in FNMR and never as false matches', () => {
    const r = atPolicy({ genuine: cls([0.3, 0.7], [0.3, 0.7], 1), impostor: cls([0.9, 0.45], [0.9, 0.45], 5) }, policy);
    expect(r.fnmr).toBeCloseTo(2 / 3, 9);
    expect(r.fmr).toBeCloseTo(1 / 7, 9);
    expect(r.decisions.impostor).toEqual({ match: 1, review: 0, no_match: 6 });
  });
});
