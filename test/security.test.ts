import { connect } from 'node:net';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redisUrlForTests } from './support/env.ts';
import { photo, postVerify } from './support/http.ts';
import { startService, tokenFor, type Service } from './support/service.ts';
import { tally } from './support/tally.ts';

const b64 = (buf: Buffer) => buf.toString('base64');
const jpegUri = (buf: Buffer) => `data:image/jpeg;base64,${b64(buf)}`;
const good = jpegUri(photo('person-b-1.jpg'));
const redisUrl = await redisUrlForTests();

describe.skipIf(!redisUrl)('bad input against the running service: what needs the real server, Redis or a worker', () => {
  let svc: Service;
  beforeAll(async () => {
    svc = await startService(redisUrl!, { workers: 1, env: { HEADERS_TIMEOUT_MS: '1500', REQUEST_TIMEOUT_MS: '3000', RATE_LIMIT_PER_MIN: '0' } });
  });
  afterAll(async () => {
    await svc?.stop();
  });

  const post = (body: unknown, headers?: Record<string, string>) => postVerify(svc.baseUrl, body, headers);
  const pair = (img: string) => ({ img1: img, img2: good });

  it('accepts a real PNG and a real WebP labelled image/jpeg, and ignores unknown fields', async () => {
    const png = await sharp(photo('person-b-1.jpg')).png().toBuffer();
    const webp = await sharp(photo('person-b-1.jpg')).webp().toBuffer();
    const r = await post({ img1: jpegUri(png), img2: jpegUri(webp), extra: { anything: [1, 2] }, img3: 'x' });
    expect([r.status, r.body.verified]).toEqual([200, true]);
  });

  it('answers tenant B reading tenant A’s job exactly as for an unknown id', async () => {
    const sub = await fetch(`${svc.baseUrl}/ai/v1/face-verification/jobs`, {
      method: 'POST',
      headers: { authorization: tokenFor(0), 'content-type': 'application/json' },
      body: JSON.stringify(pair(good)),
    });
    const { id } = (await sub.json()) as { id: string };
    const get = async (path: string) => {
      const r = await fetch(`${svc.baseUrl}/ai/v1/face-verification/jobs/${path}`, { headers: { authorization: tokenFor(1) } });
      return [r.status, await r.text()];
    };
    expect(await get(id)).toEqual(await get('AAAAAAAAAAAAAAAAAAAAAAAA'));
    tally.input('token: tenant A reading tenant B’s job');
  });

  it('closes a slow-header connection at the header timeout', async () => {
    const url = new URL(svc.baseUrl);
    const socket = connect(Number(url.port), url.hostname);
    const closed = new Promise<string>((resolve) => {
      let data = '';
      socket.on('data', (d) => (data += d));
      socket.on('close', () => resolve(data));
    });
    socket.write('POST /ai/v1/face-verification/verify HTTP/1.1\r\nHost: x\r\n'); // and never finish the headers
    const answer = await closed;
    expect(answer === '' || answer.startsWith('HTTP/1.1 408')).toBe(true);
    expect((await fetch(`${svc.baseUrl}/healthz`)).status).toBe(200);
    tally.input('slow-header client');
  });

  it('survives 1,000 mutated requests with no 5xx, and stays responsive', async () => {
    let seed = 42;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const pick = <T,>(xs: T[]) => xs[Math.floor(rand() * xs.length)]!;
    const small = jpegUri(await sharp(photo('person-b-1.jpg')).resize(64).jpeg().toBuffer());
    const base = JSON.stringify({ img1: small, img2: small, metadata: { a: 1 } });
    const mutate = (s: string): string => {
      const chars = [...s];
      const ops = 1 + Math.floor(rand() * 4);
      for (let i = 0; i < ops; i++) {
        const at = Math.floor(rand() * chars.length);
        const op = rand();
        if (op < 0.3) chars.splice(at, 1 + Math.floor(rand() * 20));
        else if (op < 0.6) chars.splice(at, 0, pick(['{', '}', '"', '\\', '\u0000', '[', ']', ',', ':', 'null', 'true', '1e999', '\uD800', 'é', '%', ' ']));
        else chars[at] = String.fromCharCode(Math.floor(rand() * 256));
      }
      return chars.join('');
    };
    const statuses = new Map<number, number>();
    const paths = ['/ai/v1/face-verification/verify', '/ai/v1/face-verification/jobs', '/ai/v1/face-verification/jobs/x', '/ai/v1/face-verification/jobs/%ZZ'];
    for (let i = 0; i < 1000; i++) {
      const headers: Record<string, string> = { 'content-type': pick(['application/json', 'application/json; charset=utf-8', 'application/json; charset=latin1', 'text/plain', 'application/json; charset=utf-16']) };
      // Header values must stay printable ASCII, or fetch itself refuses to send them.
      const auth = pick([tokenFor(0), `Bearer ${tokenFor(0)}`, mutate(tokenFor(0)).replace(/[^\x21-\x7e]/g, 'A'), '', 'Bearer', 'eyJhbGciOiJub25lIn0.e30.']);
      if (auth) headers.authorization = auth;
      const res = await fetch(`${svc.baseUrl}${pick(paths)}`, { method: pick(['POST', 'POST', 'POST', 'GET', 'DELETE', 'PUT']), headers, body: undefined as never, ...(rand() < 0.95 ? { body: mutate(base), method: 'POST' } : {}) });
      await res.arrayBuffer();
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
    }
    const fivexx = [...statuses].filter(([s]) => s >= 500);
    expect(fivexx).toEqual([]);
    // Still serving after the fuzzing: the process neither crashed nor wedged.
    expect((await fetch(`${svc.baseUrl}/healthz`)).status).toBe(200);
    tally.input('fuzzing: 1,000 mutated requests');
  });

  /** A raw HTTP exchange, for what fetch will not send (huge request lines, bodies that stop). */
  async function rawExchange(head: string, body = ''): Promise<{ status: number; contentType: string; json: { error?: { code: string } } | undefined }> {
    const url = new URL(svc.baseUrl);
    const socket = connect(Number(url.port), url.hostname);
    const answer = await new Promise<string>((resolve) => {
      let data = '';
      socket.on('data', (d) => (data += d));
      socket.on('close', () => resolve(data));
      socket.on('error', () => resolve(data));
      socket.write(head + body);
    });
    const [headers = '', payload = ''] = answer.split('\r\n\r\n');
    const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(headers)?.[1] ?? 0);
    let json;
    try {
      json = JSON.parse(payload);
    } catch {
      json = undefined;
    }
    return { status, contentType: /content-type: ([^\r\n]*)/i.exec(headers)?.[1] ?? '', json };
  }

  it.each(['events', 'id', 'completed', 'failed', 'stalled-check', 'meta', 'x'.repeat(100)])('answers job id "%s", one of BullMQ’s own key names or no id of ours, with 404', async (id) => {
    for (const method of ['GET', 'DELETE']) {
      const res = await fetch(`${svc.baseUrl}/ai/v1/face-verification/jobs/${id}`, { method, headers: { authorization: tokenFor(0) } });
      expect([res.status, ((await res.json()) as { error: { code: string } }).error.code]).toEqual([404, 'NOT_FOUND']);
    }
    tally.input(`job id "${id.slice(0, 16)}"`);
  });

  it('accepts an upper-case data URI scheme and type, as URIs are case-insensitive there', async () => {
    const r = await post({ img1: good.replace('data:image/jpeg;base64,', 'DATA:IMAGE/JPEG;BASE64,'), img2: good });
    expect([r.status, r.body.verified]).toEqual([200, true]);
  });

  it('answers a 100 KB path and an oversized header with 431 in the error shape', async () => {
    const longPath = await rawExchange(`GET /ai/v1/face-verification/jobs/${'a'.repeat(100_000)} HTTP/1.1\r\nHost: x\r\n\r\n`);
    const bigHeader = await rawExchange(`GET /healthz HTTP/1.1\r\nHost: x\r\nX-Junk: ${'b'.repeat(20_000)}\r\n\r\n`);
    for (const r of [longPath, bigHeader]) {
      expect([r.status, r.json?.error?.code]).toEqual([431, 'HEADERS_TOO_LARGE']);
      expect(r.contentType).toMatch(/^application\/json/);
    }
    tally.input('100 KB path');
    tally.input('oversized header');
  });

  it('answers a body that stops arriving with 408 in the error shape, at REQUEST_TIMEOUT_MS', async () => {
    const head = `POST /ai/v1/face-verification/verify HTTP/1.1\r\nHost: x\r\nAuthorization: ${tokenFor(0)}\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n`;
    const r = await rawExchange(head, '{"img1":"data:image/jpeg;base64,');
    expect([r.status, r.json?.error?.code]).toEqual([408, 'REQUEST_TIMEOUT']);
    expect((await fetch(`${svc.baseUrl}/healthz`)).status).toBe(200);
    tally.input('slow body');
  });

  it.each([
    'http://[::127.0.0.1]/',
    'http://[::7f00:1]/',
    'http://[::a00:1]/',
    'http://[2002:7f00:1::]/',
    'http://[2002:a00:1::]/',
    'http://[64:ff9b:1::a00:1]/',
    'http://[2001::1]/',
    'http://[fec0::1]/',
    'http://[100::1]/',
    'http://8.8.8.8:6379/',
  ])('refuses the webhook target %s (IPv6 forms of private space, or a port not allowed)', async (url) => {
    const res = await fetch(`${svc.baseUrl}/ai/v1/face-verification/jobs`, {
      method: 'POST',
      headers: { authorization: tokenFor(0), 'content-type': 'application/json' },
      body: JSON.stringify({ ...pair(good), webhookUrl: url }),
    });
    expect([res.status, ((await res.json()) as { error: { code: string } }).error.code]).toEqual([400, 'WEBHOOK_URL_INVALID']);
    tally.input(`webhook target ${url}`);
  });
});
