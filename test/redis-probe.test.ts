import { afterAll, describe, expect, it } from 'vitest';
import { redisAnswers, redisProcessId } from '@facematch/queue';
import { redisUrlForTests } from './support/env.ts';
import { OwnRedis } from './support/redis-server.ts';

// The bench reads Redis's CPU time from /proc under the pid Redis reports; a Redis of the test's own
// has a pid the test knows. It needs the machine's redis-server, as the outage tests do.
const available = (await redisUrlForTests()) !== undefined;

describe.skipIf(!available)('probing a Redis', () => {
  const redis = new OwnRedis();
  afterAll(() => redis.destroy());

  it('reports the pid of the server that answers, and nothing once it is gone', async () => {
    await redis.start();
    expect(await redisAnswers(redis.url)).toBe(true);
    expect(await redisProcessId(redis.url)).toBe(redis.pid);
    await redis.stop();
    expect(await redisAnswers(redis.url, 300)).toBe(false);
    expect(await redisProcessId(redis.url, 300)).toBeUndefined();
  });
});
