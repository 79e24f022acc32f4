import { readFileSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { join } from 'node:path';
import sharp from 'sharp';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebhookEventSchema } from '@facematch/contracts';
import { VERIFY_QUEUE, keys } from '@facematch/queue';
import { generateWebhookSecret, verifyWebhook } from '@facematch/webhooks';
import { FIXTURES, redisUrlForTests } from './support/env.ts';
import { Receiver } from './support/receiver.ts';
import { redisCommand } from './support/resp.ts';
import { api, dataUri, until } from './support/http.ts';
import { TENANTS, startService, type Service } from './support/service.ts';
import { tally } from './support/tally.ts';

const uri = dataUri;
const curie1 = uri('person-a-1.jpg');
const curie2 = uri('person-a-2.jpg');
const coffee = uri('no-face.jpg');
const secret = generateWebhookSecret();

const redisUrl = await redisUrlForTests();

/** Polls the job until its webhook state satisfies `done`; bounded in count. */
const webhookState = async (base: string, id: string, done: (w: { status: string; attempts: number }) => boolean) =>
  (await until(`webhook of ${id}`, () => api(base, 'GET', `/jobs/${id}`), (r) => r.body?.webhook !== undefined && done(r.body.webhook), 600)).body;

describe.skipIf(!redisUrl)('webhook delivery, against a real receiver', () => {
  let svc: Service;
  const rx = new Receiver();
  beforeAll(async () => {
    await rx.listen();
    svc = await startService(redisUrl!, {
      workers: 1,
      env: {
        FACEMATCH_WEBHOOK_SECRETS: `${TENANTS[0].apiKey}:${secret}`,
        WEBHOOK_ALLOW_PRIVATE: 'true', // the receiver is on loopback
        WEBHOOK_BACKOFF_MS: '200',
        WEBHOOK_TIMEOUT_MS: '1000',
        WEBHOOK_MAX_ATTEMPTS: '5',
        WORKER_LOCK_MS: '2000',
      },
    });
  });
  afterAll(async () => {
    await svc?.stop();
    await rx.close();
  });

  const submit = async (path: string, img2 = curie2) => {
    const r = await api(svc.baseUrl, 'POST', '/jobs', { img1: curie1, img2, webhookUrl: rx.url(path), metadata: { ref: path } });
    expect(r.status).toBe(202);
    return r.body.id as string;
  };

  it('delivers a completed event that the standardwebhooks package verifies', async () => {
    const id = await submit('/ok');
    const [req] = await rx.waitFor('/ok', 1);
    const event = new Webhook(secret).verify(req!.body, req!.headers as Record<string, string>) as unknown;
    const parsed = WebhookEventSchema.parse(event);
    expect(parsed).toMatchObject({ type: 'face_verification.completed', data: { id, status: 'completed', metadata: { ref: '/ok' } } });
    expect(parsed.data.result?.verified).toBe(true);
    // The decision fields ride along: the receiver sees the policy and the calibrated FMR too.
    expect(parsed.data.result).toMatchObject({ decision: 'match', policy: 'fmr_1e-3' });
    expect(typeof parsed.data.result?.fmr).toBe('number');
    expect(verifyWebhook(req!.headers, req!.body, secret)).toEqual(event);
    expect(req!.headers['webhook-id']).toBe(`msg_${id}`);
    expect(req!.body).not.toContain(curie1.slice(40, 120));
    const job = await webhookState(svc.baseUrl, id, (w) => w.status === 'delivered');
    expect(job.webhook).toMatchObject({ status: 'delivered', attempts: 1, lastStatusCode: 200 });
  });

  it('retries 500, 500, then delivers on the third attempt with the same id and body', async () => {
    rx.script('/flaky', 500, 500, 200);
    const id = await submit('/flaky');
    const reqs = await rx.waitFor('/flaky', 3);
    expect(new Set(reqs.map((r) => r.headers['webhook-id']))).toEqual(new Set([`msg_${id}`]));
    expect(new Set(reqs.map((r) => r.body)).size).toBe(1);
    const job = await webhookState(svc.baseUrl, id, (w) => w.status === 'delivered');
    expect(job.webhook).toMatchObject({ attempts: 3, lastStatusCode: 200 });
  });

  it('delivers to a receiver that is down at first and comes up later', async () => {
    const late = new Receiver();
    await late.listen();
    const port = late.port;
    await late.close(); // nothing listens on that port now
    const r = await api(svc.baseUrl, 'POST', '/jobs', { img1: curie1, img2: curie2, webhookUrl: `http://127.0.0.1:${port}/late` });
    const id = r.body.id as string;
    const pending = await webhookState(svc.baseUrl, id, (w) => w.attempts >= 1);
    expect(pending.webhook.status).toBe('pending');
    await late.listen(port);
    try {
      await late.waitFor('/late', 1);
      await webhookState(svc.baseUrl, id, (w) => w.status === 'delivered');
      tally.fault('webhook receiver down, then up');
    } finally {
      await late.close();
    }
  });

  it('aborts an attempt slower than the timeout and retries, while verification goes on', async () => {
    let release: (() => void) | undefined;
    rx.script('/slow', (res: ServerResponse) => {
      release = () => res.writeHead(200).end();
    }, 200);
    const id = await submit('/slow');
    await rx.waitFor('/slow', 1);
    // The receiver is holding the first attempt open: verification must not wait for it.
    const sync = await api(svc.baseUrl, 'POST', '/verify', { img1: curie1, img2: curie2 });
    expect(sync.status).toBe(200);
    expect(sync.body.verified).toBe(true);
    const reqs = await rx.waitFor('/slow', 2);
    expect(reqs[1]!.headers['webhook-id']).toBe(reqs[0]!.headers['webhook-id']);
    const job = await webhookState(svc.baseUrl, id, (w) => w.status === 'delivered');
    expect(job.webhook.attempts).toBe(2);
    release?.();
  });

  it('records the delivery as failed after the last attempt, and keeps the result pollable', async () => {
    rx.script('/down', 500, 500, 302, 500, 500, 200);
    const id = await submit('/down');
    const job = await webhookState(svc.baseUrl, id, (w) => w.status === 'failed');
    expect(job.webhook).toMatchObject({ attempts: 5, lastStatusCode: 500 });
    expect(job.result.verified).toBe(true);
    expect(rx.for('/down')).toHaveLength(5); // a 302 is a failure, not followed
  });

  it('stops retrying on 410 Gone', async () => {
    rx.script('/gone', 410, 200);
    const id = await submit('/gone');
    const job = await webhookState(svc.baseUrl, id, (w) => w.status === 'failed');
    expect(job.webhook).toMatchObject({ attempts: 1, lastStatusCode: 410 });
    expect(job.status).toBe('completed'); // the result stays pollable
    expect(rx.for('/gone')).toHaveLength(1);
  });

  it('delivers face_verification.failed, with the error code, for a failed job', async () => {
    const id = await submit('/failed', coffee);
    const [req] = await rx.waitFor('/failed', 1);
    const event = WebhookEventSchema.parse(verifyWebhook(req!.headers, req!.body, secret));
    expect(event).toMatchObject({ type: 'face_verification.failed', data: { id, status: 'failed', error: { code: 'NO_FACE', image: 'img2' } } });
  });

  it('delivers after the worker is killed mid-delivery, with the same webhook-id', async () => {
    rx.script('/crash', () => {
      /* hold the request open: the worker dies while it waits */
    }, 200);
    const id = await submit('/crash');
    await rx.waitFor('/crash', 1);
    const [victim] = svc.workers;
    victim!.child.kill('SIGKILL');
    await victim!.exited;
    svc.workers.splice(0, 1, await svc.startWorker());
    const reqs = await rx.waitFor('/crash', 2);
    expect(reqs.map((r) => r.headers['webhook-id'])).toEqual([`msg_${id}`, `msg_${id}`]);
    await webhookState(svc.baseUrl, id, (w) => w.status === 'delivered');
    tally.fault('kill -9 of a worker mid-delivery');
  });

  it('refuses private and loopback webhook targets when they are not allowed, and sends nothing', async () => {
    const strict = await svc.startApi({ WEBHOOK_ALLOW_PRIVATE: 'false' });
    const before = rx.received.length;
    for (const url of [
      rx.url('/ssrf'),
      `http://[::1]:${rx.port}/ssrf`,
      'http://169.254.169.254/latest/meta-data/',
      'http://10.0.0.1/hook',
      `http://localhost:${rx.port}/ssrf`,
    ]) {
      const r = await api(strict.baseUrl, 'POST', '/jobs', { img1: curie1, img2: curie2, webhookUrl: url });
      expect([url, r.status, r.body.error.code]).toEqual([url, 400, 'WEBHOOK_URL_INVALID']);
    }
    expect(rx.received.length).toBe(before);
  });
});

