import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signToken } from '@facematch/auth';
import { type VerifyResult } from '@facematch/contracts';
import { createLogger } from '@facematch/logger';
import { loadCalibration, modelInfo } from '@facematch/models/calibration';
import { calibrationPath } from '@facematch/models';
import { createApp } from './app.ts';
import { FakeQueue } from './testing.ts';

const tenant = { apiKey: 'k1', secret: 'secret-0123456789abcdef' };
const token = signToken({ apiKey: tenant.apiKey, secret: tenant.secret, ttlSeconds: 600 });
const png = 'data:image/jpeg;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==';
const queue = new FakeQueue();
let base = '';
let close: () => void;

beforeAll(async () => {
  const app = createApp({
    queue,
    tenants: new Map([[tenant.apiKey, tenant]]),
    log: createLogger({ name: 'test', level: 'silent' }),
    model: modelInfo(loadCalibration(calibrationPath), { detector: 'auto' }),
    config: {
      syncWaitMs: 10,
      maxBodyBytes: 64 * 1024,
      maxImageBytes: 32 * 1024,
      maxImagePixels: 40_000_000,
      webhooks: { allowPrivate: false, requireHttps: false, tenantsWithSecret: new Set() },
    },
  });
  const server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  close = () => server.close();
});
afterAll(() => close());

// eslint-disable-next-line @typescript-eslint/no-explicit-any
const json = async (r: Response): Promise<any> => r.json();

