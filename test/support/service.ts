import { fork, type ChildProcess } from 'node:child_process';
import { appendFileSync } from 'node:fs';
import { parseConfig, testEnvSchema } from '@facematch/config';
import { deleteKeys, dumpKeys, expireKeys } from '@facematch/queue/testing';
import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import { signToken } from '@facematch/auth';
import { REPO_ROOT } from './env.ts';
import { TSX_IMPORT } from '@facematch/supervisor';

export const TENANTS = [
  { apiKey: 'tenant-a', secret: 'secret-a-0123456789abcdef' },
  { apiKey: 'tenant-b', secret: 'secret-b-0123456789abcdef' },
] as const;

export const tokenFor = (i: 0 | 1, ttlSeconds = 600) => signToken({ apiKey: TENANTS[i].apiKey, secret: TENANTS[i].secret, ttlSeconds });

export interface Proc {
  child: ChildProcess;
  /** Everything the process printed, for assertions and for waiting on a log line. */
  output: string[];
  /** Resolves with the first output line matching, however late it comes. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** Resolves once the process has exited and its output is all read ('close', not 'exit'). */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** The process's ready message (a worker's names its backend and metrics port). */
  ready?: Record<string, unknown>;
}

function start(script: string, env: NodeJS.ProcessEnv, readyType: string): Promise<{ proc: Proc; message: Record<string, unknown> }> {
  const child = fork(resolve(REPO_ROOT, script), [], {
    execArgv: ['--import', TSX_IMPORT],
    env: { ...process.env, LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  const output: string[] = [];
  const waiters: { pattern: RegExp; resolve: (l: string) => void }[] = [];
  const onData = (buf: Buffer) => {
    for (const line of buf.toString().split('\n').filter(Boolean)) {
      output.push(line);
      for (const w of waiters.filter((x) => x.pattern.test(line))) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(line);
      }
    }
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) => child.once('close', (code, signal) => res({ code, signal })));
  const proc: Proc = {
    child,
    output,
    exited,
    waitFor: (pattern, timeoutMs = 60_000) =>
      new Promise((res, rej) => {
        const hit = output.find((l) => pattern.test(l));
        if (hit) return res(hit);
        const t = setTimeout(() => rej(new Error(`timed out waiting for ${pattern} in:\n${output.slice(-20).join('\n')}`)), timeoutMs);
        waiters.push({ pattern, resolve: (l) => (clearTimeout(t), res(l)) });
      }),
  };
  return new Promise((res, rej) => {
    child.on('message', (m: Record<string, unknown>) => {
      if (m.type === readyType) res({ proc, message: m });
    });
    void exited.then(({ code }) => rej(new Error(`${script} exited with ${code} before it was ready:\n${output.join('\n')}`)));
  });
}

export interface Service {
  baseUrl: string;
  prefix: string;
  redisUrl: string;
  api: Proc;
  workers: Proc[];
  startApi(env?: NodeJS.ProcessEnv): Promise<{ baseUrl: string; proc: Proc }>;
  startWorker(env?: NodeJS.ProcessEnv): Promise<Proc>;
  stop(): Promise<void>;
}

/** The real API and real worker processes, on a queue prefix of their own. */
export async function startService(redisUrl: string, opts: { workers?: number; env?: NodeJS.ProcessEnv } = {}): Promise<Service> {
  // Under the suite, this run's prefix (its leak scan reads exactly these keys); a bench or ad-hoc run has its own.
  const run = parseConfig(testEnvSchema).FACEMATCH_TEST_RUN ?? `adhoc${randomBytes(2).toString('hex')}`;
  const prefix = `fmtest-${run}-${randomBytes(4).toString('hex')}`;
  const common = {
    REDIS_URL: redisUrl,
    QUEUE_PREFIX: prefix,
    TF_BACKEND: 'wasm',
    FACEMATCH_TENANTS: TENANTS.map((t) => `${t.apiKey}:${t.secret}`).join(','),
    ...opts.env,
  };
  const procs: Proc[] = [];
  // Should this run be killed before stop() empties its prefix, what it left expires within the hour: every
  // few seconds each key of the prefix without a TTL gets one (an hour: no test runs that long).
  const leftovers = setInterval(() => void expireKeys(redisUrl, prefix, 3600).catch(() => {}), 5000);
  leftovers.unref();
  const startApi = async (env: NodeJS.ProcessEnv = {}) => {
    const { proc, message } = await start('apps/api/src/main.ts', { ...common, HOST: '127.0.0.1', PORT: '0', ...env }, 'listening');
    procs.push(proc);
    return { baseUrl: `http://127.0.0.1:${message.port as number}`, proc };
  };
  const startWorker = async (env: NodeJS.ProcessEnv = {}) => {
    const { proc, message } = await start('apps/worker/src/main.ts', { ...common, ...env }, 'ready');
    proc.ready = message;
    procs.push(proc);
    return proc;
  };
  const [api, ...workers] = await Promise.all([startApi(), ...Array.from({ length: opts.workers ?? 1 }, () => startWorker())]);
  return {
    baseUrl: api!.baseUrl,
    prefix,
    redisUrl,
    api: api!.proc,
    workers: workers as Proc[],
    startApi,
    startWorker,
    async stop() {
      clearInterval(leftovers);
      await Promise.all(
        procs.map(async (p) => {
          if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGTERM');
          await p.exited;
        }),
      );
      // Every line the services printed and every key they left is kept for the suite's final leak scan;
      // then the prefix is emptied, so test runs do not pile up in Redis.
      const file = parseConfig(testEnvSchema).FACEMATCH_TALLY_FILE;
      if (file) {
        appendFileSync(`${file}.logs`, procs.flatMap((p) => p.output).map((l) => `${l}\n`).join(''));
        const keys = await dumpKeys(redisUrl, prefix);
        appendFileSync(`${file}.keys`, [...keys].map((entry) => `${JSON.stringify(entry)}\n`).join(''));
      }
      await deleteKeys(redisUrl, prefix);
    },
  };
}
