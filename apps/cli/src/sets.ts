/** `eval --set` and `calibrate`: every photo embedded once, then every pair scored. */
import { basename } from 'node:path';
import type { Calibration } from '@facematch/contracts';
import { loadRecogniser, modelBinding, type DecisionPolicy, type EngineOptions, type FaceEngine } from '@facematch/engine';
import { biometricBlock, type BiometricBlock } from './biometric-eval.ts';
import { buildCalibration } from './calibrate.ts';
import { filesSha256, type ImageSet } from './dataset.ts';
import { embedAll, type Embedded } from './embeddings.ts';
import { scoreAllPairs } from './score.ts';

export interface SetRunOptions {
  jobs: number;
  cacheDir?: string;
  engineOptions: EngineOptions;
  onProgress?: (done: number, total: number) => void;
}

async function embedSets(sets: readonly ImageSet[], opts: SetRunOptions, local?: FaceEngine): Promise<Map<string, Embedded>> {
  const unique = [...new Map(sets.flatMap((s) => s.images).map((i) => [i.key, i])).values()];
  const { embedded } = await embedAll(unique, { engine: opts.engineOptions, jobs: opts.jobs, cacheDir: opts.cacheDir, local, onProgress: opts.onProgress });
  return new Map(embedded.map((e) => [e.key, e]));
}

export async function evaluateSets(
  engine: FaceEngine,
  sets: readonly ImageSet[],
  opts: SetRunOptions & { policy: DecisionPolicy },
): Promise<{ block: BiometricBlock; msPerImage: number }[]> {
  const byKey = await embedSets(sets, opts, engine);
  return sets.map((s) => {
    const items = s.images.map((i) => ({ identity: i.identity, embedded: byKey.get(i.key)! }));
    const failed = items.filter((i) => !i.embedded.ok).length;
    return {
      block: biometricBlock(s.name, items.length, failed, scoreAllPairs(items), engine, opts.policy),
      // Detection, landmarks, chip and descriptor; the mirror pass is timed apart, as few pairs need it.
      msPerImage: items.reduce((sum, i) => sum + i.embedded.ms, 0) / Math.max(1, items.length),
    };
  });
}

export async function calibrate(sets: readonly ImageSet[], opts: SetRunOptions): Promise<Calibration> {
  const byKey = await embedSets(sets, opts);
  const images = sets.flatMap((s) => s.images);
  const items = images.map((i) => ({ identity: i.identity, embedded: byKey.get(i.key)! }));
  const spec = (s: ImageSet) =>
    `--set ${s.spec
      .split('+')
      .map((part) => {
        const [dir, folds] = part.split(/:(?=[\d,]+$)/);
        return `${basename(dir!)}${folds ? `:${folds}` : ''}`;
      })
      .join('+')}`;
  return buildCalibration(
    scoreAllPairs(items),
    {
      sets: sets.map((s) => s.name),
      filesSha256: filesSha256(images),
      images: images.length,
      identities: new Set(images.map((i) => i.identity)).size,
      failedToAcquire: items.filter((i) => !i.embedded.ok).length,
    },
    `facematch calibrate ${sets.map(spec).join(' ')}`,
    modelBinding(opts.engineOptions.recogniser ? loadRecogniser(opts.engineOptions.recogniser).descriptor : undefined),
  );
}
