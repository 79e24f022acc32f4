/**
 * `facematch calibrate`: measures the named operating points on the calibration sets and writes the
 * calibration file the engine decides by. Deterministic: the same photos and engine give the same bytes.
 */
import { POLICY_NAMES, type Calibration, type ModelBinding, type PolicyName } from '@facematch/contracts';
import { modelBinding } from '@facematch/engine';
import { atPolicy, pairCount, sorted, thresholdAtFmr, type ScoredSet } from './biometrics.ts';

/** The FMR each named point is calibrated to. */
export const POLICY_TARGETS: Record<PolicyName, number> = { 'fmr_1e-2': 1e-2, 'fmr_1e-3': 1e-3, 'fmr_1e-4': 1e-4 };

/**
 * The review band of every point reaches the distance at which 1 calibration impostor pair in 50 would
 * pass: the pairs between a point's threshold and there are the ones a person should look at before the
 * onboarding goes on. Looser than every named point, so `review` never swallows a `match`.
 */
export const REVIEW_FMR = 2e-2;

/**
 * The default: the strictest point whose FNMR on the held-back folds stays practical for KYC, and never
 * looser than FMR 1e-3 (docs/accuracy.md has the measurements behind the choice).
 */
export const DEFAULT_POLICY: PolicyName = 'fmr_1e-3';

/** Grid of the impostor CDF that a result's `fmr` is read from. */
export const CDF_STEP = 0.001;

/** The set cannot support the named points: too few impostor pairs. */
export class CalibrationSetError extends Error {}

export interface CalibrationSetInfo {
  sets: string[];
  filesSha256: string;
  images: number;
  identities: number;
  failedToAcquire: number;
}

const r6 = (v: number) => Math.round(v * 1e6) / 1e6;
const r4 = (v: number) => Math.round(v * 1e4) / 1e4;
const sig = (v: number) => Number(v.toPrecision(6));

export function buildCalibration(scored: ScoredSet, info: CalibrationSetInfo, command: string, binding: ModelBinding = modelBinding()): Calibration {
  const imp = sorted(scored.impostor.fused);
  const nI = pairCount(scored.impostor);
  const at = (target: number) => {
    const t = thresholdAtFmr(imp, nI, target);
    if (t === null) throw new CalibrationSetError(`the calibration set has too few impostor pairs (${nI}) for FMR ${target}`);
    return t;
  };
  const reviewUpTo = at(REVIEW_FMR);
  const policies = Object.fromEntries(
    POLICY_NAMES.map((name) => {
      const threshold = at(POLICY_TARGETS[name]);
      const r = atPolicy(scored, { name, threshold, reviewUpTo });
      return [
        name,
        {
          target: POLICY_TARGETS[name],
          threshold,
          reviewUpTo,
          fmr: sig(r.fmr),
          fmrCi95: [sig(r.fmrCi95[0]), sig(r.fmrCi95[1])] as [number, number],
          fnmr: r6(r.fnmr),
          fnmrCi95: [r6(r.fnmrCi95[0]), r6(r.fnmrCi95[1])] as [number, number],
          genuineReview: r6(r.genuineReview),
        },
      ];
    }),
  ) as Calibration['policies'];
  const counts: number[] = [];
  for (let i = 1, k = 0; k < imp.length; i++) {
    const edge = r4(i * CDF_STEP);
    while (k < imp.length && imp[k]! <= edge) k++;
    counts.push(k);
  }
  return {
    schema: 1,
    model: binding,
    set: { ...info, genuinePairs: pairCount(scored.genuine), impostorPairs: nI },
    command,
    default: DEFAULT_POLICY,
    reviewFmr: REVIEW_FMR,
    policies,
    impostorCdf: { step: CDF_STEP, total: nI, counts },
  };
}
