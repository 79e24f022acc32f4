/** `facematch runtimes`: embeds every image with each runtime (cache and child processes of `embedAll`), then compares. */
import { dirname, relative } from 'node:path';
import { performance } from 'node:perf_hooks';
import { POLICY_NAMES } from '@facematch/contracts';
import { FaceEngine, type EngineOptions } from '@facematch/engine';
import type { ImageSet } from './dataset.ts';
import { embedAll, type Embedded } from './embeddings.ts';
import type { LabelledPair } from './pairs.ts';
import { RUNTIMES, allPairs, compareRuntimes, formatComparison, listedPairs, type CompareInput, type Runtime, type RuntimeSide, type SetComparison } from './runtimes.ts';

export interface RuntimesInput {
  pairs: { file: string; pairs: LabelledPair[]; root?: string | undefined }[];
  sets: ImageSet[];
}

export interface RuntimesOptions {
  jobs: number;
  cacheDir?: string | undefined;
  /** The environment's engine options with the given runtime. */
  engineOptions: (backend: Runtime) => EngineOptions;
  err: NodeJS.WritableStream;
}

export interface RuntimePass {
  backend: string;
  backendReason: string;
  /** The embedding cache's fingerprint: differs between the runtimes, so each has its own cache file. */
  fingerprint: string;
  images: number;
  /** Loading the engine and embedding (or reading from the cache) every image. */
  wallMs: number;
}

export interface RuntimesReport {
  runtimes: Record<Runtime, RuntimePass>;
  policies: string[];
  sets: SetComparison[];
  wallMs: number;
}

export async function runRuntimes(input: RuntimesInput, opts: RuntimesOptions): Promise<{ report: RuntimesReport; text: string }> {
  const t0 = performance.now();
  // Ids as reported, and the file each reads.
  const inputs: (Omit<CompareInput, 'images'> & { images: { id: string; path: string }[] })[] = [
    ...input.pairs.map(({ file, pairs, root }) => {
      const l = listedPairs(pairs);
      const base = root ?? dirname(file);
      return { name: file.replace(/^.*\//, '').replace(/\.csv$/, ''), kind: 'pairs' as const, images: l.images.map((path) => ({ id: relative(base, path), path })), pairs: l.pairs };
    }),
    ...input.sets.map((s) => ({ name: s.name, kind: 'set' as const, images: s.images.map((i) => ({ id: i.key, path: i.path })), pairs: allPairs(s.images.map((i) => i.identity)) })),
  ];
  const paths = [...new Set(inputs.flatMap((s) => s.images.map((i) => i.path)))];

  const sides = {} as Record<Runtime, RuntimeSide>;
  const passes = {} as Record<Runtime, RuntimePass>;
  for (const r of RUNTIMES) {
    const p0 = performance.now();
    const engineOptions = opts.engineOptions(r);
    // This engine decides the pairs (its calibration, its mirror rule) and embeds in-process with --jobs 1.
    const engine = await FaceEngine.create(engineOptions);
    if (engine.backend !== r) throw new Error(`asked for the ${r} runtime, got ${engine.backend}`);
    const { embedded, fingerprint } = await embedAll(
      paths.map((path) => ({ path, key: path })),
      {
        engine: engineOptions,
        jobs: opts.jobs,
        cacheDir: opts.cacheDir,
        local: engine,
        requireBox: true,
        onProgress: (done, total) => {
          if (done % 250 === 0 || done === total) opts.err.write(`${r}: embedded ${done}/${total}\n`);
        },
      },
    );
    const byPath = new Map<string, Embedded>(embedded.map((e) => [e.key, e]));
    passes[r] = { backend: engine.backend, backendReason: engine.backendReason, fingerprint, images: paths.length, wallMs: Math.round(performance.now() - p0) };
    sides[r] = {
      embedded: (path) => byPath.get(path)!,
      distance: (a, b, policy) => engine.pairDistance(a, b, policy),
      policies: POLICY_NAMES.map((n) => engine.policy(n)),
    };
    opts.err.write(`${r}: ${paths.length} images in ${(passes[r].wallMs / 1000).toFixed(1)} s (${engine.backendReason})\n`);
  }

  const sets: SetComparison[] = [];
  for (const s of inputs) {
    // Compared by path (what was embedded), reported by id.
    const ids = new Map(s.images.map((i) => [i.path, i.id]));
    const c = await compareRuntimes({ ...s, images: s.images.map((i) => i.path) }, sides);
    const id = (p: string) => ids.get(p) ?? p;
    sets.push({
      ...c,
      acquisitionDisagreements: c.acquisitionDisagreements.map((a) => ({ ...a, image: id(a.image) })),
      descriptorL2: { ...c.descriptorL2, maxImage: c.descriptorL2.maxImage && id(c.descriptorL2.maxImage) },
      mirrorL2: { ...c.mirrorL2, maxImage: c.mirrorL2.maxImage && id(c.mirrorL2.maxImage) },
      boxPx: c.boxPx && { ...c.boxPx, maxImage: c.boxPx.maxImage && id(c.boxPx.maxImage) },
      scoreDiff: c.scoreDiff && { ...c.scoreDiff, maxImage: c.scoreDiff.maxImage && id(c.scoreDiff.maxImage) },
      differing: c.differing.map((p) => ({ ...p, img1: id(p.img1), img2: id(p.img2) })),
    });
  }
  const wallMs = Math.round(performance.now() - t0);
  const report: RuntimesReport = { runtimes: passes, policies: [...POLICY_NAMES], sets, wallMs };
  const text = [
    ...RUNTIMES.map((r) => `${r}: ${passes[r].images} images embedded or read from the cache in ${(passes[r].wallMs / 1000).toFixed(1)} s (fingerprint ${passes[r].fingerprint})`),
    '',
    ...sets.flatMap((c) => [...formatComparison(c), '']),
    `total ${sets.reduce((n, c) => n + c.pairs.total, 0)} pairs, ${sets.reduce((n, c) => n + c.differingPairs, 0)} decided differently; wall time ${(wallMs / 1000).toFixed(1)} s`,
  ].join('\n');
  return { report, text };
}
