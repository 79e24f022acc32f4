import { createHmac } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FaceMatchApiError, FaceMatchClient, mintToken, toImagePayload } from './index.ts';

/** A scripted fetch: answers each call with the next reply and records what was sent. */
function scripted(...replies: (Response | Error)[]) {
  const calls: { url: string; init: RequestInit }[] = [];
  const fetch = (async (url: string, init: RequestInit) => {
    calls.push({ url, init });
    const r = replies.shift();
    if (!r) throw new Error('no more replies');
    if (r instanceof Error) throw r;
    return r;
  }) as unknown as typeof globalThis.fetch;
  return { fetch, calls };
}
const json = (status: number, body: unknown, headers: Record<string, string> = {}) => new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } });
const unavailable = (retryAfter: string) => json(503, { error: { code: 'QUEUE_UNAVAILABLE', message: 'redis down' } }, { 'retry-after': retryAfter });

describe('mintToken', () => {
  it('makes an HS256 JWT with the apikey claim and exp, signed with the secret', () => {
    const token = mintToken('key-a', 'secret-a-0123456789', 600, 1_700_000_000_000);
    const [h, p, s] = token.split('.');
    expect(JSON.parse(Buffer.from(h!, 'base64url').toString())).toEqual({ alg: 'HS256', typ: 'JWT' });
    expect(JSON.parse(Buffer.from(p!, 'base64url').toString())).toMatchObject({ apikey: 'key-a', iat: 1_700_000_000, exp: 1_700_000_600 });
    expect(s).toBe(createHmac('sha256', 'secret-a-0123456789').update(`${h}.${p}`).digest('base64url'));
  });
});

describe('toImagePayload', () => {
  it('reads file paths and Buffers into data URIs, and passes data URIs and base64 through', () => {
    const dir = mkdtempSync(join(tmpdir(), 'fm-client-'));
    const file = join(dir, 'a.jpg');
    writeFileSync(file, Buffer.from([0xff, 0xd8, 0xff, 0x01]));
    expect(toImagePayload(file)).toBe('data:image/jpeg;base64,/9j/AQ==');
    expect(toImagePayload(Buffer.from([0xff, 0xd8, 0xff, 0x01]))).toBe('data:image/jpeg;base64,/9j/AQ==');
    expect(toImagePayload('data:image/png;base64,iVBO')).toBe('data:image/png;base64,iVBO');
    expect(toImagePayload('/9j/AQ==')).toBe('/9j/AQ==');
  });
});

describe('FaceMatchClient', () => {
  it('retries a 503 after its Retry-After, then returns the result', async () => {
    const { fetch, calls } = scripted(unavailable('0'), json(200, { verified: true }));
    const retries: unknown[] = [];
    const c = new FaceMatchClient({ baseUrl: 'http://fm.test/', token: 't', fetch, onRetry: (r) => retries.push(r) });
    expect(await c.verify('QUJD', 'REVG')).toEqual({ verified: true });
    expect(calls).toHaveLength(2);
    expect(calls[0]!.url).toBe('http://fm.test/ai/v1/face-verification/verify');
    expect(calls[0]!.init.headers).toMatchObject({ authorization: 't', 'content-type': 'application/json' });
    expect(retries).toEqual([{ attempt: 1, status: 503, code: 'QUEUE_UNAVAILABLE', retryAfterS: 0, delayMs: 0 }]);
  });

  it('gives up after maxRetries with the typed error, and never retries a 4xx other than 429', async () => {
    const busy = scripted(unavailable('0'), unavailable('0'), unavailable('0'));
    const c = new FaceMatchClient({ baseUrl: 'http://fm.test', token: 't', fetch: busy.fetch, maxRetries: 2 });
    await expect(c.get('j')).rejects.toMatchObject({ code: 'QUEUE_UNAVAILABLE', status: 503, retryable: true, retryAfterS: 0 });
    expect(busy.calls).toHaveLength(3);

    const bad = scripted(json(422, { error: { code: 'NO_FACE', message: 'no face found in img2', image: 'img2' } }));
    const c2 = new FaceMatchClient({ baseUrl: 'http://fm.test', token: 't', fetch: bad.fetch });
    const err = await c2.verify('QUJD', 'REVG').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FaceMatchApiError);
    expect(err).toMatchObject({ code: 'NO_FACE', status: 422, image: 'img2', retryable: false });
    expect(bad.calls).toHaveLength(1);
  });

  it('retries a refused connection but not a non-JSON answer', async () => {
    const { fetch, calls } = scripted(new TypeError('fetch failed'), json(200, { id: 'j', status: 'queued', createdAt: 'x' }));
    const c = new FaceMatchClient({ baseUrl: 'http://fm.test', token: 't', fetch, maxRetryDelayMs: 0 });
    expect(await c.get('j')).toMatchObject({ id: 'j' });
    expect(calls).toHaveLength(2);

    const proxy = scripted(new Response('<html>bad gateway</html>', { status: 502 }));
    const c2 = new FaceMatchClient({ baseUrl: 'http://fm.test', token: 't', fetch: proxy.fetch });
    await expect(c2.get('j')).rejects.toMatchObject({ code: 'UNEXPECTED_RESPONSE', status: 502 });
  });

  it('polls a 202 from verify until the job ends', async () => {
    const { fetch, calls } = scripted(
      json(202, { id: 'j1', status: 'queued' }),
      json(200, { id: 'j1', status: 'active', createdAt: 'x' }),
      json(200, { id: 'j1', status: 'completed', createdAt: 'x', result: { verified: false } }),
    );
    const c = new FaceMatchClient({ baseUrl: 'http://fm.test', apiKey: 'k', secret: 'secret-0123456789abcdef', fetch });
    expect(await c.verify('QUJD', 'REVG')).toEqual({ verified: false });
    expect(calls.map((x) => x.url.split('/face-verification')[1])).toEqual(['/verify', '/jobs/j1', '/jobs/j1']);
    // One token minted and reused across the calls.
    expect(new Set(calls.map((x) => (x.init.headers as Record<string, string>).authorization)).size).toBe(1);
  });

  it('sends the idempotency key and the webhook fields on submit', async () => {
    const { fetch, calls } = scripted(json(202, { id: 'j', status: 'queued' }));
    const c = new FaceMatchClient({ baseUrl: 'http://fm.test', token: 't', fetch });
    await c.submit('QUJD', 'REVG', { webhookUrl: 'https://hook.test/x', metadata: { ref: 1 }, idempotencyKey: 'k-1' });
    expect(calls[0]!.init.headers).toMatchObject({ 'idempotency-key': 'k-1' });
    expect(JSON.parse(calls[0]!.init.body as string)).toEqual({ img1: 'QUJD', img2: 'REVG', webhookUrl: 'https://hook.test/x', metadata: { ref: 1 } });
  });
});
