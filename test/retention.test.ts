import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dumpKeys } from '@facematch/queue/testing';
import { generateWebhookSecret } from '@facematch/webhooks';
import { redisUrlForTests } from './support/env.ts';
import { Receiver } from './support/receiver.ts';
import { api, dataUri, until } from './support/http.ts';
import { TENANTS, startService, type Service } from './support/service.ts';
import { tally } from './support/tally.ts';

const uri = dataUri;
const same = { img1: uri('person-a-1.jpg'), img2: uri('person-a-2.jpg') };
const redisUrl = await redisUrlForTests();

/** Every key and stream entry under the run's prefix that mentions any of `needles`. */
async function holding(svc: Service, needles: string[]): Promise<string[]> {
  const all = await dumpKeys(svc.redisUrl, svc.prefix);
  return [...all].filter(([, v]) => needles.some((n) => v.includes(n))).map(([k]) => k);
}

const webhookEnv = (secret: string) => ({
  FACEMATCH_WEBHOOK_SECRETS: `${TENANTS[0].apiKey}:${secret}`,
  WEBHOOK_ALLOW_PRIVATE: 'true', // the receiver is on loopback
  WEBHOOK_TIMEOUT_MS: '2000',
  WEBHOOK_MAX_ATTEMPTS: '10',
});

describe.skipIf(!redisUrl)('DELETE erases every copy of a result, webhook delivery included', () => {
  let svc: Service;
  const rx = new Receiver();
  beforeAll(async () => {
    await rx.listen();
    svc = await startService(redisUrl!, { workers: 1, env: { ...webhookEnv(generateWebhookSecret()), WEBHOOK_BACKOFF_MS: '1000' } });
  });
  afterAll(async () => {
    await svc?.stop();
    await rx.close();
  });

  it('after 204, nothing holds the result or metadata, and the receiver gets only a face_verification.deleted event', async () => {
    const marker = `erase-me-${randomBytes(6).toString('hex')}`;
    rx.script('/erased', ...Array.from({ length: 10 }, () => 500)); // this receiver keeps failing: retries pile up
    const sub = await api(svc.baseUrl, 'POST', '/jobs', { ...same, webhookUrl: rx.url('/erased'), metadata: { marker } });
    const id = sub.body.id as string;
    await rx.waitFor('/erased', 1);
    const failedOnce = await until('first attempt recorded', () => api(svc.baseUrl, 'GET', `/jobs/${id}`), (r) => r.body?.webhook?.attempts >= 1);
    expect(failedOnce.body).toMatchObject({ status: 'completed', metadata: { marker }, webhook: { status: 'pending' } });
    // The delivery is waiting for its retry, with the whole event, result and metadata, in its job.
    expect((await holding(svc, [marker])).length).toBeGreaterThan(0);

    // 409 JOB_ACTIVE while an attempt is in flight; the client retries, as the SDK does.
    const del = await until('DELETE answered 204', () => api(svc.baseUrl, 'DELETE', `/jobs/${id}`), (r) => r.status !== 409);
    expect(del.status).toBe(204);
    const seenAtDelete = rx.for('/erased').length;
    rx.script('/erased', 200); // the receiver is back for what comes next
    expect(await holding(svc, [marker])).toEqual([]);
    // What still names the job is the deleted event's delivery alone, which carries nothing but the id.
    for (const key of await holding(svc, [id])) expect(key).toMatch(/:webhook-delivery:/);
    expect((await api(svc.baseUrl, 'GET', `/jobs/${id}`)).status).toBe(404);
    const [, ...none] = (await rx.waitFor('/erased', seenAtDelete + 1)).slice(seenAtDelete);
    const erased = JSON.parse(rx.for('/erased')[seenAtDelete]!.body) as unknown;
    expect(erased).toEqual({ type: 'face_verification.deleted', timestamp: expect.any(String), data: { id, status: 'deleted' } });
    expect(none).toEqual([]);

    // A later job to the same kind of receiver fails three times, then succeeds: its fourth attempt comes
    // seconds after the erased job's next retry was due, so by then that retry would have been seen.
    rx.script('/witness', 500, 500, 500, 200);
    const witness = (await api(svc.baseUrl, 'POST', '/jobs', { ...same, webhookUrl: rx.url('/witness') })).body.id as string;
    await rx.waitFor('/witness', 4);
    expect(rx.for('/erased').length).toBe(seenAtDelete + 1); // the deleted event, once; no retry of the erased result
    expect(await holding(svc, [marker])).toEqual([]);
    expect((await api(svc.baseUrl, 'GET', `/jobs/${witness}`)).body.status).toBe('completed');
    tally.fault('DELETE while a webhook delivery is retrying');
  });
});

describe.skipIf(!redisUrl)('results expire at RESULT_TTL_S with no further traffic', () => {
  let svc: Service;
  const rx = new Receiver();
  beforeAll(async () => {
    await rx.listen();
    svc = await startService(redisUrl!, { workers: 1, env: { ...webhookEnv(generateWebhookSecret()), RESULT_TTL_S: '5' } });
  });
  afterAll(async () => {
    await svc?.stop();
    await rx.close();
  });

  it('the result, its metadata and its webhook event are gone from the API and from Redis', async () => {
    const marker = `expire-me-${randomBytes(6).toString('hex')}`;
    const id = (await api(svc.baseUrl, 'POST', '/jobs', { ...same, webhookUrl: rx.url('/ttl'), metadata: { marker } })).body.id as string;
    const done = await until('delivered', () => api(svc.baseUrl, 'GET', `/jobs/${id}`), (r) => r.body?.webhook?.status === 'delivered');
    expect(done.body).toMatchObject({ status: 'completed', metadata: { marker }, result: { verified: true } });
    expect((await holding(svc, [marker])).length).toBeGreaterThan(0);
    // Nothing else is submitted: what expires the result must not depend on a later job finishing.
    await until('GET answers 404', () => api(svc.baseUrl, 'GET', `/jobs/${id}`), (r) => r.status === 404);
    await until('no copy left in Redis', () => holding(svc, [id, marker]), (left) => left.length === 0);
    tally.fault('results expire at RESULT_TTL_S with no traffic');
  });
});