const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(`${base}/ai/v1/face-verification${path}`, {
    method: 'POST',
    headers: { authorization: token, 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });

describe('createApp', () => {
  it('answers the seed shape with the engine fields added', async () => {
    queue.next = { state: 'completed', result: { verified: true, distance: 0.3 } as VerifyResult };
    const r = await post('/verify', { img1: png, img2: png, extra: 'ignored' });
    expect(r.status).toBe(200);
    expect(await json(r)).toMatchObject({ verified: true, distance: 0.3 });
  });

  it('passes a named policy to the queue, and refuses an unknown one before enqueueing', async () => {
    queue.next = { state: 'completed', result: { verified: false, decision: 'review' } as VerifyResult };
    const before = queue.submitted.length;
    const r = await post('/verify', { img1: png, img2: png, policy: 'fmr_1e-4' });
    expect(r.status).toBe(200);
    expect(queue.submitted.at(-1)).toMatchObject({ policy: 'fmr_1e-4' });
    const bad = await post('/verify', { img1: png, img2: png, policy: 'fmr_1e-9' });
    expect(bad.status).toBe(400);
    expect((await json(bad)).error.code).toBe('INVALID_BODY');
    expect((await json(await post('/jobs', { img1: png, img2: png, policy: 'loose' }))).error.code).toBe('INVALID_BODY');
    expect(queue.submitted.length).toBe(before + 1);
  });

  it('answers GET /model with the weights, their sha256 and the calibrated points, to authenticated callers only', async () => {
    const url = `${base}/ai/v1/face-verification/model`;
    expect((await fetch(url)).status).toBe(401);
    const r = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
    expect(r.status).toBe(200);
    const m = await json(r);
    const cal = loadCalibration(calibrationPath);
    expect(m.defaultPolicy).toBe(cal.default);
    expect(m.calibration.policies['fmr_1e-3'].threshold).toBe(cal.policies['fmr_1e-3'].threshold);
    expect(m.calibration.impostorCdf).toBeUndefined();
    expect(m.files.map((f: { file: string }) => f.file)).toContain('face_recognition_model.bin');
    for (const f of m.files) expect(f.sha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it('maps an engine error to its status with the error shape', async () => {
    queue.next = { state: 'failed', error: { code: 'NO_FACE', message: 'no face found in img2', image: 'img2' } };
    const r = await post('/verify', { img1: png, img2: png });
    expect(r.status).toBe(422);
    expect(await json(r)).toEqual({ error: { code: 'NO_FACE', message: 'no face found in img2', image: 'img2' } });
  });

  it('answers 202 with a Location when the wait runs out', async () => {
    queue.next = { state: 'pending' };
    const r = await post('/verify', { img1: png, img2: png });
    expect(r.status).toBe(202);
    const body = await json(r);
    expect(r.headers.get('location')).toBe(`/ai/v1/face-verification/jobs/${body.id}`);
  });

  it.each([
    ['a missing img2', { img1: png }, 400, 'INVALID_BODY'],
    ['a null img1', { img1: null, img2: png }, 400, 'INVALID_BODY'],
    ['a number', { img1: 5, img2: png }, 400, 'INVALID_BODY'],
    ['an array body', [png, png], 400, 'INVALID_BODY'],
    ['bad base64', { img1: 'data:image/jpeg;base64,!!!!', img2: png }, 400, 'INVALID_BASE64'],
    ['a non-image data URI', { img1: 'data:text/html;base64,PGI+', img2: png }, 400, 'UNSUPPORTED_FORMAT'],
    ['a data URI without ;base64', { img1: 'data:image/jpeg,abc', img2: png }, 400, 'INVALID_DATA_URI'],
    ['an image over MAX_IMAGE_BYTES', { img1: `data:image/jpeg;base64,${'A'.repeat(48 * 1024)}`, img2: png }, 413, 'IMAGE_TOO_LARGE'],
    ['a body over MAX_BODY_BYTES', { img1: 'A'.repeat(80 * 1024), img2: png }, 413, 'BODY_TOO_LARGE'],
    ['invalid JSON', '{"img1":', 400, 'INVALID_JSON'],
  ])('refuses %s, creating no job', async (_, body, status, code) => {
    const before = queue.submitted.length;
    const r = await post('/verify', body);
    expect(r.status).toBe(status);
    expect((await json(r)).error.code).toBe(code);
    expect(queue.submitted.length).toBe(before);
  });

  it('refuses a non-JSON content type with 415', async () => {
    const r = await post('/verify', 'img1=a', { 'content-type': 'application/x-www-form-urlencoded' });
    expect([r.status, (await json(r)).error.code]).toEqual([415, 'UNSUPPORTED_MEDIA_TYPE']);
  });

  it('authenticates before anything else', async () => {
    const r = await post('/verify', '{"img1":', { authorization: '' });
    expect([r.status, (await json(r)).error.code]).toEqual([401, 'TOKEN_MISSING']);
  });

  it.each([
    ['ftp://example.com/hook', 'WEBHOOK_URL_INVALID'],
    ['https://user:pw@example.com/hook', 'WEBHOOK_URL_INVALID'],
    ['not a url', 'WEBHOOK_URL_INVALID'],
    ['http://127.0.0.1:9000/hook', 'WEBHOOK_URL_INVALID'],
    ['http://169.254.169.254/latest/meta-data', 'WEBHOOK_URL_INVALID'],
    ['https://8.8.8.8/hook', 'WEBHOOK_NOT_CONFIGURED'],
  ])('refuses webhookUrl %s', async (webhookUrl, code) => {
    const r = await post('/jobs', { img1: png, img2: png, webhookUrl });
    expect([r.status, (await json(r)).error.code]).toEqual([400, code]);
  });

  it('answers 503 with Retry-After, not 500, when the queue is down', async () => {
    queue.down = true;
    try {
      const r = await post('/jobs', { img1: png, img2: png });
      expect(r.status).toBe(503);
      expect(r.headers.get('retry-after')).toBe('5');
      expect((await json(r)).error.code).toBe('QUEUE_UNAVAILABLE');
      expect((await fetch(`${base}/readyz`)).status).toBe(503);
    } finally {
      queue.down = false;
    }
  });

  it('answers a malformed %-escape in the path with 400, not 500', async () => {
    const r = await fetch(`${base}/ai/v1/face-verification/jobs/%ZZ`, { headers: { authorization: token } });
    expect([r.status, (await json(r)).error.code]).toEqual([400, 'BAD_REQUEST']);
  });

  // Each level is {"a":...}; the metadata object itself is the first.
  const nested = (depth: number) => `${'{"a":'.repeat(depth - 1)}{}${'}'.repeat(depth - 1)}`;
  const withMetadata = (metadata: string) => `{"img1":${JSON.stringify(png)},"img2":${JSON.stringify(png)},"metadata":${metadata}}`;

  it.each([
    [5_000, 'metadata: must nest at most 32 levels deep'], // was a 500: JSON.stringify's RangeError
    [33, 'metadata: must nest at most 32 levels deep'],
  ])('refuses metadata %i levels deep as INVALID_BODY', async (depth, message) => {
    const before = queue.submitted.length;
    const r = await post('/jobs', withMetadata(nested(depth)));
    expect([r.status, (await json(r)).error]).toEqual([400, { code: 'INVALID_BODY', message }]);
    expect(queue.submitted.length).toBe(before);
  });

  it('takes metadata 32 levels deep, and refuses more than 4096 bytes of it', async () => {
    expect((await post('/jobs', withMetadata(nested(32)))).status).toBe(202);
    const r = await post('/jobs', withMetadata(JSON.stringify({ s: 'x'.repeat(4096) })));
    expect([r.status, (await json(r)).error]).toEqual([400, { code: 'INVALID_BODY', message: 'metadata: must be at most 4096 bytes of JSON' }]);
  });

  it.each(['events', 'id', 'completed', 'failed', 'stalled-check', 'meta', 'A'.repeat(100)])('answers job id %s with 404 without asking the queue', async (id) => {
    queue.looked = [];
    const url = `${base}/ai/v1/face-verification/jobs/${id}`;
    for (const method of ['GET', 'DELETE']) {
      const r = await fetch(url, { method, headers: { authorization: token } });
      expect([r.status, await json(r)]).toEqual([404, { error: { code: 'NOT_FOUND', message: 'job not found' } }]);
    }
    expect(queue.looked).toEqual([]);
  });

  it('still finds, and deletes, a job by its id', async () => {
    const { id } = await json(await post('/jobs', { img1: png, img2: png }));
    const url = `${base}/ai/v1/face-verification/jobs/${id}`;
    expect((await fetch(url, { headers: { authorization: token } })).status).toBe(200);
    expect((await fetch(url, { method: 'DELETE', headers: { authorization: token } })).status).toBe(204);
    expect((await fetch(url, { headers: { authorization: token } })).status).toBe(404);
  });

  const gzipped = (body: Buffer | string, encoding = 'gzip') =>
    fetch(`${base}/ai/v1/face-verification/verify`, {
      method: 'POST',
      headers: { authorization: token, 'content-type': 'application/json', 'content-encoding': encoding },
      body: typeof body === 'string' ? gzipSync(body) : body,
    });

  it('verifies a gzip body', async () => {
    queue.next = { state: 'completed', result: { verified: true, distance: 0.3 } as VerifyResult };
    const r = await gzipped(JSON.stringify({ img1: png, img2: png }));
    expect([r.status, (await json(r)).verified]).toEqual([200, true]);
  });

  it('refuses a gzip bomb with 413, creating no job', async () => {
    const before = queue.submitted.length;
    const bomb = gzipSync(Buffer.alloc(15 * 1024 * 1024, ' ')); // 15 MB of JSON whitespace in 15 KB
    expect(bomb.length).toBeLessThan(16 * 1024);
    const r = await gzipped(bomb);
    expect([r.status, (await json(r)).error.code]).toEqual([413, 'BODY_TOO_LARGE']);
    // Under MAX_BODY_BYTES (64 KB here) but over 20x: the ratio bound answers.
    const small = await gzipped(gzipSync(`${' '.repeat(40_000)}{}`));
    expect([small.status, (await json(small)).error]).toEqual([413, { code: 'BODY_TOO_LARGE', message: 'the body inflates more than 20x' }]);
    expect(queue.submitted.length).toBe(before);
  });

  it.each([
    ['an unknown Content-Encoding', 'zstd', gzipSync('{}'), 415, 'UNSUPPORTED_MEDIA_TYPE'],
    ['two encodings', 'gzip, gzip', gzipSync(gzipSync('{}')), 415, 'UNSUPPORTED_MEDIA_TYPE'],
    ['a corrupt gzip stream', 'gzip', Buffer.from('not gzip at all'), 400, 'INVALID_JSON'],
    ['a truncated gzip stream', 'gzip', gzipSync(JSON.stringify({ img1: png, img2: png })).subarray(0, 40), 400, 'INVALID_JSON'],
  ])('refuses %s', async (_, encoding, body, status, code) => {
    const r = await gzipped(body, encoding);
    expect([r.status, (await json(r)).error.code]).toEqual([status, code]);
  });

  it('answers unknown routes with the error shape', async () => {
    const r = await fetch(`${base}/nope`);
    expect([r.status, await json(r)]).toEqual([404, { error: { code: 'NOT_FOUND', message: 'no such route' } }]);
  });
});
