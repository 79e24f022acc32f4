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

export const engineEnvSchema = z.object({
  TF_BACKEND: z.enum(['auto', 'cuda', 'tensorflow', 'wasm']).default('auto'),
  /** Where the staged weights live; unset means the repository's models/ folder. */
  MODELS_DIR: z.string().min(1).optional(),
  FACE_DETECTOR: z.enum(['auto', 'tiny', 'ssd']).default('auto'),
  /** Unset means the calibrated default that ships with the engine. */
  FACEMATCH_THRESHOLD: z.coerce.number().positive().max(2).optional(),
  MAX_IMAGE_PIXELS: posInt(40_000_000),
  MAX_IMAGE_BYTES: posInt(10 * 1024 * 1024),
  LOG_LEVEL: LogLevelSchema.default('info'),
});
export type EngineEnv = z.infer<typeof engineEnvSchema>;

export const cliEnvSchema = engineEnvSchema.extend({
  LOG_LEVEL: LogLevelSchema.default('warn'),
  /** Where the labelled photo sets live (tests and eval). */
  FACEMATCH_DATASETS: z.string().min(1).optional(),
});
export type CliEnv = z.infer<typeof cliEnvSchema>;

export const testEnvSchema = z.object({
  CI: z
    .string()
    .optional()
    .transform((v) => v === 'true' || v === '1'),
  FACEMATCH_DATASETS: z.string().min(1).optional(),
  REDIS_URL: z.string().url().optional(),
});
export type TestEnv = z.infer<typeof testEnvSchema>;

