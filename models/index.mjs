// Plain ESM (not TypeScript) so that `npm install`'s postinstall can stage weights before tsx exists.
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { GRAPHS, buildGraph } from './onnx/index.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);

export const defaultModelsDir = here;
export const manifest = JSON.parse(readFileSync(join(here, 'manifest.json'), 'utf8'));
/** The operating points calibrated for these weights (written by `facematch calibrate`). */
export const calibrationPath = join(here, 'calibration.json');

/** sha256 over the manifest's file names and hashes, in order: what a calibration is bound to. */
export function weightsSha256() {
  return sha256(Buffer.from(manifest.files.map((f) => `${f.file}:${f.sha256}`).join('\n')));
}

/** Where the pinned npm package keeps its weights. */
export function sourceDir() {
  const pkgJson = require.resolve(`${manifest.source.package}/package.json`);
  const pkg = JSON.parse(readFileSync(pkgJson, 'utf8'));
  if (pkg.version !== manifest.source.version) {
    throw new Error(
      `models: manifest pins ${manifest.source.package}@${manifest.source.version} but ${pkg.version} is installed; run "npm run manifest -w @facematch/models" after reviewing the upgrade`,
    );
  }
  return join(dirname(pkgJson), manifest.source.dir);
}

export function sha256(buf) {
  return createHash('sha256').update(buf).digest('hex');
}

/** Copies every manifest file from the npm package into `dir`, verifying each copy. */
export function stageModels(dir = defaultModelsDir) {
  const src = sourceDir();
  mkdirSync(dir, { recursive: true });
  for (const f of manifest.files) {
    const to = join(dir, f.file);
    if (!(existsSync(to) && sha256(readFileSync(to)) === f.sha256)) copyFileSync(join(src, f.file), to);
  }
  const weights = readVerifiedModels(dir);
  for (const g of manifest.graphs ?? []) {
    const to = join(dir, g.file);
    if (!(existsSync(to) && sha256(readFileSync(to)) === g.sha256)) writeFileSync(to, buildGraph(g.from, (f) => weights.get(f)));
  }
  readVerifiedGraphs(dir, weights);
  return dir;
}

/** Every graph this package converts, built now from the weights (`files`: name → bytes). */
export function buildGraphs(files) {
  return GRAPHS.map((g) => {
    const bytes = buildGraph(g.from, (f) => files.get(f));
    return { file: g.file, from: g.from, bytes: bytes.length, sha256: sha256(bytes), data: bytes };
  });
}

/**
 * The ONNX graphs of the nets (face-api net name → bytes), each checked against manifest.json's sha256.
 * A graph missing from `dir` (weights staged by hand, say) is converted in memory from the verified
 * weights: the conversion is deterministic, so the checksum holds either way.
 */
export function readVerifiedGraphs(dir = defaultModelsDir, weights = readVerifiedModels(dir)) {
  const problems = [];
  const graphs = new Map();
  for (const g of manifest.graphs ?? []) {
    const path = join(dir, g.file);
    const buf = existsSync(path) ? readFileSync(path) : buildGraph(g.from, (f) => weights.get(f));
    if (buf.length !== g.bytes || sha256(buf) !== g.sha256) problems.push(`${g.file}: sha256 mismatch (not the conversion of the pinned weights)`);
    else graphs.set(g.from, buf);
  }
  if (problems.length > 0) {
    const err = new Error(`ONNX graphs in ${dir} failed verification:\n  - ${problems.join('\n  - ')}\nRe-stage them with "npm run stage -w @facematch/models".`);
    err.code = 'MODELS_INVALID';
    err.problems = problems;
    throw err;
  }
  return graphs;
}

/**
 * Reads every manifest file from `dir` and checks size and sha256. Returns the bytes that were checked,
 * so the caller loads exactly what was verified. Throws one error listing every problem.
 */
export function readVerifiedModels(dir = defaultModelsDir) {
  const problems = [];
  const files = new Map();
  for (const f of manifest.files) {
    const path = join(dir, f.file);
    if (!existsSync(path)) {
      problems.push(`${f.file}: missing`);
      continue;
    }
    const buf = readFileSync(path);
    if (buf.length !== f.bytes) problems.push(`${f.file}: ${buf.length} bytes, expected ${f.bytes}`);
    else if (sha256(buf) !== f.sha256) problems.push(`${f.file}: sha256 mismatch (file altered or corrupt)`);
    else files.set(f.file, buf);
  }
  if (problems.length > 0) {
    const err = new Error(
      `model weights in ${dir} failed verification:\n  - ${problems.join('\n  - ')}\nRe-stage them with "npm run stage -w @facematch/models" (honours MODELS_DIR).`,
    );
    err.code = 'MODELS_INVALID';
    err.problems = problems;
    throw err;
  }
  return files;
}
