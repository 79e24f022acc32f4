import axios from 'axios';
import jwt from 'jsonwebtoken';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorBodySchema, JobViewSchema, VerifyResultSchema } from '@facematch/contracts';
import { VERIFY_QUEUE } from '@facematch/queue';
import { dumpKeys } from '@facematch/queue/testing';
import { redisUrlForTests } from './support/env.ts';
import { dataUri, photo, until, untilFinal } from './support/http.ts';
import { redisCommand } from './support/resp.ts';
import { TENANTS, startService, tokenFor, type Service } from './support/service.ts';
import { tally } from './support/tally.ts';

const uri = (buf: Buffer) => dataUri(buf);
const curie1 = uri(photo('person-a-1.jpg'));
const curie2 = uri(photo('person-a-2.jpg'));
const collins = uri(photo('person-b-1.jpg'));
const coffee = uri(photo('no-face.jpg'));

const redisUrl = await redisUrlForTests();

async function call(base: string, method: string, path: string, opts: { token?: string | null; body?: unknown; headers?: Record<string, string> } = {}) {
  const headers: Record<string, string> = { 'content-type': 'application/json', ...opts.headers };
  if (opts.token !== null) headers.authorization = opts.token ?? tokenFor(0);
  const res = await fetch(`${base}/ai/v1/face-verification${path}`, {
    method,
    headers,
    body: opts.body === undefined ? undefined : typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : undefined };
}

const pollUntilFinal = untilFinal;

describe.skipIf(!redisUrl)('the service, through real processes and Redis', () => {
  let svc: Service;
  beforeAll(async () => {
    svc = await startService(redisUrl!, { workers: 1 });
  });
  afterAll(async () => {
    await svc?.stop();
  });

  const imageBytesLeft = async () => {
    // Slices of the real images, as base64 and as raw bytes, searched in every key and value.
    const markers = [curie1.slice(40, 120), coffee.slice(40, 120), ...['person-a-1.jpg', 'no-face.jpg'].map((f) => photo(f).subarray(200, 260).toString('latin1'))];
    const dump = await dumpKeys(redisUrl!, svc.prefix);
    return [...dump].filter(([k, v]) => k.includes(':fm:images:') || markers.some((m) => v.includes(m)));
  };

  it('answers the seed contract: same person', async () => {
    const r = await call(svc.baseUrl, 'POST', '/verify', { body: { img1: curie1, img2: curie2 } });
    expect(r.status).toBe(200);
    expect(r.body.verified).toBe(true);
    expect(VerifyResultSchema.parse(r.body).model.backend).toBe('wasm');
  });

  it('answers the seed contract: different people', async () => {
    const r = await call(svc.baseUrl, 'POST', '/verify', { body: { img1: curie1, img2: collins } });
    expect(r.status).toBe(200);
    expect(r.body.verified).toBe(false);
  });

  it('leaves no image bytes in Redis after a success', async () => {
    expect(await imageBytesLeft()).toEqual([]);
  });

  it('answers NO_FACE with 422 and leaves no image bytes after the failure', async () => {
    const r = await call(svc.baseUrl, 'POST', '/verify', { body: { img1: curie1, img2: coffee } });
    expect(r.status).toBe(422);
    expect(ErrorBodySchema.parse(r.body).error).toMatchObject({ code: 'NO_FACE', image: 'img2' });
    expect(await imageBytesLeft()).toEqual([]);
  });

  it('accepts a Bearer token too', async () => {
    const r = await call(svc.baseUrl, 'POST', '/verify', { token: `Bearer ${tokenFor(1)}`, body: { img1: collins, img2: collins } });
    expect(r.status).toBe(200);
    expect(r.body.verified).toBe(true);
  });

  it.each([
    ['no token', null, 'TOKEN_MISSING'],
    ['a garbage token', 'garbage', 'TOKEN_INVALID'],
    ['an expired token', jwt.sign({ apikey: TENANTS[0].apiKey, exp: Math.floor(Date.now() / 1000) - 3600 }, TENANTS[0].secret), 'TOKEN_EXPIRED'],
    ['an unknown API key', jwt.sign({ apikey: 'nobody', exp: Math.floor(Date.now() / 1000) + 600 }, 'x'.repeat(20)), 'UNKNOWN_API_KEY'],
  ])('refuses %s with 401', async (_, token, code) => {
    const r = await call(svc.baseUrl, 'POST', '/verify', { token, body: { img1: curie1, img2: curie2 } });
    expect(r.status).toBe(401);
    expect(r.body.error.code).toBe(code);
  });

  it('refuses bad input with 4xx and a code, creating no job', async () => {
    // Jobs are counted by their BullMQ hashes; other keys (a rate-limit window rolling over) may come and go.
    const jobs = async () => [...(await dumpKeys(redisUrl!, svc.prefix)).keys()].filter((k) => /:face-verification:[A-Za-z0-9_-]{24}$/.test(k)).length;
    const before = await jobs();
    const bad64 = await call(svc.baseUrl, 'POST', '/verify', { body: { img1: 'data:image/jpeg;base64,@@@@', img2: curie2 } });
    expect([bad64.status, bad64.body.error.code, bad64.body.error.image]).toEqual([400, 'INVALID_BASE64', 'img1']);
    const missing = await call(svc.baseUrl, 'POST', '/verify', { body: { img1: curie1 } });
    expect([missing.status, missing.body.error.code]).toEqual([400, 'INVALID_BODY']);
    const json = await call(svc.baseUrl, 'POST', '/verify', { body: '{"img1": ' });
    expect([json.status, json.body.error.code]).toEqual([400, 'INVALID_JSON']);
    const type = await call(svc.baseUrl, 'POST', '/verify', { body: 'img1=x', headers: { 'content-type': 'text/plain' } });
    expect([type.status, type.body.error.code]).toEqual([415, 'UNSUPPORTED_MEDIA_TYPE']);
    const gif = await sharp({ create: { width: 4, height: 4, channels: 3, background: '#000' } }).gif().toBuffer();
    const fmt = await call(svc.baseUrl, 'POST', '/verify', { body: { img1: curie1, img2: uri(gif) } });
    expect([fmt.status, fmt.body.error.code, fmt.body.error.image]).toEqual([400, 'UNSUPPORTED_FORMAT', 'img2']);
    expect(await jobs()).toBe(before);
  });

  it('answers 413 for a body over the limit', async () => {
    const huge = 'A'.repeat(16 * 1024 * 1024);
    const r = await call(svc.baseUrl, 'POST', '/verify', { body: { img1: `data:image/jpeg;base64,${huge}`, img2: curie2 } });
    expect(r.status).toBe(413);
    expect(r.body.error.code).toBe('BODY_TOO_LARGE');
  });

  it('runs an async job: submit, then poll to completed', async () => {
    const sub = await call(svc.baseUrl, 'POST', '/jobs', { body: { img1: curie1, img2: curie2, metadata: { applicant: 'A-17' } } });
    expect(sub.status).toBe(202);
    expect(sub.body).toEqual({ id: expect.any(String), status: 'queued' });
    expect(sub.headers.get('location')).toBe(`/ai/v1/face-verification/jobs/${sub.body.id}`);
    expect(sub.body.id.length).toBeGreaterThanOrEqual(22); // 144 random bits
    const done = await pollUntilFinal(svc.baseUrl, sub.body.id);
    const view = JobViewSchema.parse(done.body);
    expect(view).toMatchObject({ status: 'completed', metadata: { applicant: 'A-17' } });
    expect(view.result?.verified).toBe(true);
    expect(view.finishedAt).toBeDefined();
  });

  it('hides one tenant’s job from another: 404, as for an unknown id', async () => {
    const sub = await call(svc.baseUrl, 'POST', '/jobs', { body: { img1: curie1, img2: curie2 } });
    const other = await call(svc.baseUrl, 'GET', `/jobs/${sub.body.id}`, { token: tokenFor(1) });
    const unknown = await call(svc.baseUrl, 'GET', '/jobs/does-not-exist', { token: tokenFor(1) });
    expect([other.status, other.body]).toEqual([unknown.status, { error: { code: 'NOT_FOUND', message: 'job not found' } }]);
    expect(other.status).toBe(404);
    expect((await call(svc.baseUrl, 'DELETE', `/jobs/${sub.body.id}`, { token: tokenFor(1) })).status).toBe(404);
    await pollUntilFinal(svc.baseUrl, sub.body.id);
  });

  it('returns the same job for a retried submit with the same Idempotency-Key', async () => {
    const headers = { 'idempotency-key': `key-${Date.now()}` };
    const a = await call(svc.baseUrl, 'POST', '/jobs', { body: { img1: curie1, img2: collins }, headers });
    const b = await call(svc.baseUrl, 'POST', '/jobs', { body: { img1: curie1, img2: collins }, headers });
    expect(a.status).toBe(202);
    expect(b.status).toBe(202);
    expect(b.body.id).toBe(a.body.id);
    const other = await call(svc.baseUrl, 'POST', '/jobs', { body: { img1: curie1, img2: curie2 }, headers });
    expect([other.status, other.body.error.code]).toEqual([409, 'IDEMPOTENCY_KEY_REUSED']);
    // Another policy is another question, so it is a different request too.
    const stricter = await call(svc.baseUrl, 'POST', '/jobs', { body: { img1: curie1, img2: collins, policy: 'fmr_1e-4' }, headers });
    expect([stricter.status, stricter.body.error.code]).toEqual([409, 'IDEMPOTENCY_KEY_REUSED']);
    await pollUntilFinal(svc.baseUrl, a.body.id);
  });

  it('purges a job with DELETE', async () => {
    const sub = await call(svc.baseUrl, 'POST', '/jobs', { body: { img1: curie1, img2: curie2 } });
    await pollUntilFinal(svc.baseUrl, sub.body.id);
    expect((await call(svc.baseUrl, 'DELETE', `/jobs/${sub.body.id}`)).status).toBe(204);
    expect((await call(svc.baseUrl, 'GET', `/jobs/${sub.body.id}`)).status).toBe(404);
    const left = [...(await dumpKeys(redisUrl!, svc.prefix)).entries()].filter(([k, v]) => k.includes(sub.body.id) || v.includes(sub.body.id));
    expect(left).toEqual([]);
  });

  it('answers 202 with a Location when the sync wait runs out, and the job still completes', async () => {
    const impatient = await svc.startApi({ SYNC_WAIT_MS: '1' });
    const r = await call(impatient.baseUrl, 'POST', '/verify', { body: { img1: curie1, img2: curie2 } });
    expect(r.status).toBe(202);
    expect(r.headers.get('location')).toBe(`/ai/v1/face-verification/jobs/${r.body.id}`);
    const done = await pollUntilFinal(svc.baseUrl, r.body.id);
    expect(done.body).toMatchObject({ status: 'completed', result: { verified: true } });
  });

  it('serves from several API processes on one port (API_PROCESSES), and stops them all on SIGTERM', async () => {
    const multi = await svc.startApi({ API_PROCESSES: '2' });
    const r = await call(multi.baseUrl, 'POST', '/verify', { body: { img1: curie1, img2: curie2 } });
    expect([r.status, r.body.verified]).toEqual([200, true]);
    const ids = new Set<string>();
    for (let i = 0; i < 12; i++) ids.add((await fetch(`${multi.baseUrl}/healthz`, { headers: { connection: 'close' } })).headers.get('x-served-by') ?? '');
    expect(ids.size).toBe(2);
    multi.proc.child.kill('SIGTERM');
    expect(await multi.proc.exited).toEqual({ code: 0, signal: null });
  });

  it('reports readiness: Redis reachable and a worker connected', async () => {
    const r = await fetch(`${svc.baseUrl}/readyz`);
    expect(r.status).toBe(200);
    expect(await r.json()).toMatchObject({ status: 'ready', redis: true });
    expect((await fetch(`${svc.baseUrl}/healthz`)).status).toBe(200);
  });

  it('works unchanged with VideoSDK’s own Node client (axios, raw token, every image labelled jpeg)', async () => {
    // The snippet from VideoSDK's Face Match docs, with only the URL and the token changed.
    const img1 = `data:image/jpeg;base64,${photo('person-a-1.jpg').toString('base64')}`;
    const png = await sharp(photo('person-a-2.jpg')).png().toBuffer(); // a PNG, labelled jpeg as the client does
    const img2 = `data:image/jpeg;base64,${png.toString('base64')}`;
    const response = await axios.post(`${svc.baseUrl}/ai/v1/face-verification/verify`, { img1, img2 }, {
      headers: { Authorization: tokenFor(0), 'Content-Type': 'application/json' },
    });
    expect(response.data.verified).toBe(true);
    expect(typeof response.data.verified).toBe('boolean');
  });

  it('finishes the current job on SIGTERM, then the worker exits 0', async () => {
    const worker = await svc.startWorker();
    // Keep the first worker busy elsewhere is not needed: either worker may take the job; we stop the one that does.
    const big = await sharp(photo('person-b-1.jpg')).resize(3000).jpeg({ quality: 95 }).toBuffer();
    const sub = await call(svc.baseUrl, 'POST', '/jobs', { body: { img1: uri(big), img2: uri(big) } });
    const id = sub.body.id as string;
    // Synchronised on the job's state: BullMQ records which worker process took it (host:pid).
    const processedBy = await until('the job taken', () => redisCommand(svc.redisUrl, 'HGET', `${svc.prefix}:${VERIFY_QUEUE}:${id}`, 'pb'), (pb) => typeof pb === 'string', 6000, 10);
    const taker = [worker, ...svc.workers].find((w) => `${processedBy}`.endsWith(`:${w.child.pid}`))!;
    expect(taker).toBeDefined();
    const signalledAt = Date.now();
    taker.child.kill('SIGTERM');
    const done = await pollUntilFinal(svc.baseUrl, id);
    expect(done.body.status).toBe('completed');
    expect(done.body.result.verified).toBe(true);
    // The signal landed mid-job: the job finished after it, in the signalled worker's drain.
    expect(Date.parse(done.body.finishedAt)).toBeGreaterThanOrEqual(signalledAt);
    expect(await taker.exited).toEqual({ code: 0, signal: null });
    expect(taker.output.some((l) => l.includes('"outcome":"drained"'))).toBe(true);
    if (taker !== worker) svc.workers.splice(svc.workers.indexOf(taker), 1, worker);
    tally.fault('SIGTERM to a worker mid-job');
    tally.jobs(1, 1);
  });
});

describe.skipIf(!redisUrl)('crash recovery', () => {
  let svc: Service;
  beforeAll(async () => {
    // A short lock so a dead worker's job is declared stalled within seconds rather than BullMQ's 30 s.
    svc = await startService(redisUrl!, { workers: 1, env: { WORKER_LOCK_MS: '2000' } });
  });
  afterAll(async () => {
    await svc?.stop();
  });

  it('recovers the job of a worker killed with SIGKILL mid-job; it completes once', async () => {
    const [victim] = svc.workers;
    const big = await sharp(photo('person-b-1.jpg')).resize(3000).jpeg({ quality: 95 }).toBuffer();
    const sub = await call(svc.baseUrl, 'POST', '/jobs', { body: { img1: uri(big), img2: uri(big) } });
    const id = sub.body.id as string;
    // Synchronised on the job's state: BullMQ counts its start in the job hash.
    await until('the job started', () => redisCommand(svc.redisUrl, 'HGET', `${svc.prefix}:${VERIFY_QUEUE}:${id}`, 'ats'), (ats) => Number(ats) >= 1, 6000, 10);
    const killedAt = Date.now();
    victim!.child.kill('SIGKILL');
    expect((await victim!.exited).signal).toBe('SIGKILL');
    // The kill landed mid-job: with its worker dead, the job is still unfinished in Redis.
    expect(await redisCommand(svc.redisUrl, 'HGET', `${svc.prefix}:${VERIFY_QUEUE}:${id}`, 'finishedOn')).toBeNull();
    const rescuer = await svc.startWorker();
    const done = await pollUntilFinal(svc.baseUrl, id);
    expect(done.body.status).toBe('completed');
    expect(done.body.result.verified).toBe(true);
    expect(Date.parse(done.body.finishedAt)).toBeGreaterThan(killedAt);
    // Completed once: BullMQ's event stream holds one completion of this job (state, not log lines, which
    // can reach the pipe after the job's state does).
    const events = (await redisCommand(svc.redisUrl, 'XRANGE', `${svc.prefix}:${VERIFY_QUEUE}:events`, '-', '+')) as [string, string[]][];
    expect(events.filter(([, f]) => f[0] === 'event' && f[1] === 'completed' && f[2] === 'jobId' && f[3] === id)).toHaveLength(1);
    expect(rescuer.child.exitCode).toBeNull();
    expect(await imageBytesLeftFor(svc, [uri(big)])).toEqual([]);
    tally.fault('kill -9 of a worker mid-job');
    tally.jobs(1, 1);
  });
});

async function imageBytesLeftFor(svc: Service, images: string[]) {
  const dump = await dumpKeys(svc.redisUrl, svc.prefix);
  const markers = images.flatMap((img) => [img.slice(40, 120), Buffer.from(img.slice(img.indexOf(',') + 1), 'base64').subarray(200, 260).toString('latin1')]);
  return [...dump].filter(([k, v]) => k.includes(':fm:images:') || markers.some((m) => v.includes(m)));
}
