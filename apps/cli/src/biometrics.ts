/**
 * Biometric error rates in ISO/IEC 19795-1 terms: FMR (impostor pairs decided match), FNMR (genuine pairs
 * not decided match), their 95% Clopper-Pearson intervals, and the distance thresholds of operating points.
 * Pure functions over distance arrays, so the pair loop over millions of pairs stays in typed arrays.
 */
import { decide, inMirrorWindow, type DecisionPolicy } from '@facematch/engine';
import type { Decision } from '@facematch/contracts';

// ---- Clopper-Pearson -------------------------------------------------------------------------------

function logGamma(x: number): number {
  // Lanczos approximation (g = 7, n = 9), accurate to ~1e-15 for x > 0.
  const c = [0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7];
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  x -= 1;
  let a = c[0]!;
  const t = x + 7.5;
  for (let i = 1; i < 9; i++) a += c[i]! / (x + i);
  return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(t) - t + Math.log(a);
}

/** Continued fraction of the incomplete beta function (modified Lentz). */
function betaCf(a: number, b: number, x: number): number {
  const tiny = 1e-300;
  let c = 1;
  let d = 1 - ((a + b) * x) / (a + 1);
  if (Math.abs(d) < tiny) d = tiny;
  d = 1 / d;
  let h = d;
  for (let m = 1; m <= 100_000; m++) {
    const m2 = 2 * m;
    let aa = (m * (b - m) * x) / ((a + m2 - 1) * (a + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    h *= d * c;
    aa = (-(a + m) * (a + b + m) * x) / ((a + m2) * (a + m2 + 1));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const del = d * c;
    h *= del;
    if (Math.abs(del - 1) < 1e-15) break;
  }
  return h;
}

/** The regularized incomplete beta function I_x(a, b). */
export function betaInc(x: number, a: number, b: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const lnFront = logGamma(a + b) - logGamma(a) - logGamma(b) + a * Math.log(x) + b * Math.log1p(-x);
  if (x < (a + 1) / (a + b + 2)) return (Math.exp(lnFront) * betaCf(a, b, x)) / a;
  return 1 - (Math.exp(lnFront) * betaCf(b, a, 1 - x)) / b;
}

/** x with I_x(a, b) = p, by bisection on log x (the rates of interest span many decades). */
function betaInv(p: number, a: number, b: number): number {
  let lo = -745; // log of the smallest double
  let hi = 0;
  for (let i = 0; i < 200; i++) {
    const mid = (lo + hi) / 2;
    if (betaInc(Math.exp(mid), a, b) < p) lo = mid;
    else hi = mid;
  }
  return Math.exp((lo + hi) / 2);
}

/** Exact (Clopper-Pearson) two-sided 95% interval of k errors in n trials. With k = 0, lo is 0. */
export function clopperPearson(k: number, n: number, alpha = 0.05): [number, number] {
  if (n === 0) return [0, 1];
  const lo = k === 0 ? 0 : betaInv(alpha / 2, k, n - k + 1);
  const hi = k === n ? 1 : betaInv(1 - alpha / 2, k + 1, n - k);
  return [lo, hi];
}

// ---- Scored pairs -----------------------------------------------------------------------------------

/**
 * One class of pairs (genuine or impostor): each scored pair's plain distance (the chips' descriptors)
 * and fused distance (the averages with the mirror images'), and how many pairs had a photo without a face.
 */
export interface PairClass {
  plain: Float32Array;
  fused: Float32Array;
  /** Pairs that could not be scored: never a match. */
  failed: number;
}
export interface ScoredSet {
  genuine: PairClass;
  impostor: PairClass;
}

export const pairCount = (c: PairClass) => c.plain.length + c.failed;

export type DecisionCounts = Record<Decision, number>;

/** What `/verify` answers for every pair of the class under `policy`, mirror window included. */
export function decisionCounts(c: PairClass, policy: DecisionPolicy): DecisionCounts {
  const out: DecisionCounts = { match: 0, review: 0, no_match: c.failed };
  for (let i = 0; i < c.plain.length; i++) {
    const plain = c.plain[i]!;
    out[decide(inMirrorWindow(plain, policy) ? c.fused[i]! : plain, policy)]++;
  }
  return out;
}

export interface PolicyResult {
  name: string;
  threshold: number;
  reviewUpTo: number;
  decisions: { genuine: DecisionCounts; impostor: DecisionCounts };
  fmr: number;
  fmrCi95: [number, number];
  fnmr: number;
  fnmrCi95: [number, number];
  /** Share of genuine pairs sent to review. */
  genuineReview: number;
}

export function atPolicy(s: ScoredSet, policy: DecisionPolicy): PolicyResult {
  const genuine = decisionCounts(s.genuine, policy);
  const impostor = decisionCounts(s.impostor, policy);
  const nG = pairCount(s.genuine);
  const nI = pairCount(s.impostor);
  const fnm = nG - genuine.match;
  return {
    name: policy.name,
    threshold: policy.threshold,
    reviewUpTo: policy.reviewUpTo,
    decisions: { genuine, impostor },
    fmr: nI ? impostor.match / nI : 0,
    fmrCi95: clopperPearson(impostor.match, nI),
    fnmr: nG ? fnm / nG : 0,
    fnmrCi95: clopperPearson(fnm, nG),
    genuineReview: nG ? genuine.review / nG : 0,
  };
}

const sortedCopies = new WeakMap<Float32Array, Float64Array>();
/** Sorted copy (ascending), made once per array: operating points, DET and calibration all read it. */
export function sorted(a: Float32Array): Float64Array {
  let s = sortedCopies.get(a);
  if (!s) sortedCopies.set(a, (s = Float64Array.from(a).sort()));
  return s;
}

/** How many values of the sorted array are <= t. */
export function countAtOrBelow(s: Float64Array, t: number): number {
  let lo = 0;
  let hi = s.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (s[mid]! <= t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * A point is supported when the set holds at least this many impostor pairs per allowed false match:
 * ten false matches at the point, so its FMR is not one or two lucky pairs.
 */
export const MIN_FALSE_MATCHES_AT_POINT = 10;

/**
 * The largest threshold, in steps of 1e-4, at which at most `target` of the impostor pairs (all of them,
 * unscored ones included) lie at or under it. Read on fused distances: near any threshold that is the
 * distance `/verify` decides on.
 */
export function thresholdAtFmr(impostorFused: Float64Array, impostorPairs: number, target: number): number | null {
  const allowed = Math.floor(target * impostorPairs + 1e-9);
  if (allowed < MIN_FALSE_MATCHES_AT_POINT || allowed >= impostorFused.length) return null;
  let t = Math.floor(impostorFused[allowed]! * 1e4) / 1e4;
  while (t > 0 && countAtOrBelow(impostorFused, t) > allowed) t = Math.round((t - 1e-4) * 1e4) / 1e4;
  return t;
}

export interface OperatingPoint {
  fmr: number;
  supported: boolean;
  threshold: number | null;
  /** FMR measured at the threshold (at most the target). */
  measuredFmr: number | null;
  fnmr: number | null;
  fnmrCi95: [number, number] | null;
}

export const OPERATING_FMRS = [1e-2, 1e-3, 1e-4, 1e-5] as const;

export function operatingPoints(s: ScoredSet, targets: readonly number[] = OPERATING_FMRS): OperatingPoint[] {
  const imp = sorted(s.impostor.fused);
  const gen = sorted(s.genuine.fused);
  const nI = pairCount(s.impostor);
  const nG = pairCount(s.genuine);
  return targets.map((fmr) => {
    const t = thresholdAtFmr(imp, nI, fmr);
    if (t === null) return { fmr, supported: false, threshold: null, measuredFmr: null, fnmr: null, fnmrCi95: null };
    const fnm = nG - countAtOrBelow(gen, t);
    return { fmr, supported: true, threshold: t, measuredFmr: countAtOrBelow(imp, t) / nI, fnmr: nG ? fnm / nG : 0, fnmrCi95: clopperPearson(fnm, nG) };
  });
}

/** The DET curve: FNMR against FMR at thresholds log-spaced in FMR from one impostor pair up. */
export function detCurve(s: ScoredSet, points = 80): { fmr: number; fnmr: number; threshold: number }[] {
  const imp = sorted(s.impostor.fused);
  const gen = sorted(s.genuine.fused);
  const nI = pairCount(s.impostor);
  const nG = pairCount(s.genuine);
  if (imp.length === 0 || nG === 0) return [];
  const out: { fmr: number; fnmr: number; threshold: number }[] = [];
  const lo = Math.log10(1 / nI);
  for (let i = 0; i <= points; i++) {
    const k = Math.min(imp.length, Math.max(1, Math.round(10 ** (lo + (i / points) * -lo) * nI)));
    const t = imp[k - 1]!;
    const fnmr = (nG - countAtOrBelow(gen, t)) / nG;
    const fmr = countAtOrBelow(imp, t) / nI;
    if (out.length === 0 || out[out.length - 1]!.fmr !== fmr) out.push({ fmr, fnmr, threshold: t });
  }
  return out;
}

/** Counts of fused distances in bins of `step` (bin i covers [i·step, (i+1)·step)). */
export function histogram(s: ScoredSet, step = 0.01, max = 1.6): { step: number; genuine: number[]; impostor: number[] } {
  const bins = Math.ceil(max / step);
  const count = (a: Float32Array) => {
    const h = new Array<number>(bins).fill(0);
    for (const d of a) h[Math.min(bins - 1, Math.floor(d / step))]!++;
    return h;
  };
  return { step, genuine: count(s.genuine.fused), impostor: count(s.impostor.fused) };
}
