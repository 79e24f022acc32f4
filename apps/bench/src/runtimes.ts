// The engine on two runtimes (tfjs-wasm and onnxruntime-node) in one process, interleaved per image, on
// the engine phase's pairs. Each runtime is measured as evaluate() (@facematch/cli) measures "ours": each
// distinct image embedded once, its mirror pass timed apart and charged only if one of its pairs used it;
// a pair decided at the default policy's threshold (distance <= threshold is a match, a photo without a
// face a non-match); msPerImage the time over all images divided by their number.
import { readFile } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import { metricsAt, type LabelledPair } from '@facematch/cli';
import { isFaceMatchError } from '@facematch/contracts';
import type { Described, FaceEngine } from '@facematch/engine';

export interface RuntimeFigures {
  msPerImage: number;
  accuracy: number;
}

interface Seen {
  descriptor: Float32Array;
  mirror: Float32Array;
  mirrorMs: number;
}

class Side {
  readonly seen = new Map<string, Seen>();
  ms = 0;
  constructor(readonly engine: FaceEngine) {}

  async add(path: string, bytes: Buffer): Promise<void> {
    const t0 = performance.now();
    try {
      const e = await this.engine.embed(bytes, 'img1');
      const t1 = performance.now();
      const mirror = await e.mirrored();
      const mirrorMs = performance.now() - t1;
      this.seen.set(path, { descriptor: e.descriptor, mirror, mirrorMs });
      this.ms += t1 - t0;
    } catch (err) {
      if (!isFaceMatchError(err)) throw err;
      this.ms += performance.now() - t0;
    }
  }

  /** Each pair's match decision under the default policy, and the figures. */
  async score(pairs: readonly LabelledPair[], images: number): Promise<{ matches: boolean[]; figures: RuntimeFigures }> {
    const policy = this.engine.policy();
    const used = new Set<string>();
    const described = (path: string, s: Seen): Described => ({ descriptor: s.descriptor, mirrored: async () => (used.add(path), s.mirror) });
    const scored: { same: boolean; distance: number | undefined }[] = [];
    for (const p of pairs) {
      const a = this.seen.get(p.img1);
      const b = this.seen.get(p.img2);
      scored.push({ same: p.same, distance: a && b ? (await this.engine.pairDistance(described(p.img1, a), described(p.img2, b), policy)).distance : undefined });
    }
    const mirrorMs = [...used].reduce((sum, path) => sum + this.seen.get(path)!.mirrorMs, 0);
    return {
      matches: scored.map((s) => s.distance !== undefined && s.distance <= policy.threshold),
      figures: { msPerImage: images ? (this.ms + mirrorMs) / images : 0, accuracy: metricsAt(scored, policy.threshold).accuracy },
    };
  }
}

/**
 * wasm and onnx on the same images, alternating which goes first from one image to the next, so the
 * VM's drift (and any cache warmth the first one leaves) falls on both alike.
 */
export async function compareRuntimes(wasm: FaceEngine, onnx: FaceEngine, pairs: readonly LabelledPair[]) {
  const images = [...new Set(pairs.flatMap((p) => [p.img1, p.img2]))];
  const before = { wasm: wasm.numTensors(), onnx: onnx.numTensors() };
  const w = new Side(wasm);
  const o = new Side(onnx);
  for (const [i, path] of images.entries()) {
    const bytes = await readFile(path);
    for (const side of i % 2 === 0 ? [w, o] : [o, w]) await side.add(path, bytes);
  }
  const ws = await w.score(pairs, images.length);
  const os = await o.score(pairs, images.length);
  return {
    pairs: pairs.length,
    images: images.length,
    wasm: ws.figures,
    onnx: os.figures,
    /** Pairs the two runtimes decide differently (same weights: should be 0). */
    differingDecisions: ws.matches.filter((m, i) => m !== os.matches[i]).length,
    /** What each runtime holds (engine.numTensors()) before and after the run: equal unless it leaks. */
    allocations: { wasm: { start: before.wasm, end: wasm.numTensors() }, onnx: { start: before.onnx, end: onnx.numTensors() } },
  };
}
