import { existsSync, readFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { basename } from 'node:path';
import { parseArgs } from 'node:util';
import { parseTtl, signToken } from '@facematch/auth';
import { cliEnvSchema, ConfigError, parseConfig } from '@facematch/config';
import { POLICY_NAMES, PolicyNameSchema, isFaceMatchError, type PolicyName } from '@facematch/contracts';
import { FaceMatchApiError, FaceMatchClient } from '@facematch/client';
import { FaceEngine, engineOptionsFromEnv, type EngineOptions } from '@facematch/engine';
import { calibrationPath } from '@facematch/models';
import { biometricBlock, formatBlock, systemUnderTest, type BiometricBlock } from './biometric-eval.ts';
import { calibrate, evaluateSets } from './sets.ts';
import { CalibrationSetError } from './calibrate.ts';
import { readSet } from './dataset.ts';
import { evaluate, formatReport } from './eval.ts';
import { readPairs } from './pairs.ts';
import { runRuntimes } from './runtimes-command.ts';
import { renderReport } from './report.ts';

const USAGE = `usage:
  facematch verify <img1> <img2>             exit 0 same person, 1 different, 2 error
  facematch verify --url <baseUrl> [--token <jwt> | --apikey <key> --secret <secret>] <img1> <img2>
                                             the same, through a running service (the SDK)
  facematch token --apikey <key> --secret <secret> [--ttl 2h]   print an API token
  facematch verify [--policy fmr_1e-2|fmr_1e-3|fmr_1e-4] ...   decide at a named operating point
  facematch eval (--pairs <file.csv> | --set <dir>[:folds] --impostors all)... [--policy p] [--threshold t]
                 [--json] [--report <file.html>] [--jobs n] [--cache <dir>] [--root <dir>] [--distances <out.csv>] [--reference]
                                             FMR and FNMR with 95% intervals; --set: every subfolder one person
  facematch calibrate --set <dir>[:folds]... [--out <file>] [--check] [--jobs n] [--cache <dir>]
                                             measure the named operating points; --check compares with the file
  facematch runtimes (--pairs <file.csv> | --set <dir>[:folds])... [--root <dir>] [--jobs n] [--cache <dir>] [--json]
                                             embed with the wasm and the onnx runtime; list the pairs they decide differently

environment: TF_BACKEND=auto|cuda|tensorflow|onnx|wasm, FACEMATCH_RECOGNISER, FACE_DETECTOR=auto|tiny|ssd, FACEMATCH_POLICY, FACEMATCH_THRESHOLD,
  FACEMATCH_CALIBRATION, MODELS_DIR;
remote mode: FACEMATCH_URL, FACEMATCH_TOKEN, or FACEMATCH_API_KEY and FACEMATCH_API_SECRET`;

/** Returns the process exit code; never calls process.exit so tests can drive it. */
export async function main(argv: string[], io = { out: process.stdout, err: process.stderr }): Promise<number> {
  const [command, ...rest] = argv;
  try {
    const env = parseConfig(cliEnvSchema);
    const engineOpts = (threshold?: number): EngineOptions => ({
      ...engineOptionsFromEnv(env, env.LOG_LEVEL === 'info' || env.LOG_LEVEL === 'debug' ? (msg, f) => io.err.write(`${msg} ${JSON.stringify(f)}\n`) : undefined),
      ...(threshold === undefined ? {} : { threshold }),
    });
    const makeEngine = (threshold?: number) => FaceEngine.create(engineOpts(threshold));

    if (command === 'token') {
      const { values } = parseArgs({ args: rest, options: { apikey: { type: 'string' }, secret: { type: 'string' }, ttl: { type: 'string' } } });
      if (!values.apikey || !values.secret) throw new UsageError('token needs --apikey and --secret');
      let ttlSeconds: number;
      try {
        ttlSeconds = parseTtl(values.ttl ?? '2h');
      } catch (err) {
        throw new UsageError((err as Error).message);
      }
      io.out.write(`${signToken({ apiKey: values.apikey, secret: values.secret, ttlSeconds })}\n`);
      return 0;
    }

    if (command === 'verify') {
      const { positionals, values } = parseArgs({
        args: rest,
        allowPositionals: true,
        options: { url: { type: 'string' }, token: { type: 'string' }, apikey: { type: 'string' }, secret: { type: 'string' }, policy: { type: 'string' } },
      });
      const policy = parsePolicy(values.policy);
      if (positionals.length !== 2) throw new UsageError('verify takes exactly two image paths');
      const [a, b] = await Promise.all(positionals.map((p) => readFile(p)));
      const url = values.url ?? env.FACEMATCH_URL;
      let result;
      if (url) {
        const token = values.token ?? env.FACEMATCH_TOKEN;
        const apiKey = values.apikey ?? env.FACEMATCH_API_KEY;
        const secret = values.secret ?? env.FACEMATCH_API_SECRET;
        if (!token && !(apiKey && secret)) throw new UsageError('remote verify needs --token, or --apikey and --secret (or FACEMATCH_TOKEN / FACEMATCH_API_KEY and FACEMATCH_API_SECRET)');
        const client = new FaceMatchClient({ baseUrl: url, ...(token ? { token } : { apiKey, secret }) });
        result = await client.verify(a!, b!, policy ? { policy } : {});
      } else {
        const engine = await makeEngine();
        result = await engine.verify(a!, b!, policy);
      }
      io.out.write(`${JSON.stringify(result, null, 2)}\n`);
      return result.verified ? 0 : 1;
    }

    if (command === 'eval') {
      const { values } = parseArgs({
        args: rest,
        options: {
          pairs: { type: 'string', multiple: true },
          set: { type: 'string', multiple: true },
          impostors: { type: 'string' },
          root: { type: 'string' },
          threshold: { type: 'string' },
          policy: { type: 'string' },
          json: { type: 'boolean' },
          distances: { type: 'string' },
          reference: { type: 'boolean' },
          report: { type: 'string' },
          jobs: { type: 'string' },
          cache: { type: 'string' },
        },
      });
      const pairFiles = values.pairs ?? [];
      const setSpecs = values.set ?? [];
      if (pairFiles.length + setSpecs.length === 0) throw new UsageError('eval needs --pairs <file.csv> or --set <dir>');
      if (setSpecs.length > 0 && values.impostors !== 'all') throw new UsageError('--set scores every cross-person pair: say so with --impostors all');
      if ((values.distances || values.reference) && (pairFiles.length !== 1 || setSpecs.length > 0)) throw new UsageError('--distances and --reference take exactly one --pairs file');
      const threshold = values.threshold === undefined ? undefined : Number(values.threshold);
      if (threshold !== undefined && !(threshold > 0)) throw new UsageError('--threshold must be a positive number');
      const policy = parsePolicy(values.policy);
      const jobs = parseJobs(values.jobs);
      // The engine decides at this threshold too, so its mirror pass runs for the pairs near it.
      const engine = await makeEngine(threshold);
      const decideBy = engine.policy(policy);
      const rows: Record<string, unknown>[] = [];
      const blocks: BiometricBlock[] = [];
      for (const file of pairFiles) {
        const report = await evaluate(engine, readPairs(file, values.root), { reference: values.reference, policy: decideBy });
        const { distances, scored, ...summary } = report;
        if (values.distances) {
          const lines = distances.map((d) => `${d.img1},${d.img2},${d.same ? 1 : 0},${d.distance ?? ''}`);
          await writeFile(values.distances, `img1,img2,same,distance\n${lines.join('\n')}\n`);
        }
        const block = biometricBlock(basename(file, '.csv'), report.images, report.noFace.length, scored, engine, decideBy);
        blocks.push(block);
        rows.push({ ...summary, ...block });
        if (!values.json) io.out.write(`${formatReport(report)}\n${formatBlock(block).join('\n')}\n\n`);
      }
      if (setSpecs.length > 0) {
        const sets = setSpecs.map(readSet);
        for (const r of await evaluateSets(engine, sets, { jobs, cacheDir: values.cache, engineOptions: engineOpts(threshold), policy: decideBy, onProgress: progress(io, values.json) })) {
          blocks.push(r.block);
          rows.push({ ...r.block, backend: engine.backend, detector: engine.detector, msPerImage: r.msPerImage });
          if (!values.json) io.out.write(`${formatBlock(r.block).join('\n')}\n  ms per image      ${r.msPerImage.toFixed(1)}\n\n`);
        }
      }
      if (values.report) {
        const html = await renderReport({ title: 'facematch biometric evaluation', generatedAt: new Date().toISOString(), system: systemUnderTest(engine), sets: blocks });
        await writeFile(values.report, html);
      }
      if (values.json) io.out.write(`${JSON.stringify(rows.length === 1 ? rows[0] : { sets: rows })}\n`);
      return 0;
    }

    if (command === 'calibrate') {
      const { values } = parseArgs({
        args: rest,
        options: { set: { type: 'string', multiple: true }, out: { type: 'string' }, check: { type: 'boolean' }, jobs: { type: 'string' }, cache: { type: 'string' } },
      });
      const specs = values.set ?? [];
      if (specs.length === 0) throw new UsageError('calibrate needs --set <dir>[:folds] (one or more)');
      const sets = specs.map(readSet);
      const out = values.out ?? calibrationPath;
      const cal = await calibrate(sets, { jobs: parseJobs(values.jobs), cacheDir: values.cache, engineOptions: engineOpts(), onProgress: progress(io, false) });
      const text = `${JSON.stringify(cal, null, 2)}\n`;
      if (values.check) {
        const committed = existsSync(out) ? readFileSync(out, 'utf8') : '';
        if (committed === text) {
          io.out.write(`calibration reproduced: ${out} matches byte for byte (${cal.set.images} images, ${cal.set.genuinePairs} genuine, ${cal.set.impostorPairs} impostor pairs)\n`);
          return 0;
        }
        io.err.write(`CALIBRATION_MISMATCH: ${out} differs from what the command produces now:\n${summarizeDiff(committed, text)}\n`);
        return 1;
      }
      await writeFile(out, text);
      const p = cal.policies;
      io.out.write(
        `wrote ${out}: ${cal.set.images} images of ${cal.set.identities} people, ${cal.set.genuinePairs} genuine and ${cal.set.impostorPairs} impostor pairs\n` +
          POLICY_NAMES.map((n) => `  ${n}: threshold ${p[n].threshold}, FMR ${p[n].fmr}, FNMR ${p[n].fnmr}, review up to ${p[n].reviewUpTo} (genuine review ${p[n].genuineReview})`).join('\n') +
          '\n',
      );
      return 0;
    }

    if (command === 'runtimes') {
      const { values } = parseArgs({
        args: rest,
        options: { pairs: { type: 'string', multiple: true }, set: { type: 'string', multiple: true }, root: { type: 'string' }, jobs: { type: 'string' }, cache: { type: 'string' }, json: { type: 'boolean' } },
      });
      const pairFiles = values.pairs ?? [];
      const setSpecs = values.set ?? [];
      if (pairFiles.length + setSpecs.length === 0) throw new UsageError('runtimes needs --pairs <file.csv> or --set <dir> (one or more)');
      const { report, text } = await runRuntimes(
        { pairs: pairFiles.map((file) => ({ file, pairs: readPairs(file, values.root), root: values.root })), sets: setSpecs.map(readSet) },
        { jobs: parseJobs(values.jobs), cacheDir: values.cache, engineOptions: (backend) => ({ ...engineOpts(), backend }), err: io.err },
      );
      io.out.write(values.json ? `${JSON.stringify(report)}\n` : `${text}\n`);
      // A difference is a finding, not a failure: the exit code is 0 either way.
      return 0;
    }

    throw new UsageError(command ? `unknown command "${command}"` : 'no command given');
  } catch (err) {
    if (isFaceMatchError(err) || err instanceof FaceMatchApiError) {
      io.err.write(`${err.code}: ${err.message}\n`);
    } else if (err instanceof CalibrationSetError) {
      io.err.write(`CALIBRATION_SET_TOO_SMALL: ${err.message}\n`);
    } else if (err instanceof UsageError) {
      io.err.write(`USAGE: ${err.message}\n${USAGE}\n`);
    } else if (err instanceof ConfigError) {
      io.err.write(`CONFIG_INVALID: ${err.message}\n`);
    } else if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      io.err.write(`FILE_NOT_FOUND: ${(err as Error).message}\n`);
    } else {
      io.err.write(`INTERNAL: ${(err as Error).stack ?? String(err)}\n`);
    }
    return 2;
  }
}

