import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';

/** One photo of a set given by folders: every subfolder is one person. */
export interface SetImage {
  /** Absolute path. */
  path: string;
  /** `set/identity/file`, the stable name used in hashes and reports. */
  key: string;
  identity: string;
}

export interface ImageSet {
  /** As given: `DIR` or `DIR:2,3`. */
  spec: string;
  /** For reports: `lfw-folds2-5 folds 2,3`. */
  name: string;
  images: SetImage[];
}

const IMAGE = /\.(jpe?g|png|webp)$/i;

/**
 * Reads `DIR` (every subfolder one person) or `DIR:2,3`: only the people of those folds, where the folder
 * holds `pairs-foldN.csv` files (LFW View 2), a person belonging to the fold whose pairs name them.
 */
export function readSet(spec: string): ImageSet {
  // `A+B`: one set of both folders' people, every cross-folder pair an impostor pair too.
  if (spec.includes('+')) {
    const parts = spec.split('+').map(readSet);
    return { spec, name: parts.map((p) => p.name).join(' + '), images: parts.flatMap((p) => p.images) };
  }
  const m = /^(.*?)(?::(\d+(?:,\d+)*))?$/.exec(spec)!;
  const dir = resolve(m[1]!);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw Object.assign(new Error(`set ${dir} is not a directory`), { code: 'ENOENT' });
  const folds = m[2]?.split(',').map(Number);
  let people = readdirSync(dir).filter((d) => statSync(join(dir, d)).isDirectory());
  if (folds) {
    const inFolds = new Set<string>();
    for (const f of folds) {
      const file = join(dir, `pairs-fold${f}.csv`);
      if (!existsSync(file)) throw Object.assign(new Error(`set ${dir} has no fold ${f} (${file})`), { code: 'ENOENT' });
      for (const line of readFileSync(file, 'utf8').split(/\r?\n/).slice(1)) {
        for (const cell of line.split(',').slice(0, 2)) if (cell.includes('/')) inFolds.add(cell.split('/')[0]!);
      }
    }
    people = people.filter((p) => inFolds.has(p));
  }
  const set = basename(dir);
  const images = people
    .sort()
    .flatMap((identity) =>
      readdirSync(join(dir, identity))
        .filter((f) => IMAGE.test(f))
        .sort()
        .map((f) => ({ path: join(dir, identity, f), key: `${set}/${identity}/${f}`, identity: `${set}/${identity}` })),
    );
  return { spec, name: folds ? `${set} folds ${folds.join(',')}` : set, images };
}

/** sha256 of the sorted image keys: names the calibration set without shipping its list. */
export function filesSha256(images: readonly SetImage[]): string {
  return createHash('sha256').update([...images.map((i) => i.key)].sort().join('\n')).digest('hex');
}
