import { readFile, writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { parseTtl, signToken } from '@facematch/auth';
import { cliEnvSchema, ConfigError, parseConfig } from '@facematch/config';
import { isFaceMatchError } from '@facematch/contracts';
import { FaceMatchApiError, FaceMatchClient } from '@facematch/client';
import { FaceEngine, engineOptionsFromEnv } from '@facematch/engine';
import { evaluate, formatReport } from './eval.ts';
import { readPairs } from './pairs.ts';

const USAGE = `usage:
  facematch verify <img1> <img2>             exit 0 same person, 1 different, 2 error
  facematch verify --url <baseUrl> [--token <jwt> | --apikey <key> --secret <secret>] <img1> <img2>
                                             the same, through a running service (the SDK)
  facematch token --apikey <key> --secret <secret> [--ttl 2h]   print an API token
  facematch eval --pairs <file.csv> [--root <dir>] [--threshold t] [--json] [--distances <out.csv>] [--reference]

environment: TF_BACKEND=auto|cuda|tensorflow|wasm, FACE_DETECTOR=auto|tiny|ssd, FACEMATCH_THRESHOLD, MODELS_DIR;
remote mode: FACEMATCH_URL, FACEMATCH_TOKEN, or FACEMATCH_API_KEY and FACEMATCH_API_SECRET`;

/** Returns the process exit code; never calls process.exit so tests can drive it. */
export async function main(argv: string[], io = { out: process.stdout, err: process.stderr }): Promise<number> {
  const [command, ...rest] = argv;
  try {
    const env = parseConfig(cliEnvSchema);
    const makeEngine = (threshold?: number) =>
      FaceEngine.create({
        ...engineOptionsFromEnv(env, env.LOG_LEVEL === 'info' || env.LOG_LEVEL === 'debug' ? (msg, f) => io.err.write(`${msg} ${JSON.stringify(f)}\n`) : undefined),
        ...(threshold === undefined ? {} : { threshold }),
      });

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
        options: { url: { type: 'string' }, token: { type: 'string' }, apikey: { type: 'string' }, secret: { type: 'string' } },
      });
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
        result = await client.verify(a!, b!);
      } else {
        const engine = await makeEngine();
        result = await engine.verify(a!, b!);
      }
      io.out.write(`${JSON.stringify(result, null, 2)}\n`);
      return result.verified ? 0 : 1;
    }

    if (command === 'eval') {
      const { values } = parseArgs({
        args: rest,
        options: { pairs: { type: 'string' }, root: { type: 'string' }, threshold: { type: 'string' }, json: { type: 'boolean' }, distances: { type: 'string' }, reference: { type: 'boolean' } },
      });
      if (!values.pairs) throw new UsageError('eval needs --pairs <file.csv>');
      const threshold = values.threshold === undefined ? undefined : Number(values.threshold);
      if (threshold !== undefined && !(threshold > 0)) throw new UsageError('--threshold must be a positive number');
      const pairs = readPairs(values.pairs, values.root);
      // The engine decides at this threshold too, so its mirror pass runs for the pairs near it.
      const engine = await makeEngine(threshold);
      const report = await evaluate(engine, pairs, { reference: values.reference });
      const { distances, ...summary } = report;
      if (values.distances) {
        const rows = distances.map((d) => `${d.img1},${d.img2},${d.same ? 1 : 0},${d.distance ?? ''}`);
        await writeFile(values.distances, `img1,img2,same,distance\n${rows.join('\n')}\n`);
      }
      io.out.write(values.json ? `${JSON.stringify(summary)}\n` : `${formatReport(report)}\n`);
      return 0;
    }

    throw new UsageError(command ? `unknown command "${command}"` : 'no command given');
  } catch (err) {
    if (isFaceMatchError(err) || err instanceof FaceMatchApiError) {
      io.err.write(`${err.code}: ${err.message}\n`);
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
