import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main as cli } from '@facematch/cli';
import { FaceMatchApiError, FaceMatchClient, WebhookVerificationError, verifyWebhook } from '@facematch/client';
import { generateWebhookSecret } from '@facematch/contracts';
import { FIXTURES, redisUrlForTests } from './support/env.ts';
import { Receiver } from './support/receiver.ts';
import { OwnRedis } from './support/redis-server.ts';
import { TENANTS, startService, tokenFor, type Service } from './support/service.ts';

const path = (name: string) => join(FIXTURES, name);
const secret = generateWebhookSecret();
const redisUrl = await redisUrlForTests();

/** Collects what a Writable-like CLI stream receives. */
const sink = () => {
  const chunks: string[] = [];
  return { write: (s: string) => chunks.push(s) > 0, text: () => chunks.join('') };
};

describe.skipIf(!redisUrl)('the TypeScript SDK, against the real service', () => {
  let svc: Service;
  const rx = new Receiver();
  const client = () => new FaceMatchClient({ baseUrl: svc.baseUrl, apiKey: TENANTS[0].apiKey, secret: TENANTS[0].secret });
  beforeAll(async () => {
    await rx.listen();
    svc = await startService(redisUrl!, {
      workers: 1,
      env: { FACEMATCH_WEBHOOK_SECRETS: `${TENANTS[0].apiKey}:${secret}`, WEBHOOK_ALLOW_PRIVATE: 'true' },
    });
  });
  afterAll(async () => {
    await svc?.stop();
    await rx.close();
  });

  it('verifies from file paths, Buffers, data URIs and bare base64, minting its own tokens', async () => {
    const c = client();
    const a = readFileSync(path('person-a-1.jpg'));
    expect((await c.verify(path('person-a-1.jpg'), path('person-a-2.jpg'))).verified).toBe(true);
    expect((await c.verify(a, readFileSync(path('person-b-1.jpg')))).verified).toBe(false);
    const same = await c.verify(`data:image/jpeg;base64,${a.toString('base64')}`, readFileSync(path('person-a-2.jpg')).toString('base64'));
    expect(same).toMatchObject({ verified: true, model: { backend: 'wasm' } });
  });

  it('names a policy per request, and reads the calibrated points from GET /model', async () => {
    const c = client();
    const strict = await c.verify(path('person-a-1.jpg'), path('person-a-2.jpg'), { policy: 'fmr_1e-4' });
    const model = await c.model();
    expect(strict.policy).toBe('fmr_1e-4');
    expect(strict.threshold).toBe(model.calibration.policies['fmr_1e-4'].threshold);
    expect(strict.verified).toBe(strict.decision === 'match');
    expect(model.defaultPolicy).toBe('fmr_1e-3');
    const job = await c.submit(path('person-a-1.jpg'), path('person-b-1.jpg'), { policy: 'fmr_1e-2' });
    const done = await c.wait(job.id, { timeoutMs: 60_000 });
    expect(done.result).toMatchObject({ policy: 'fmr_1e-2', decision: 'no_match', verified: false });
  });

  it('also works with a token it was given', async () => {
    const c = new FaceMatchClient({ baseUrl: svc.baseUrl, token: tokenFor(0) });
    expect((await c.verify(path('person-a-1.jpg'), path('person-a-2.jpg'))).verified).toBe(true);
  });

  it('submits, waits, reads and deletes a job', async () => {
    const c = client();
    const job = await c.submit(path('person-a-1.jpg'), path('person-a-2.jpg'), { metadata: { ref: 'sdk-1' } });
    expect(job.status).toBe('queued');
    const done = await c.wait(job.id, { timeoutMs: 60_000 });
    expect(done).toMatchObject({ id: job.id, status: 'completed', result: { verified: true }, metadata: { ref: 'sdk-1' } });
    expect(await c.get(job.id)).toMatchObject({ status: 'completed' });
    await c.delete(job.id);
    await expect(c.get(job.id)).rejects.toMatchObject({ code: 'NOT_FOUND', status: 404 });
  });

  it('returns the same job for a repeated idempotency key', async () => {
    const c = client();
    const key = `sdk-idem-${Date.now()}`;
    const first = await c.submit(path('person-a-1.jpg'), path('person-a-2.jpg'), { idempotencyKey: key });
    const again = await c.submit(path('person-a-1.jpg'), path('person-a-2.jpg'), { idempotencyKey: key });
    expect(again.id).toBe(first.id);
    await expect(c.submit(path('person-a-1.jpg'), path('person-b-1.jpg'), { idempotencyKey: key })).rejects.toMatchObject({ code: 'IDEMPOTENCY_KEY_REUSED', status: 409 });
    await c.wait(first.id);
  });

  it('verifies the signed webhook of a job, and refuses a tampered one', async () => {
    const c = client();
    const job = await c.submit(path('person-a-1.jpg'), path('person-a-2.jpg'), { webhookUrl: rx.url('/sdk-hook'), metadata: { ref: 'hook' } });
    const [delivery] = await rx.waitFor('/sdk-hook', 1);
    const event = verifyWebhook(delivery!.headers as Record<string, string>, delivery!.body, secret);
    expect(event).toMatchObject({ type: 'face_verification.completed', data: { id: job.id, status: 'completed', result: { verified: true }, metadata: { ref: 'hook' } } });
    const tampered = delivery!.body.replace('"verified":true', '"verified":false');
    expect(() => verifyWebhook(delivery!.headers as Record<string, string>, tampered, secret)).toThrow(WebhookVerificationError);
    expect(() => verifyWebhook(delivery!.headers as Record<string, string>, delivery!.body, generateWebhookSecret())).toThrow(WebhookVerificationError);
  });

  it('throws typed errors carrying the server code', async () => {
    const c = client();
    await expect(c.verify(path('person-a-1.jpg'), path('no-face.jpg'))).rejects.toMatchObject({ name: 'FaceMatchApiError', code: 'NO_FACE', status: 422, image: 'img2', retryable: false });
    await expect(c.verify('not base64!', path('person-a-1.jpg'))).rejects.toMatchObject({ code: 'INVALID_BASE64', status: 400, image: 'img1' });
    const stranger = new FaceMatchClient({ baseUrl: svc.baseUrl, apiKey: TENANTS[0].apiKey, secret: 'not-the-secret-0123456789' });
    const err = await stranger.get('x').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FaceMatchApiError);
    expect(err).toMatchObject({ code: 'TOKEN_INVALID', status: 401 });
  });

  it('runs the CLI in remote mode through the SDK: exit 0 for the same person, 1 for different, 2 with the code on error', async () => {
    const run = async (...args: string[]) => {
      const out = sink();
      const err = sink();
      const code = await cli(['verify', '--url', svc.baseUrl, '--apikey', TENANTS[0].apiKey, '--secret', TENANTS[0].secret, ...args], { out, err } as never);
      return { code, out: out.text(), err: err.text() };
    };
    const same = await run(path('person-a-1.jpg'), path('person-a-2.jpg'));
    expect(same.code).toBe(0);
    expect(JSON.parse(same.out)).toMatchObject({ verified: true });
    expect((await run(path('person-a-1.jpg'), path('person-b-1.jpg'))).code).toBe(1);
    const noFace = await run(path('person-a-1.jpg'), path('no-face.jpg'));
    expect(noFace).toMatchObject({ code: 2 });
    expect(noFace.err).toMatch(/^NO_FACE: /);
  });
});

