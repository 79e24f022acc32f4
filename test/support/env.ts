import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseConfig, testEnvSchema } from '@facematch/config';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const FIXTURES = resolve(REPO_ROOT, 'test/fixtures/faces');
export const CLI_BIN = resolve(REPO_ROOT, 'apps/cli/bin/facematch.mjs');

const env = parseConfig(testEnvSchema);

/**
 * The labelled photo sets (FACEMATCH_DATASETS, default ../shared/datasets beside the clone).
 * Absent on a laptop: the caller skips and says so. Absent under CI=true: a failure, never a skip.
 */
export function datasetsDir(): string | undefined {
  const dir = resolve(REPO_ROOT, env.FACEMATCH_DATASETS ?? '../shared/datasets');
  if (existsSync(resolve(dir, 'dev-pairs.csv'))) return dir;
  if (env.CI) throw new Error(`CI=true but no datasets at ${dir}; set FACEMATCH_DATASETS`);
  console.warn(`[facematch tests] no datasets at ${dir}: dataset tests are skipped (set FACEMATCH_DATASETS)`);
  return undefined;
}

/** True only where a Docker engine answers, not merely where the `docker` client is installed. */
async function dockerEngineRuns(): Promise<boolean> {
  const { execFile } = await import('node:child_process');
  return new Promise((resolve) => execFile('docker', ['info'], { timeout: 10_000 }, (err) => resolve(!err)));
}

/**
 * The Redis the integration tests use: REDIS_URL when set, else the local default if it answers, else a
 * testcontainers Redis where a Docker engine really runs. Absent under CI=true: a failure, never a skip.
 */
export async function redisUrlForTests(): Promise<string | undefined> {
  const { redisAnswers } = await import('@facematch/queue');
  const url = env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  if (await redisAnswers(url)) return url;
  if (!env.REDIS_URL && (await dockerEngineRuns())) {
    const { GenericContainer } = await import('testcontainers');
    // testcontainers' reaper removes the container when this test process ends.
    const redis = await new GenericContainer('redis:7-alpine').withExposedPorts(6379).start();
    return `redis://${redis.getHost()}:${redis.getMappedPort(6379)}`;
  }
  if (env.CI) throw new Error(`CI=true but no Redis answers at ${url}`);
  console.warn(`[facematch tests] no Redis at ${url} and no Docker engine: service tests are skipped (set REDIS_URL)`);
  return undefined;
}
