import { readFile } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import { isFaceMatchError } from '@facematch/contracts';
import { REFERENCE_THRESHOLD, embedReference, euclidean, type DecisionPolicy, type Described, type FaceEngine } from '@facematch/engine';
import type { ScoredSet } from './biometrics.ts';
import type { Embedded } from './embeddings.ts';
import { scoreListedPairs } from './score.ts';
import { bestThreshold, metricsAt, type Metrics } from './metrics.ts';
import type { LabelledPair } from './pairs.ts';

export interface PairDistance extends LabelledPair {
  distance: number | undefined;
}

export interface PipelineReport extends Metrics {
  threshold: number;
  bestThreshold: number;
  bestAccuracy: number;
  /** Images where no usable face was found (or that failed to decode), with their code. */
  noFace: { image: string; code: string }[];
  /** Pairs that could not be scored and so counted as non-matches. */
  failedPairs: number;
  msPerImage: number;
}

export interface EvalReport extends PipelineReport {
  images: number;
  backend: string;
  detector: string;
  /** face-api's own demo pipeline on the same images, interleaved with ours (`--reference`). */
  reference?: PipelineReport;
  /** Per-pair distances, for calibration; not printed. */
  distances: PairDistance[];
  /** Every pair's plain and mirror-averaged distance, for the biometric figures; not printed. */
  scored: ScoredSet;
}

/** One image as a pipeline saw it, with the time its mirror pass took (charged only if a pair used it). */
interface Seen {
  descriptor: Float32Array;
  mirror?: { descriptor: Float32Array; ms: number };
}
type Embed = (bytes: Buffer) => Promise<Seen>;
type Distance = (a: Described, b: Described) => Promise<number>;

class Pipeline {
  readonly seen = new Map<string, Seen>();
  readonly noFace: PipelineReport['noFace'] = [];
  ms = 0;
  constructor(
    private readonly embed: Embed,
    private readonly distance: Distance,
  ) {}

  async add(path: string, bytes: Buffer): Promise<void> {
    const t0 = performance.now();
    try {
      this.seen.set(path, await this.embed(bytes));
    } catch (err) {
      if (!isFaceMatchError(err)) throw err;
      this.noFace.push({ image: path, code: err.code });
    } finally {
      this.ms += performance.now() - t0 - (this.seen.get(path)?.mirror?.ms ?? 0);
    }
  }

  async score(pairs: readonly LabelledPair[], threshold: number, images: number): Promise<{ report: PipelineReport; distances: PairDistance[] }> {
    // verify() runs the mirror pass only for pairs near the threshold: each image's is charged once if any
    // of its pairs asked for it, as the image itself is embedded once for all its pairs.
    const used = new Set<string>();
    const described = (path: string, s: Seen): Described => ({
      descriptor: s.descriptor,
      mirrored: async () => {
        used.add(path);
        if (!s.mirror) throw new Error(`no mirror descriptor for ${path}`);
        return s.mirror.descriptor;
      },
    });
    const distances: PairDistance[] = [];
    for (const p of pairs) {
      const a = this.seen.get(p.img1);
      const b = this.seen.get(p.img2);
      distances.push({ ...p, distance: a && b ? await this.distance(described(p.img1, a), described(p.img2, b)) : undefined });
    }
    const mirrorMs = [...used].reduce((sum, path) => sum + this.seen.get(path)!.mirror!.ms, 0);
    const best = bestThreshold(distances);
    return {
      distances,
      report: {
        ...metricsAt(distances, threshold),
        threshold,
        bestThreshold: best.threshold,
        bestAccuracy: best.accuracy,
        noFace: this.noFace,
        failedPairs: distances.filter((d) => d.distance === undefined).length,
        msPerImage: images ? (this.ms + mirrorMs) / images : 0,
      },
    };
  }
}

/** Embeds each distinct image once (per pipeline), then scores every pair at the engine's threshold. */
export async function evaluate(
  engine: FaceEngine,
  pairs: readonly LabelledPair[],
  opts: { reference?: boolean; policy?: DecisionPolicy } = {},
): Promise<EvalReport> {
  const policy = opts.policy ?? engine.policy();
  const images = [...new Set(pairs.flatMap((p) => [p.img1, p.img2]))];
  const ours = new Pipeline(
    async (b) => {
      const e = await engine.embed(b, 'img1');
      // Taken now, timed apart, so the image need not be embedded again when a pair turns out to need it.
      const t0 = performance.now();
      const mirror = await e.mirrored();
      return { descriptor: e.descriptor, mirror: { descriptor: mirror, ms: performance.now() - t0 } };
    },
    async (a, b) => (await engine.pairDistance(a, b, policy)).distance,
  );
  const reference = opts.reference
    ? new Pipeline(
        async (b) => ({ descriptor: await embedReference(engine, b, 'img1') }),
        async (a, b) => euclidean(a.descriptor, b.descriptor),
      )
    : undefined;
  for (const path of images) {
    const bytes = await readFile(path);
    // Interleaved per image, so machine drift hits both pipelines alike.
    await ours.add(path, bytes);
    await reference?.add(path, bytes);
  }
  const { report, distances } = await ours.score(pairs, policy.threshold, images.length);
  const failedCode = new Map(ours.noFace.map((f) => [f.image, f.code]));
  const seen = new Map(
    images.map((path): [string, Embedded] => {
      const s = ours.seen.get(path);
      return [path, s?.mirror ? { key: path, ok: true, descriptor: s.descriptor, mirror: s.mirror.descriptor, ms: 0, mirrorMs: 0 } : { key: path, ok: false, code: failedCode.get(path)!, ms: 0 }];
    }),
  );
  const embedded = (path: string) => seen.get(path)!;
  return {
    ...report,
    scored: scoreListedPairs(pairs.map((p) => ({ a: embedded(p.img1), b: embedded(p.img2), same: p.same }))),
    images: images.length,
    backend: engine.backend,
    detector: engine.detector,
    ...(reference ? { reference: (await reference.score(pairs, REFERENCE_THRESHOLD, images.length)).report } : {}),
    distances,
  };
}

export function formatReport(r: EvalReport): string {
  const pct = (v: number) => `${(v * 100).toFixed(2)}%`;
  const block = (p: PipelineReport, showNoFace: boolean) => [
    `  threshold         ${p.threshold}`,
    `  accuracy          ${pct(p.accuracy)}`,
    `  TPR               ${pct(p.tpr)}`,
    `  FPR               ${pct(p.fpr)}`,
    `  false matches     ${p.falseMatches}`,
    `  false non-matches ${p.falseNonMatches}`,
    `  best threshold    ${p.bestThreshold.toFixed(4)} (accuracy ${pct(p.bestAccuracy)})`,
    `  no face           ${p.noFace.length} image(s); ${p.failedPairs} pair(s) counted as non-matches`,
    ...(showNoFace ? p.noFace.map((f) => `    ${f.code.padEnd(20)} ${f.image}`) : []),
    `  ms per image      ${p.msPerImage.toFixed(1)}`,
  ];
  return [
    `${r.pairs} pairs, ${r.images} images, ${r.backend} backend`,
    `facematch (${r.detector} detector):`,
    ...block(r, true),
    ...(r.reference ? ['face-api demo pipeline (SSD on full resolution, unaligned):', ...block(r.reference, false)] : []),
  ].join('\n');
}
