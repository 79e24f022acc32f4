export interface ScoredPair {
  same: boolean;
  /** Undefined when a face could not be found in either image: counted as a non-match. */
  distance: number | undefined;
}

export interface Metrics {
  pairs: number;
  accuracy: number;
  tpr: number;
  fpr: number;
  falseMatches: number;
  falseNonMatches: number;
}

export function metricsAt(pairs: readonly ScoredPair[], threshold: number): Metrics {
  let tp = 0, fp = 0, tn = 0, fn = 0;
  for (const p of pairs) {
    const match = p.distance !== undefined && p.distance <= threshold;
    if (p.same && match) tp++;
    else if (p.same) fn++;
    else if (match) fp++;
    else tn++;
  }
  const n = pairs.length;
  return {
    pairs: n,
    accuracy: n ? (tp + tn) / n : 0,
    tpr: tp + fn ? tp / (tp + fn) : 0,
    fpr: fp + tn ? fp / (fp + tn) : 0,
    falseMatches: fp,
    falseNonMatches: fn,
  };
}

/** The threshold with the best accuracy, sweeping every midpoint between observed distances. */
export function bestThreshold(pairs: readonly ScoredPair[]): { threshold: number; accuracy: number } {
  const ds = [...new Set(pairs.flatMap((p) => (p.distance === undefined ? [] : [p.distance])))].sort((a, b) => a - b);
  const candidates = [0, ...ds.map((d, i) => (i + 1 < ds.length ? (d + ds[i + 1]!) / 2 : d + 1e-6))];
  let best = { threshold: 0, accuracy: -1 };
  for (const t of candidates) {
    const { accuracy } = metricsAt(pairs, t);
    if (accuracy > best.accuracy) best = { threshold: t, accuracy };
  }
  return best;
}
