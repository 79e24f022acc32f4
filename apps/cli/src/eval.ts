import { readFile } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import { isFaceMatchError } from '@facematch/contracts';
import { REFERENCE_THRESHOLD, euclidean, type FaceEngine } from '@facematch/engine';
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
}

type Embed = (bytes: Buffer) => Promise<Float32Array>;

class Pipeline {
  readonly descriptors = new Map<string, Float32Array>();
  readonly noFace: PipelineReport['noFace'] = [];
  ms = 0;
  constructor(private readonly embed: Embed) {}

  async add(path: string, bytes: Buffer): Promise<void> {
    const t0 = performance.now();
    try {
      this.descriptors.set(path, await this.embed(bytes));
    } catch (err) {
      if (!isFaceMatchError(err)) throw err;
      this.noFace.push({ image: path, code: err.code });
    } finally {
      this.ms += performance.now() - t0;
    }
  }

  score(pairs: readonly LabelledPair[], threshold: number, images: number): { report: PipelineReport; distances: PairDistance[] } {
    const distances = pairs.map((p) => {
      const a = this.descriptors.get(p.img1);
      const b = this.descriptors.get(p.img2);
      return { ...p, distance: a && b ? euclidean(a, b) : undefined };
    });
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
        msPerImage: images ? this.ms / images : 0,
      },
    };
  }
}

/** Embeds each distinct image once (per pipeline), then scores every pair. */
export async function evaluate(
  engine: FaceEngine,
  pairs: readonly LabelledPair[],
  opts: { threshold?: number; reference?: boolean } = {},
): Promise<EvalReport> {
  const images = [...new Set(pairs.flatMap((p) => [p.img1, p.img2]))];
  const ours = new Pipeline(async (b) => (await engine.embed(b, 'img1')).descriptor);
  const reference = opts.reference ? new Pipeline((b) => engine.embedReference(b, 'img1')) : undefined;
  for (const path of images) {
    const bytes = await readFile(path);
    // Interleaved per image, so machine drift hits both pipelines alike.
    await ours.add(path, bytes);
    await reference?.add(path, bytes);
  }
  const { report, distances } = ours.score(pairs, opts.threshold ?? engine.threshold, images.length);
  return {
    ...report,
    images: images.length,
    backend: engine.backend,
    detector: engine.detector,
    ...(reference ? { reference: reference.score(pairs, REFERENCE_THRESHOLD, images.length).report } : {}),
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
