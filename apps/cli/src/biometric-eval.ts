/**
 * The biometric evaluation of `facematch eval`: for each set, failure to acquire, FMR and FNMR at the
 * decision policy and at every named point with their intervals, FNMR at fixed FMRs, the DET curve and
 * the distance histograms. A set is `--set DIR` (every cross-person pair an impostor) or `--pairs FILE`.
 */
import { arch, cpus, platform, release, totalmem } from 'node:os';
import { POLICY_NAMES, type PolicyName } from '@facematch/contracts';
import { PIPELINE_VERSION, type DecisionPolicy, type FaceEngine } from '@facematch/engine';
import { manifest } from '@facematch/models';
import { atPolicy, detCurve, histogram, operatingPoints, pairCount, type OperatingPoint, type PolicyResult, type ScoredSet } from './biometrics.ts';
import type { ReportInput, ReportSet } from './report.ts';

/** One set's figures: what `--json` prints and the report draws, plus the per-policy detail. */
export interface BiometricBlock extends ReportSet {
  /** `calibration` when the calibration file names this set; its figures are then not a held-back estimate. */
  role: 'calibration' | 'held-back';
  /** Share of genuine pairs sent to review at the decision policy. */
  genuineReview: number;
  /** Every named point applied to this set. */
  policies: PolicyResult[];
  /** FNMR at FMR 1e-2 ... 1e-5 on this set's own impostor pairs. */
  operatingPoints: OperatingPoint[];
  det: { fmr: number; fnmr: number; threshold: number }[];
}

export function biometricBlock(
  name: string,
  images: number,
  failedToAcquire: number,
  scored: ScoredSet,
  engine: FaceEngine,
  policy: DecisionPolicy,
): BiometricBlock {
  const at = atPolicy(scored, policy);
  const calSets = engine.policies?.calibration.set.sets ?? [];
  return {
    name,
    role: calSets.some((c) => name.split(' + ').some((part) => overlaps(c, part))) ? 'calibration' : 'held-back',
    images,
    failedToAcquire,
    genuinePairs: pairCount(scored.genuine),
    impostorPairs: pairCount(scored.impostor),
    policy: at.name,
    threshold: at.threshold,
    reviewUpTo: at.reviewUpTo,
    decisions: at.decisions,
    fmr: at.fmr,
    fmrCi95: at.fmrCi95,
    fnmr: at.fnmr,
    fnmrCi95: at.fnmrCi95,
    genuineReview: at.genuineReview,
    policies: POLICY_NAMES.map((n: PolicyName) => atPolicy(scored, engine.policy(n))),
    operatingPoints: operatingPoints(scored),
    det: detCurve(scored),
    histogram: histogram(scored),
  };
}

/** Whether two set names (`lfw-folds2-5 folds 2,3` or `lfw-fold1`) share photos: the same folder, and a fold in common. */
export function overlaps(a: string, b: string): boolean {
  const parse = (n: string) => {
    const m = /^(.*?)(?: folds ([\d,]+))?$/.exec(n)!;
    return { dir: m[1]!, folds: m[2]?.split(',') };
  };
  const x = parse(a);
  const y = parse(b);
  return x.dir === y.dir && (!x.folds || !y.folds || x.folds.some((f) => y.folds!.includes(f)));
}

const pct = (v: number) => `${(v * 100).toFixed(v < 0.001 ? 4 : 2)}%`;
const rate = (v: number) => (v === 0 ? '0' : v < 1e-2 ? v.toExponential(2) : pct(v));
const ci = (c: [number, number]) => `[${rate(c[0])}, ${rate(c[1])}]`;

export function formatBlock(b: BiometricBlock): string[] {
  const d = b.decisions;
  return [
    `${b.name} (${b.role}): ${b.images} images, ${b.failedToAcquire} failed to acquire; ${b.genuinePairs} genuine, ${b.impostorPairs} impostor pairs`,
    `  policy ${b.policy}: match at distance <= ${b.threshold}, review <= ${b.reviewUpTo}`,
    `    FMR  ${rate(b.fmr)} ${ci(b.fmrCi95)}   (impostor match ${d.impostor.match}, review ${d.impostor.review}, no_match ${d.impostor.no_match})`,
    `    FNMR ${rate(b.fnmr)} ${ci(b.fnmrCi95)}   (genuine match ${d.genuine.match}, review ${d.genuine.review}, no_match ${d.genuine.no_match})`,
    `    genuine no_match ${pct(b.genuinePairs ? d.genuine.no_match / b.genuinePairs : 0)}, genuine review ${pct(b.genuineReview)}`,
    `  named points on this set:`,
    ...b.policies.map((p) => `    ${p.name.padEnd(9)} t=${p.threshold.toFixed(4)}  FMR ${rate(p.fmr).padEnd(9)} ${ci(p.fmrCi95).padEnd(22)} FNMR ${rate(p.fnmr).padEnd(7)} ${ci(p.fnmrCi95)}`),
    `  FNMR at fixed FMR (this set's own impostors):`,
    ...b.operatingPoints.map((o) =>
      o.supported
        ? `    FMR ${o.fmr.toExponential(0)}  t=${o.threshold!.toFixed(4)}  FNMR ${rate(o.fnmr!)} ${ci(o.fnmrCi95!)}`
        : `    FMR ${o.fmr.toExponential(0)}  too few impostor pairs (${b.impostorPairs}) to support this point`,
    ),
  ];
}

/** The system under test, for the report. */
export function systemUnderTest(engine: FaceEngine): ReportInput['system'] {
  const cal = engine.policies?.calibration;
  return {
    engineVersion: engine.version,
    pipeline: PIPELINE_VERSION,
    backend: engine.backend,
    detector: engine.detector,
    machine: { cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length, memoryGiB: Math.round(totalmem() / 2 ** 30), os: `${platform()} ${release()} ${arch()}`, node: process.version },
    models: manifest.files.map((f) => ({ file: f.file, bytes: f.bytes, sha256: f.sha256 })),
    calibration: cal ? { sets: cal.set.sets, filesSha256: cal.set.filesSha256, images: cal.set.images, genuinePairs: cal.set.genuinePairs, impostorPairs: cal.set.impostorPairs } : null,
  };
}