describe.skipIf(!redisUrl)('the SDK retrying a 503', () => {
  const redis = new OwnRedis();
  let svc: Service;
  beforeAll(async () => {
    await redis.start();
    svc = await startService(redis.url, { workers: 1 });
  });
  afterAll(async () => {
    await svc?.stop();
    await redis.destroy();
  });

  it('waits the Retry-After of a 503 QUEUE_UNAVAILABLE and succeeds once Redis is back', async () => {
    await redis.stop();
    const retries: { status: number | undefined; code: string | undefined; retryAfterS: number | undefined; delayMs: number }[] = [];
    const c = new FaceMatchClient({
      baseUrl: svc.baseUrl,
      token: tokenFor(0),
      maxRetries: 5,
      onRetry: (r) => {
        retries.push(r);
        // Redis comes back while the client waits out the Retry-After.
        if (retries.length === 1) void redis.start();
      },
    });
    const result = await c.verify(path('person-a-1.jpg'), path('person-a-2.jpg'));
    expect(result.verified).toBe(true);
    expect(retries[0]).toMatchObject({ status: 503, code: 'QUEUE_UNAVAILABLE' });
    // Honoured: the client waited exactly what the server's Retry-After asked.
    expect(retries[0]!.retryAfterS).toBeGreaterThan(0);
    expect(retries[0]!.delayMs).toBe(retries[0]!.retryAfterS! * 1000);
  });
});
