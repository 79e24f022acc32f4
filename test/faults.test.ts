import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dataUri, until as untilHolds } from './support/http.ts';
import { redisUrlForTests } from './support/env.ts';
import { OwnRedis } from './support/redis-server.ts';
import { startService, tokenFor, type Service } from './support/service.ts';
import { tally } from './support/tally.ts';
import { findLeaks } from './support/leaks.ts';
import { dumpKeys } from '@facematch/queue/testing';

const uri = dataUri;
const curie1 = uri('person-a-1.jpg');
const curie2 = uri('person-a-2.jpg');

// These tests own their Redis; they still need the machine's redis-server, which CI installs.
const available = (await redisUrlForTests()) !== undefined;

async function call(base: string, method: string, path: string, body?: unknown, token = tokenFor(0)) {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { authorization: token, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(15_000),
  });
  const text = await res.text();
  return { status: res.status, retryAfter: res.headers.get('retry-after'), body: text ? JSON.parse(text) : undefined };
}

const V = '/ai/v1/face-verification';

const until = <T>(fn: () => Promise<T>, check: (v: T) => boolean) => untilHolds('the condition', fn, check, 600);

const finalStatus = (base: string, id: string) =>
  until(
    () => call(base, 'GET', `${V}/jobs/${id}`),
    (r) => r.body?.status === 'completed' || r.body?.status === 'failed',
  );

describe.skipIf(!available)('faults, against real processes and a Redis the test owns', () => {
  const redis = new OwnRedis();
  let svc: Service;
  beforeAll(async () => {
    await redis.start();
    svc = await startService(redis.url, { workers: 1, env: { WORKER_LOCK_MS: '2000' } });
  });
  afterAll(async () => {
    await redis.start().catch(() => {}); // processes shut down cleanly with their Redis there
    const left = await dumpKeys(redis.url, svc.prefix); // scanned here: this Redis goes away with the test
    await svc?.stop();
    expect(findLeaks(left)).toEqual([]);
    await redis.destroy();
  });

  it('restarting Redis with jobs queued and active: everyone reconnects and every job completes', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) ids.push((await call(svc.baseUrl, 'POST', `${V}/jobs`, { img1: curie1, img2: curie2 })).body.id);
    // Synchronised on state: one of them is active when Redis goes away.
    await until(() => Promise.all(ids.map((id) => call(svc.baseUrl, 'GET', `${V}/jobs/${id}`))), (rs) => rs.some((r) => r.body?.status === 'active'));
    await redis.stop();
    await redis.start();
    const results = await Promise.all(ids.map((id) => finalStatus(svc.baseUrl, id)));
    expect(results.map((r) => r.body.status)).toEqual(ids.map(() => 'completed'));
    tally.fault('Redis restarted with jobs queued and active');
    tally.jobs(ids.length, results.filter((r) => r.body.status === 'completed').length);
  });

  it('Redis down while a client submits: 503 with Retry-After, then recovery', async () => {
    await redis.stop();
    try {
      const r = await call(svc.baseUrl, 'POST', `${V}/jobs`, { img1: curie1, img2: curie2 });
      expect(r.status).toBe(503);
      expect(r.body.error.code).toBe('QUEUE_UNAVAILABLE');
      expect(Number(r.retryAfter)).toBeGreaterThan(0);
      const sync = await call(svc.baseUrl, 'POST', `${V}/verify`, { img1: curie1, img2: curie2 });
      expect([sync.status, sync.body.error.code]).toEqual([503, 'QUEUE_UNAVAILABLE']);
      expect((await call(svc.baseUrl, 'GET', '/readyz')).status).toBe(503);
      expect((await call(svc.baseUrl, 'GET', '/healthz')).status).toBe(200);
    } finally {
      await redis.start();
    }
    await until(() => call(svc.baseUrl, 'GET', '/readyz'), (r) => r.status === 200);
    const after = await call(svc.baseUrl, 'POST', `${V}/verify`, { img1: curie1, img2: curie2 });
    expect([after.status, after.body.verified]).toEqual([200, true]);
    tally.fault('Redis down while a client submits');
  });

  it('Redis down when the API boots: it starts, is not ready, then becomes ready by itself', async () => {
    await redis.stop();
    let api: Awaited<ReturnType<Service['startApi']>>;
    try {
      api = await svc.startApi();
      expect((await call(api.baseUrl, 'GET', '/healthz')).status).toBe(200);
      expect((await call(api.baseUrl, 'GET', '/readyz')).status).toBe(503);
    } finally {
      await redis.start();
    }
    await until(() => call(api.baseUrl, 'GET', '/readyz'), (r) => r.status === 200);
    expect((await call(api.baseUrl, 'POST', `${V}/verify`, { img1: curie1, img2: curie2 })).body.verified).toBe(true);
    tally.fault('Redis down when the API boots');
  });

  it('worker processes start and stop while jobs flow: every job reaches a final state', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 12; i++) ids.push((await call(svc.baseUrl, 'POST', `${V}/jobs`, { img1: curie1, img2: curie2 })).body.id);
    const second = await svc.startWorker();
    svc.workers[0]!.child.kill('SIGTERM'); // graceful stop of the first
    await svc.workers[0]!.exited;
    const third = await svc.startWorker();
    second.child.kill('SIGKILL'); // and a crash of the second
    await second.exited;
    svc.workers.splice(0, svc.workers.length, third);
    const results = await Promise.all(ids.map((id) => finalStatus(svc.baseUrl, id)));
    expect(results.map((r) => r.body.status)).toEqual(ids.map(() => 'completed'));
    tally.fault('workers started, stopped and killed while jobs flow');
    tally.jobs(ids.length, results.filter((r) => r.body.status === 'completed').length);
  });
});

