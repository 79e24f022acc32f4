import { z } from 'zod';

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  - ${problems.join('\n  - ')}`);
  }
}

type Env = Record<string, string | undefined>;

/** Parses `env` with `schema`, failing once with every bad variable listed. */
export function parseConfig<S extends z.ZodType>(schema: S, env: Env = process.env): z.infer<S> {
  const res = schema.safeParse(env);
  if (res.success) return res.data;
  throw new ConfigError(res.error.issues.map((i) => `${i.path.join('.') || '(env)'}: ${i.message}`));
}

const posInt = (def: number) => z.coerce.number().int().positive().default(def);

export const LogLevelSchema = z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']);

/** How results are decided: the worker decides by these, and the API's GET /model describes them. */
const decisionEnv = {
  /** The named operating point requests get when they name none; unset means the calibration file's default. */
  FACEMATCH_POLICY: z.enum(['fmr_1e-2', 'fmr_1e-3', 'fmr_1e-4']).optional(),
  /** Expert override of the default policy's threshold (decided as policy `custom`, with no review band). */
  FACEMATCH_THRESHOLD: z.coerce.number().positive().max(2).optional(),
  /** The calibration file; unset means the one that ships with the models (models/calibration.json). */
  FACEMATCH_CALIBRATION: z.string().min(1).optional(),
  /** An operator's recogniser descriptor (JSON) instead of face-api's ResNet; see docs/engine.md. */
  FACEMATCH_RECOGNISER: z.string().min(1).optional(),
};

/** The runtime: `auto` takes cuda (tfjs-node-gpu with a visible GPU), then onnx (onnxruntime-node), then wasm. */
const tfBackend = z.enum(['auto', 'cuda', 'tensorflow', 'wasm', 'onnx']).default('auto');

export const engineEnvSchema = z.object({
  TF_BACKEND: tfBackend,
  /** Where the staged weights live; unset means the repository's models/ folder. */
  MODELS_DIR: z.string().min(1).optional(),
  FACE_DETECTOR: z.enum(['auto', 'tiny', 'ssd']).default('auto'),
  ...decisionEnv,
  MAX_IMAGE_PIXELS: posInt(40_000_000),
  MAX_IMAGE_BYTES: posInt(10 * 1024 * 1024),
  /** Recognition micro-batch: unset means on (8) for native backends, off for WASM. 1 turns it off. */
  BATCH_SIZE: z.coerce.number().int().positive().optional(),
  BATCH_WINDOW_MS: posInt(5),
  /**
   * onnxruntime intra-op threads per session. 1: the service runs one worker process per core, so a
   * second thread would only contend with the neighbouring process.
   */
  ONNX_THREADS: posInt(1),
  /** onnxruntime execution providers, in order (`cuda,cpu` on a GPU host with the CUDA provider installed). */
  ONNX_PROVIDERS: z
    .string()
    .default('cpu')
    .transform((v) => v.split(',').map((p) => p.trim()).filter(Boolean))
    .pipe(z.array(z.enum(['cpu', 'cuda', 'webgpu'])).min(1)),
  LOG_LEVEL: LogLevelSchema.default('info'),
});
export type EngineEnv = z.infer<typeof engineEnvSchema>;

export const cliEnvSchema = engineEnvSchema.extend({
  LOG_LEVEL: LogLevelSchema.default('warn'),
  /** Where the labelled photo sets live (tests and eval). */
  FACEMATCH_DATASETS: z.string().min(1).optional(),
  /** Remote mode (`verify --url`): the service, and a token or an API key and secret to mint one. */
  FACEMATCH_URL: z.string().url().optional(),
  FACEMATCH_TOKEN: z.string().min(1).optional(),
  FACEMATCH_API_KEY: z.string().min(1).optional(),
  FACEMATCH_API_SECRET: z.string().min(1).optional(),
});
export type CliEnv = z.infer<typeof cliEnvSchema>;

export const testEnvSchema = z.object({
  CI: z
    .string()
    .optional()
    .transform((v) => v === 'true' || v === '1'),
  FACEMATCH_DATASETS: z.string().min(1).optional(),
  REDIS_URL: z.string().url().optional(),
  /** Where the test processes append their tally lines; set by the test suite's global setup. */
  FACEMATCH_TALLY_FILE: z.string().optional(),
  /** This test run's id, set by the global setup: every Redis prefix of the run starts fmtest-<id>-. */
  FACEMATCH_TEST_RUN: z.string().regex(/^[a-z0-9]+$/).optional(),
});
export type TestEnv = z.infer<typeof testEnvSchema>;


const redisUrl = z.string().regex(/^rediss?:\/\//, 'must be a redis:// or rediss:// URL').default('redis://127.0.0.1:6379');
const nodeEnv = z.enum(['development', 'production', 'test']).default('development');

/** "apikey:secret[,apikey:secret...]" */
const tenantList = z
  .string()
  .optional()
  .transform((v, ctx) => {
    const out: { apiKey: string; secret: string }[] = [];
    for (const part of (v ?? '').split(',').map((s) => s.trim()).filter(Boolean)) {
      const i = part.indexOf(':');
      const apiKey = part.slice(0, i);
      const secret = part.slice(i + 1);
      if (i <= 0 || secret.length < 16) {
        ctx.addIssue({ code: 'custom', message: `each tenant is apikey:secret with a secret of 16+ characters (bad entry "${apiKey || part.slice(0, 8)}...")` });
        return z.NEVER;
      }
      out.push({ apiKey, secret });
    }
    return out;
  });

/** "apikey:whsec_...[,apikey:whsec_...]" */
const webhookSecretList = z
  .string()
  .optional()
  .transform((v, ctx) => {
    const out = new Map<string, string>();
    for (const part of (v ?? '').split(',').map((x) => x.trim()).filter(Boolean)) {
      const i = part.indexOf(':');
      const secret = part.slice(i + 1);
      const bytes = Buffer.from(secret.replace(/^whsec_/, ''), 'base64').length;
      if (i <= 0 || !secret.startsWith('whsec_') || bytes < 24 || bytes > 64) {
        ctx.addIssue({ code: 'custom', message: 'each entry is apikey:whsec_<base64 of 24-64 random bytes>' });
        return z.NEVER;
      }
      out.set(part.slice(0, i), secret);
    }
    return out;
  });

const bool = z
  .enum(['true', 'false', '1', '0', ''])
  .default('false')
  .transform((v) => v === 'true' || v === '1');

/** "80,443" (a comma list of ports) or "*" for any; empty means the default. */
const portList = z.preprocess(
  (v) => (v === '' ? undefined : v),
  z
    .string()
    .default('80,443')
    .transform((v, ctx): ReadonlySet<number> | 'any' => {
      if (v.trim() === '*') return 'any';
      const ports = v.split(',').map((p) => p.trim()).filter(Boolean);
      if (ports.length === 0 || ports.some((p) => !/^\d{1,5}$/.test(p) || Number(p) < 1 || Number(p) > 65535)) {
        ctx.addIssue({ code: 'custom', message: 'a comma list of ports 1-65535 (e.g. 80,443), or * for any' });
        return z.NEVER;
      }
      return new Set(ports.map(Number));
    }),
);

const webhookEnv = {
  /**
   * Lets webhooks reach loopback and private networks, on any port (local receivers listen on random
   * ports, so WEBHOOK_PORTS does not apply): local development and tests only.
   */
  WEBHOOK_ALLOW_PRIVATE: bool,
  /** Ports a webhook may target; other ports are internal services more often than receivers. */
  WEBHOOK_PORTS: portList,
  WEBHOOK_TIMEOUT_MS: posInt(10_000),
  /** 15 attempts from a 10 s base, doubling to a 6 h cap: about 23 h of retries. */
  WEBHOOK_MAX_ATTEMPTS: posInt(15),
  WEBHOOK_BACKOFF_MS: posInt(10_000),
};

const noPrivateWebhooksInProduction = (env: { NODE_ENV: string; WEBHOOK_ALLOW_PRIVATE: boolean }, ctx: z.RefinementCtx) => {
  if (env.NODE_ENV === 'production' && env.WEBHOOK_ALLOW_PRIVATE) {
    ctx.addIssue({ code: 'custom', path: ['WEBHOOK_ALLOW_PRIVATE'], message: 'private webhook targets are never allowed in production' });
  }
};

const queueEnv = {
  REDIS_URL: redisUrl,
  QUEUE_PREFIX: z.string().regex(/^[A-Za-z0-9_.-]+$/).default('facematch'),
  RESULT_TTL_S: posInt(24 * 3600),
  LOG_LEVEL: LogLevelSchema.default('info'),
  NODE_ENV: nodeEnv,
};

export const apiEnvSchema = z
  .object({
    ...queueEnv,
    HOST: z.string().default('0.0.0.0'),
    /** API processes sharing the port (node:cluster); the ingress is CPU-bound on JSON and image checks. */
    API_PROCESSES: posInt(1),
    PORT: z.coerce.number().int().min(0).max(65535).default(8080),
    FACEMATCH_TENANTS: tenantList,
    SYNC_WAIT_MS: posInt(30_000),
    HEADERS_TIMEOUT_MS: posInt(10_000),
    REQUEST_TIMEOUT_MS: posInt(60_000),
    MAX_BODY_BYTES: posInt(15 * 1024 * 1024),
    MAX_IMAGE_BYTES: posInt(10 * 1024 * 1024),
    MAX_IMAGE_PIXELS: posInt(40_000_000),
    /** Images wait at most this long in Redis for a worker. */
    IMAGE_TTL_S: posInt(3600),
    JOB_ATTEMPTS: posInt(3),
    /** Waiting jobs beyond which submits get 503 QUEUE_FULL with Retry-After. */
    MAX_QUEUE_DEPTH: posInt(1000),
    /** Requests per tenant per minute; 0 turns the limit off. */
    RATE_LIMIT_PER_MIN: z.coerce.number().int().nonnegative().default(600),
    FACEMATCH_WEBHOOK_SECRETS: webhookSecretList,
    ...decisionEnv,
    FACE_DETECTOR: z.enum(['auto', 'tiny', 'ssd']).default('auto'),
    /** Turns on the Bull Board dashboard at /admin/queues, for holders of this token. Unset: no dashboard. */
    ADMIN_TOKEN: z.preprocess((v) => (v === '' ? undefined : v), z.string().min(16, 'must be at least 16 characters').optional()),
    ...webhookEnv,
  })
  .superRefine((env, ctx) => {
    noPrivateWebhooksInProduction(env, ctx);
    if (env.NODE_ENV === 'production' && env.FACEMATCH_TENANTS.length === 0) {
      ctx.addIssue({ code: 'custom', path: ['FACEMATCH_TENANTS'], message: 'required in production (apikey:secret[,apikey:secret...])' });
    }
  });
export type ApiEnv = z.infer<typeof apiEnvSchema>;

export const workerEnvSchema = engineEnvSchema
  .extend({
    ...queueEnv,
    WORKER_CONCURRENCY: posInt(1),
    WORKER_LOCK_MS: posInt(30_000),
    SHUTDOWN_TIMEOUT_MS: posInt(25_000),
    /**
     * How long a worker keeps retrying a write Redis refuses (OOM, READONLY in a failover, MISCONF) or a
     * lost connection, holding a finished job, before failing the attempt as QUEUE_UNAVAILABLE. Longer
     * than a Sentinel failover (about 30 s with its defaults).
     */
    REDIS_OUTAGE_MS: posInt(60_000),
    FACEMATCH_WEBHOOK_SECRETS: webhookSecretList,
    /** Deliveries in flight per worker process: they wait on the network, not the CPU. */
    WEBHOOK_CONCURRENCY: posInt(16),
    /** Serves this worker's Prometheus metrics at GET /metrics on this port (plus WORKER_SLOT). Unset: off. */
    METRICS_PORT: z.coerce.number().int().min(0).max(65535).optional(),
    /** Loopback unless told otherwise: the metrics port has no authentication. */
    METRICS_HOST: z.string().default('127.0.0.1'),
    /** Set by the worker supervisor: this process's index, so N workers on one host get N metrics ports. */
    WORKER_SLOT: z.coerce.number().int().nonnegative().default(0),
    ...webhookEnv,
  })
  .superRefine(noPrivateWebhooksInProduction);
export type WorkerEnv = z.infer<typeof workerEnvSchema>;

/** `npm start`: the API and a supervised pool of workers, with a development tenant if none is set. */
export const launcherEnvSchema = z.object({
  ...queueEnv,
  WORKERS: z.coerce.number().int().positive().optional(),
  PORT: z.coerce.number().int().min(0).max(65535).default(8080),
  /** Worker k serves its metrics on METRICS_PORT+k. */
  METRICS_PORT: z.coerce.number().int().min(1).max(65535).default(9464),
  FACEMATCH_TENANTS: z.string().optional(),
  FACEMATCH_WEBHOOK_SECRETS: z.string().optional(),
  /** Passed on to the workers; read here only to say which backend they were told to use. */
  TF_BACKEND: tfBackend,
});
export type LauncherEnv = z.infer<typeof launcherEnvSchema>;

/** For a process's entry point: parse once, or print every bad variable and exit 2. */
export function loadConfigOrExit<S extends z.ZodType>(schema: S, role: string): z.infer<S> {
  try {
    return parseConfig(schema);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    console.error(`facematch ${role}: ${err.message}`);
    process.exit(2);
  }
}

/** `npm run bench`: where the photos and Redis are. */
export const benchEnvSchema = z.object({
  FACEMATCH_DATASETS: z.string().min(1).optional(),
  REDIS_URL: z.string().url().optional(),
});