describe.skipIf(!redisUrl)('every end of a job reaches its webhook, once, and the poll view agrees', () => {
  let svc: Service;
  const rx = new Receiver();
  const events = new Map<string, string>(); // receiver path -> job id
  beforeAll(async () => {
    await rx.listen();
    // No worker at first: the jobs below must wait in the queue while their end is arranged.
    svc = await startService(redisUrl!, {
      workers: 0,
      env: { FACEMATCH_WEBHOOK_SECRETS: `${TENANTS[0].apiKey}:${secret}`, WEBHOOK_ALLOW_PRIVATE: 'true', WEBHOOK_BACKOFF_MS: '200', WORKER_LOCK_MS: '2000' },
    });
  });
  afterAll(async () => {
    // Exactly one event each, however long the other cases ran after it was delivered.
    for (const path of events.keys()) expect(rx.for(path), path).toHaveLength(1);
    await svc?.stop();
    await rx.close();
  });

  const submit = async (path: string, img1 = curie1, img2 = curie2) => {
    const r = await api(svc.baseUrl, 'POST', '/jobs', { img1, img2, webhookUrl: rx.url(path), metadata: { ref: path } });
    expect(r.status).toBe(202);
    events.set(path, r.body.id);
    return r.body.id as string;
  };
  const event = async (path: string) => {
    const [req] = await rx.waitFor(path, 1, 120_000);
    return WebhookEventSchema.parse(verifyWebhook(req!.headers, req!.body, secret));
  };
  const jobHash = (id: string, field: string) => redisCommand(svc.redisUrl, 'HGET', `${svc.prefix}:${VERIFY_QUEUE}:${id}`, field);

  it('images expired before a worker took the job: face_verification.failed with IMAGES_EXPIRED; a job erased while queued: face_verification.deleted', async () => {
    const expired = await submit('/expired');
    const erased = await submit('/erased');
    // Their expiry, as IMAGE_TTL_S would bring it: the job's image keys are gone.
    const [k1, k2] = keys(svc.prefix, VERIFY_QUEUE).images(expired);
    expect(await redisCommand(svc.redisUrl, 'DEL', k1!, k2!)).toBe(2);
    expect((await api(svc.baseUrl, 'DELETE', `/jobs/${erased}`)).status).toBe(204);
    svc.workers.push(await svc.startWorker());

    expect(await event('/expired')).toMatchObject({ type: 'face_verification.failed', data: { id: expired, status: 'failed', error: { code: 'IMAGES_EXPIRED' }, metadata: { ref: '/expired' } } });
    const view = await webhookState(svc.baseUrl, expired, (w) => w.status === 'delivered');
    expect(view).toMatchObject({ status: 'failed', error: { code: 'IMAGES_EXPIRED' }, webhook: { status: 'delivered', attempts: 1 } });

    const gone = await event('/erased');
    // An erased job's event says it ended so, and carries nothing else: no result, no metadata.
    expect(gone).toEqual({ type: 'face_verification.deleted', timestamp: expect.any(String), data: { id: erased, status: 'deleted' } });
    expect((await api(svc.baseUrl, 'GET', `/jobs/${erased}`)).status).toBe(404);
  });

  it('completed and failed with a code: one event each, matching the poll view', async () => {
    const done = await submit('/done');
    const noFace = await submit('/no-face', curie1, coffee);
    expect(await event('/done')).toMatchObject({ type: 'face_verification.completed', data: { id: done, status: 'completed', result: { verified: true } } });
    expect(await event('/no-face')).toMatchObject({ type: 'face_verification.failed', data: { id: noFace, status: 'failed', error: { code: 'NO_FACE', image: 'img2' } } });
    expect(await webhookState(svc.baseUrl, done, (w) => w.status === 'delivered')).toMatchObject({ status: 'completed', result: { verified: true } });
    expect(await webhookState(svc.baseUrl, noFace, (w) => w.status === 'delivered')).toMatchObject({ status: 'failed', error: { code: 'NO_FACE' } });
    // A completed job erased after its event was delivered gets no second event.
    expect((await api(svc.baseUrl, 'DELETE', `/jobs/${done}`)).status).toBe(204);
  });

  it('a job that kills its worker three times is failed by BullMQ past the stall limit: face_verification.failed, INTERNAL', async () => {
    // A heavy pair, so each kill lands while the job runs (checked below, each time).
    const big = async (name: string) => `data:image/jpeg;base64,${(await sharp(readFileSync(join(FIXTURES, name))).resize(4000).jpeg({ quality: 90 }).toBuffer()).toString('base64')}`;
    for (const w of svc.workers.splice(0)) {
      w.child.kill('SIGTERM');
      await w.exited;
    }
    const id = await submit('/stalled', await big('person-b-1.jpg'), await big('person-a-1.jpg'));
    for (let kill = 1; kill <= 3; kill++) {
      const worker = await svc.startWorker();
      // Synchronised on the job's own state: BullMQ counts each start of it in the job hash ("ats").
      await expect.poll(async () => Number(await jobHash(id, 'ats')), { timeout: 60_000, interval: 10 }).toBe(kill);
      worker.child.kill('SIGKILL');
      expect((await worker.exited).signal).toBe('SIGKILL');
      // The kill landed mid-job: the job did not finish, and no event was sent.
      expect(await jobHash(id, 'finishedOn')).toBeNull();
      expect(rx.for('/stalled')).toHaveLength(0);
    }
    // The next worker finds the job stalled past maxStalledCount (2) and fails it without running it.
    svc.workers.push(await svc.startWorker());
    expect(await event('/stalled')).toMatchObject({ type: 'face_verification.failed', data: { id, status: 'failed', error: { code: 'INTERNAL' } } });
    expect(await webhookState(svc.baseUrl, id, (w) => w.status === 'delivered')).toMatchObject({ status: 'failed', error: { code: 'INTERNAL' } });
    tally.fault('a job that kills its worker three times: failed past the stall limit, webhook sent');
  });
});