describe.skipIf(!available)('overload', () => {
  const redis = new OwnRedis();
  let svc: Service;
  beforeAll(async () => {
    await redis.start();
    // No workers: jobs pile up, as they do when intake outruns the fleet.
    svc = await startService(redis.url, { workers: 0, env: { MAX_QUEUE_DEPTH: '3', RATE_LIMIT_PER_MIN: '6' } });
  });
  afterAll(async () => {
    await svc?.stop();
    await redis.destroy();
  });

  it('refuses submits past MAX_QUEUE_DEPTH with 503 and Retry-After; the queue stays bounded', async () => {
    const codes: number[] = [];
    const queued: string[] = [];
    let full: Awaited<ReturnType<typeof call>> | undefined;
    for (let i = 0; i < 5; i++) {
      const r = await call(svc.baseUrl, 'POST', `${V}/jobs`, { img1: curie1, img2: curie2 }, tokenFor(1));
      codes.push(r.status);
      if (r.status === 503) full = r;
      else queued.push(r.body.id);
    }
    expect(codes).toEqual([202, 202, 202, 503, 503]);
    expect(full!.body.error.code).toBe('QUEUE_FULL');
    expect(Number(full!.retryAfter)).toBeGreaterThan(0);
    // No worker will ever take these: DELETE purges a queued job and its images.
    for (const id of queued) expect((await call(svc.baseUrl, 'DELETE', `${V}/jobs/${id}`, undefined, tokenFor(1))).status).toBe(204);
    const left = [...(await dumpKeys(redis.url, svc.prefix)).keys()].filter((k) => k.includes(':fm:images:'));
    expect(left).toEqual([]);
    tally.fault('overload past MAX_QUEUE_DEPTH');
  });

  it('rate-limits one tenant with 429 and leaves the other alone', async () => {
    const codes: number[] = [];
    let limited: Awaited<ReturnType<typeof call>> | undefined;
    // Tenant A's junk counts towards its limit too: the limit is checked before the body is read.
    // 20 requests against a limit of 6: even if a minute boundary splits them, one window overflows.
    for (let i = 0; i < 20; i++) {
      const r = await call(svc.baseUrl, 'POST', `${V}/jobs`, { img1: 'data:image/jpeg;base64,AAAA', img2: curie2 }, tokenFor(0));
      codes.push(r.status);
      if (r.status === 429) limited = r;
    }
    expect(codes.filter((c) => c === 429).length).toBeGreaterThan(0);
    expect(limited!.body.error.code).toBe('RATE_LIMITED');
    expect(Number(limited!.retryAfter)).toBeGreaterThan(0);
    const other = await call(svc.baseUrl, 'GET', `${V}/jobs/unknown`, undefined, tokenFor(1));
    expect(other.status).toBe(404); // tenant B is served
    tally.fault('per-tenant rate limit');
  });
});
