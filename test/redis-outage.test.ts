import { afterAll, describe, expect, it } from 'vitest';
import { parseConfig, testEnvSchema } from '@facematch/config';
import { VerifyQueueClient } from '@facematch/queue';
import { redisUrlForTests } from './support/env.ts';
import { OwnRedis } from './support/redis-server.ts';

// A Redis of the test's own, stopped and started under a live client; it needs the machine's redis-server.
const available = (await redisUrlForTests()) !== undefined;

describe.skipIf(!available)('Redis outages in the log', () => {
  const redis = new OwnRedis();
  afterAll(() => redis.destroy());

  it('each connection warns once when Redis goes away and logs its return, with the outage’s length and errors', async () => {
    await redis.start();
    const lines: { level: 'warn' | 'info'; msg: string; obj: { connection?: string; errors?: number; downMs?: number } }[] = [];
    const waiters: { n: number; level: string; resolve: () => void }[] = [];
    const push = (level: 'warn' | 'info') => (obj: object, msg: string) => {
      lines.push({ level, msg, obj });
      for (const w of waiters) if (lines.filter((l) => l.level === w.level).length >= w.n) w.resolve();
    };
    const seen = (level: string, n: number) =>
      new Promise<void>((resolve) => {
        if (lines.filter((l) => l.level === level).length >= n) resolve();
        else waiters.push({ n, level, resolve });
      });
    const queue = VerifyQueueClient.create(
      { redisUrl: redis.url, prefix: `fmtest-${parseConfig(testEnvSchema).FACEMATCH_TEST_RUN ?? 'adhoc'}-outage`, resultTtlS: 60, imageTtlS: 60, attempts: 1, maxQueueDepth: 10, rateLimitPerMin: 0 },
      { warn: push('warn'), info: push('info') },
    );
    try {
      await expect.poll(() => queue.ping(), { timeout: 10_000 }).toBe(true);
      await redis.stop();
      await seen('warn', 2); // the API's producer connection and its queue-events connection
      // The outage goes on while both reconnect and fail a few times (bounded polling of the state).
      let failed = 0;
      for (let i = 0; i < 50 && failed < 6; i++) {
        if (!(await queue.ping())) failed++;
        await new Promise((r) => setTimeout(r, 300));
      }
      await redis.start();
      await seen('info', 2);
      expect(await queue.ping()).toBe(true);
      const warns = lines.filter((l) => l.level === 'warn');
      const infos = lines.filter((l) => l.level === 'info');
      expect(warns.map((l) => l.msg)).toEqual(['Redis connection lost; reconnecting', 'Redis connection lost; reconnecting']);
      expect(new Set(warns.map((l) => l.obj.connection))).toEqual(new Set(['facematch:api', 'facematch:api-events']));
      expect(infos.map((l) => l.msg)).toEqual(['Redis connection restored', 'Redis connection restored']);
      expect(new Set(infos.map((l) => l.obj.connection))).toEqual(new Set(['facematch:api', 'facematch:api-events']));
      // One warning stood for several failed reconnects: the count says how many.
      for (const l of infos) expect(l.obj.errors).toBeGreaterThanOrEqual(2);
      for (const l of infos) expect(l.obj.downMs).toBeGreaterThan(0);
    } finally {
      await queue.close();
    }
  });
});