class UsageError extends Error {}

function parsePolicy(v: string | undefined): PolicyName | undefined {
  if (v === undefined) return undefined;
  const r = PolicyNameSchema.safeParse(v);
  if (!r.success) throw new UsageError(`--policy must be one of ${POLICY_NAMES.join(', ')}`);
  return r.data;
}

function parseJobs(v: string | undefined): number {
  if (v === undefined) return availableParallelism();
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new UsageError('--jobs must be a positive integer');
  return n;
}

/** Progress on stderr for long runs, at most once every 500 images. */
function progress(io: { err: NodeJS.WritableStream }, quiet: boolean | undefined) {
  return (done: number, total: number) => {
    if (!quiet && (done % 500 === 0 || done === total)) io.err.write(`embedded ${done}/${total}\n`);
  };
}

/** The first lines where two texts differ, for a failed --check. */
function summarizeDiff(a: string, b: string): string {
  const x = a.split('\n');
  const y = b.split('\n');
  const out: string[] = [];
  for (let i = 0; i < Math.max(x.length, y.length) && out.length < 10; i++) {
    if (x[i] !== y[i]) out.push(`  line ${i + 1}: committed ${JSON.stringify(x[i] ?? '')}, now ${JSON.stringify(y[i] ?? '')}`);
  }
  return out.join('\n');
}
