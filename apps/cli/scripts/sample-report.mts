/**
 * Writes a sample evaluation report from synthetic distances, to look at the page without a data set:
 *   tsx apps/cli/scripts/sample-report.mts OUT.html
 * Distances are drawn from normal distributions shaped like the real ones (genuine near 0.4, impostor near
 * 0.8); intervals are Clopper-Pearson, as in a real report. Nothing here is a result.
 */
import { writeFileSync } from 'node:fs';
import { clopperPearson, countAtOrBelow } from '../src/biometrics.ts';
import { renderReport, type ReportInput, type ReportSet } from '../src/report.ts';

const out = process.argv[2] ?? 'sample-report.html';

// Seeded, so the sample is the same on every run.
let seed = 0x9e3779b9;
function uniform(): number {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const normal = (mu: number, sd: number) => mu + sd * Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform());
const draw = (n: number, mu: number, sd: number) => Float64Array.from({ length: n }, () => Math.max(0, normal(mu, sd))).sort();


const POLICIES = [
  { name: 'fmr_1e-2', threshold: 0.6312, reviewUpTo: 0.6312 },
  { name: 'fmr_1e-3', threshold: 0.5731, reviewUpTo: 0.6312 },
  { name: 'fmr_1e-4', threshold: 0.5215, reviewUpTo: 0.5731 },
];

function makeSet(o: { name: string; role: ReportSet['role']; images: number; fta: number; gen: number; imp: number; g: [number, number]; i: [number, number]; policy: number }): ReportSet {
  const gen = draw(o.gen, ...o.g);
  const imp = draw(o.imp, ...o.i);
  const nG = gen.length;
  const nI = imp.length;
  const policies = POLICIES.map((p) => {
    const fm = countAtOrBelow(imp, p.threshold);
    const fnm = nG - countAtOrBelow(gen, p.threshold);
    return { ...p, fmr: fm / nI, fmrCi95: clopperPearson(fm, nI), fnmr: fnm / nG, fnmrCi95: clopperPearson(fnm, nG) };
  });
  const p = policies[o.policy]!;
  const counts = (s: Float64Array) => {
    const match = countAtOrBelow(s, p.threshold);
    const review = countAtOrBelow(s, p.reviewUpTo) - match;
    return { match, review, no_match: s.length - match - review };
  };
  const det: { fmr: number; fnmr: number }[] = [];
  for (let k = 0; k <= 80; k++) {
    const idx = Math.min(nI, Math.max(1, Math.round(10 ** (Math.log10(1 / nI) * (1 - k / 80)) * nI)));
    const t = imp[idx - 1]!;
    const fmr = countAtOrBelow(imp, t) / nI;
    if (det.at(-1)?.fmr !== fmr) det.push({ fmr, fnmr: (nG - countAtOrBelow(gen, t)) / nG });
  }
  const step = 0.01;
  const bins = (s: Float64Array) => {
    const h = new Array<number>(160).fill(0);
    for (const d of s) h[Math.min(159, Math.floor(d / step))]!++;
    return h;
  };
  return {
    name: o.name,
    role: o.role,
    images: o.images,
    failedToAcquire: o.fta,
    genuinePairs: nG,
    impostorPairs: nI,
    policy: p.name,
    threshold: p.threshold,
    reviewUpTo: p.reviewUpTo,
    decisions: { genuine: counts(gen), impostor: counts(imp) },
    fmr: p.fmr,
    fmrCi95: p.fmrCi95,
    fnmr: p.fnmr,
    fnmrCi95: p.fnmrCi95,
    operatingPoints: [1e-2, 1e-3, 1e-4, 1e-5].map((fmr) => {
      const allowed = Math.floor(fmr * nI);
      if (allowed < 10) return { fmr, supported: false, threshold: null, fnmr: null, fnmrCi95: null };
      const t = Math.floor(imp[allowed - 1]! * 1e4) / 1e4;
      const fnm = nG - countAtOrBelow(gen, t);
      return { fmr, supported: true, threshold: t, fnmr: fnm / nG, fnmrCi95: clopperPearson(fnm, nG) };
    }),
    policies,
    det,
    histogram: { step, genuine: bins(gen), impostor: bins(imp) },
  };
}

const input: ReportInput = {
  title: 'facematch biometric evaluation (synthetic sample)',
  generatedAt: new Date().toISOString(),
  system: {
    engineVersion: 'face-api@0.22.2',
    pipeline: '2026-12.confident-subject.full-res-small-faces',
    backend: 'tensorflow',
    detector: 'ssd',
    machine: { cpu: 'AMD EPYC 7B13', cores: 2, memoryGiB: 24, os: 'linux 6.1.0 x64', node: process.version },
    models: [
      { file: 'ssd_mobilenetv1_model-weights_manifest.json', bytes: 26_871, sha256: 'a'.repeat(64) },
      { file: 'face_recognition_model-shard1', bytes: 4_194_304, sha256: 'b'.repeat(64) },
      { file: 'face_landmark_68_model-shard1', bytes: 356_840, sha256: 'c'.repeat(64) },
    ],
    calibration: { sets: ['lfw-folds2-5 folds 2,3'], filesSha256: 'd'.repeat(64), images: 6_510, genuinePairs: 7_940, impostorPairs: 2_109_125 },
  },
  sets: [
    makeSet({ name: 'lfw-folds2-5 folds 2,3', role: 'calibration', images: 6510, fta: 12, gen: 7940, imp: 2_109_125, g: [0.41, 0.085], i: [0.82, 0.075], policy: 1 }),
    makeSet({ name: 'lfw-folds2-5 folds 4,5', role: 'held-back', images: 6402, fta: 9, gen: 7702, imp: 2_040_000, g: [0.42, 0.088], i: [0.82, 0.076], policy: 1 }),
    makeSet({ name: 'hard-pairs <low light & blur>', role: 'robustness', images: 420, fta: 17, gen: 1500, imp: 80_000, g: [0.5, 0.11], i: [0.8, 0.08], policy: 1 }),
  ],
};

writeFileSync(out, await renderReport(input));
console.log(`wrote ${out}`);
