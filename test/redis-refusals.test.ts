import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dataUri } from './support/http.ts';
import { redisUrlForTests } from './support/env.ts';
import { findLeaks } from './support/leaks.ts';
import { OwnRedis } from './support/redis-server.ts';
import { redisCommand } from './support/resp.ts';
import { startService, tokenFor, type Service } from './support/service.ts';
import { tally } from './support/tally.ts';

const uri = dataUri;
const same = { img1: uri('person-a-1.jpg'), img2: uri('person-a-2.jpg') };
const V = '/ai/v1/face-verification';

// These tests make their own Redis refuse writes; they need the machine's redis-server, which CI installs.
const available = (await redisUrlForTests()) !== undefined;

async function post(base: string, path: string, body: unknown) {
  const res = await fetch(`${base}${V}${path}`, {
    method: 'POST',
    headers: { authorization: tokenFor(0), 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(90_000),
  });
  const text = await res.text();
  return { status: res.status, retryAfter: res.headers.get('retry-after'), body: text ? JSON.parse(text) : undefined };
}

describe.skipIf(!available)('Redis refusing writes (out of memory under noeviction), against real processes', () => {
  const redis = new OwnRedis();
  let svc: Service;
  // maxmemory below what Redis already uses: every write that may allocate (SET, HSET, XADD, script
  // writes) is refused with OOM, as under the compose file's noeviction policy when memory runs out.
  const refuseWrites = () => redisCommand(redis.url, 'CONFIG', 'SET', 'maxmemory', '1');
  const acceptWrites = () => redisCommand(redis.url, 'CONFIG', 'SET', 'maxmemory', '0');
  const activeJobs = async () => (await redisCommand(redis.url, 'LRANGE', `${svc.prefix}:face-verification:active`, 0, -1)) as string[];

  beforeAll(async () => {
    await redis.start();
    await redisCommand(redis.url, 'CONFIG', 'SET', 'maxmemory-policy', 'noeviction');
    // The rate limit's INCR is a write too; off here, so that the refused write is the image SET.
    svc = await startService(redis.url, { workers: 1, env: { RATE_LIMIT_PER_MIN: '0' } });
  });
  afterAll(async () => {
    await acceptWrites().catch(() => {});
    await svc?.stop();
    await redis.destroy();
  });

  it('a refused image write answers 503 with Retry-After, and no image byte reaches the log', async () => {
    const linesBefore = svc.api.output.length;
    await refuseWrites();
    let sync, async_;
    try {
      sync = await post(svc.baseUrl, '/verify', same);
      async_ = await post(svc.baseUrl, '/jobs', same);
    } finally {
      await acceptWrites();
    }
    for (const r of [sync, async_]) {
      expect([r.status, r.body.error.code]).toEqual([503, 'QUEUE_UNAVAILABLE']);
      expect(Number(r.retryAfter)).toBeGreaterThan(0);
    }
    // The refusal happened and was logged, by command name, without the command's arguments. The log is
    // what is under test here; its lines reach the pipe after the response does, so poll for them (bounded).
    const failuresIn = (lines: string[]) => lines.filter((l) => l.includes('"msg":"request failed"'));
    for (let i = 0; i < 100 && failuresIn(svc.api.output.slice(linesBefore)).length < 2; i++) await new Promise((r) => setTimeout(r, 50));
    const lines = svc.api.output.slice(linesBefore);
    const failures = failuresIn(lines);
    expect(failures.length).toBeGreaterThanOrEqual(2);
    expect(failures.join('\n')).toMatch(/OOM command not allowed/);
    expect(findLeaks(lines.map((l, i) => [`api log line ${i}`, l] as [string, string]))).toEqual([]);
    expect(Math.max(...lines.map((l) => l.length))).toBeLessThan(20_000);
    // And once Redis accepts writes again, the same request goes through.
    expect((await post(svc.baseUrl, '/verify', same)).body.verified).toBe(true);
    tally.fault('Redis refuses the image write (OOM)');
  });

  it('a job active through 10 s of write refusals completes: no attempt spent, no 500', async () => {
    // The refusal must land while the job is active: watch the active list, and start over if the job
    // finished before the refusal did (bounded: a pair takes a few hundred ms, the check a millisecond).
    let landed = false;
    let outcome: Awaited<ReturnType<typeof post>> | undefined;
    for (let attempt = 0; attempt < 5 && !landed; attempt++) {
      const pending = post(svc.baseUrl, '/verify', same);
      let active: string[] = [];
      for (let i = 0; i < 5000 && active.length === 0; i++) active = await activeJobs();
      await refuseWrites();
      try {
        landed = active.length > 0 && (await activeJobs()).includes(active[0]!);
        if (landed) {
          await new Promise((r) => setTimeout(r, 10_000)); // the outage's length, not a synchronisation
          // Ten seconds on, the job is still active: it could not finish while Redis refused, and was not failed.
          expect(await activeJobs()).toContain(active[0]);
        }
      } finally {
        await acceptWrites();
      }
      outcome = await pending;
    }
    expect(landed).toBe(true);
    // The worker held the finished pair and recorded it once Redis took writes again: the client's
    // synchronous answer is the result (REDIS_OUTAGE_MS, 60 s by default, is far from spent).
    expect([outcome!.status, outcome!.body.verified]).toEqual([200, true]);
    expect(findLeaks(svc.workers[0]!.output.map((l, i) => [`worker log line ${i}`, l] as [string, string]))).toEqual([]);
    tally.fault('Redis refuses writes for 10 s while a job is active');
    tally.jobs(1, 1);
  });
});
