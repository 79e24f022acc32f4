import { readFileSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { join } from 'node:path';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebhookEventSchema } from '@facematch/contracts';
import { generateWebhookSecret, verifyWebhook } from '@facematch/webhooks';
import { FIXTURES, redisUrlForTests } from './support/env.ts';
import { Receiver } from './support/receiver.ts';
import { api } from './support/http.ts';
import { TENANTS, startService, type Service } from './support/service.ts';
import { tally } from './support/tally.ts';

const uri = (name: string) => `data:image/jpeg;base64,${readFileSync(join(FIXTURES, name)).toString('base64')}`;
const curie1 = uri('person-a-1.jpg');
const curie2 = uri('person-a-2.jpg');
const coffee = uri('no-face.jpg');
const secret = generateWebhookSecret();

const redisUrl = await redisUrlForTests();

/** Polls the job until its webhook state satisfies `done`; bounded in count. */
async function webhookState(base: string, id: string, done: (w: { status: string; attempts: number }) => boolean) {
  for (let i = 0; i < 600; i++) {
    const r = await api(base, 'GET', `/jobs/${id}`);
    if (r.body?.webhook && done(r.body.webhook)) return r.body;
    await new Promise((res) => setTimeout(res, 100));
  }
  throw new Error(`webhook of ${id} never reached the state`);
}

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
      tally.fault('webhook receiver down, then up', true);
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
    tally.fault('kill -9 of a worker mid-delivery', true);
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
