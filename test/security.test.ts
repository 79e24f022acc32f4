import { connect } from 'node:net';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import jwt from 'jsonwebtoken';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dumpKeys } from '@facematch/queue/testing';
import { FIXTURES, redisUrlForTests } from './support/env.ts';
import { TENANTS, startService, tokenFor, type Service } from './support/service.ts';
import { tally } from './support/tally.ts';

const photo = (name: string) => readFileSync(join(FIXTURES, name));
const b64 = (buf: Buffer) => buf.toString('base64');
const jpegUri = (buf: Buffer) => `data:image/jpeg;base64,${b64(buf)}`;
const good = jpegUri(photo('person-b-1.jpg'));
const redisUrl = await redisUrlForTests();
const now = () => Math.floor(Date.now() / 1000);

/** A small PNG header declaring width x height: refused from the header, never decoded. */
function pngBomb(width: number, height: number): Buffer {
  const buf = Buffer.alloc(33);
  Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]).copy(buf, 0);
  buf.writeUInt32BE(13, 8);
  buf.write('IHDR', 12, 'latin1');
  buf.writeUInt32BE(width, 16);
  buf.writeUInt32BE(height, 20);
  buf.writeUInt8(8, 24);
  buf.writeUInt8(2, 25);
  return buf;
}

interface Case {
  name: string;
  body: () => Promise<unknown> | unknown;
  status: number;
  code: string;
  headers?: Record<string, string>;
}

describe.skipIf(!redisUrl)('bad input against the running service: 4xx with a code, no 5xx, no job', () => {
  let svc: Service;
  beforeAll(async () => {
    svc = await startService(redisUrl!, { workers: 1, env: { HEADERS_TIMEOUT_MS: '1500', REQUEST_TIMEOUT_MS: '3000', RATE_LIMIT_PER_MIN: '0' } });
  });
  afterAll(async () => {
    await svc?.stop();
  });

  async function post(body: unknown, headers: Record<string, string> = {}) {
    const res = await fetch(`${svc.baseUrl}/ai/v1/face-verification/verify`, {
      method: 'POST',
      headers: { authorization: tokenFor(0), 'content-type': 'application/json', ...headers },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined };
  }
  const jobCount = async () => [...(await dumpKeys(redisUrl!, svc.prefix)).keys()].filter((k) => /:face-verification:[A-Za-z0-9_-]{24}$/.test(k)).length;

  const pair = (img: string) => ({ img1: img, img2: good });
  const cases: Case[] = [
    { name: 'truncated JPEG', body: () => pair(jpegUri(photo('person-b-1.jpg').subarray(0, 20_000))), status: 400, code: 'IMAGE_DECODE_FAILED' },
    { name: 'zero bytes', body: () => pair('data:image/jpeg;base64,'), status: 400, code: 'INVALID_BASE64' },
    { name: 'text posing as image/jpeg', body: () => pair(jpegUri(Buffer.from('hello, I am a JPEG'))), status: 400, code: 'UNSUPPORTED_FORMAT' },
    { name: 'data URI of text/html', body: () => pair(`data:text/html;base64,${b64(photo('person-b-1.jpg'))}`), status: 400, code: 'UNSUPPORTED_FORMAT' },
    { name: 'data URI without ;base64', body: () => pair(`data:image/jpeg,${b64(photo('person-b-1.jpg'))}`), status: 400, code: 'INVALID_DATA_URI' },
    { name: 'bad base64 characters', body: () => pair(`data:image/jpeg;base64,/9j/4AAQ$$$$`), status: 400, code: 'INVALID_BASE64' },
    { name: 'base64 with spaces', body: () => pair(`data:image/jpeg;base64,${b64(photo('person-b-1.jpg')).replace(/(.{76})/g, '$1 ')}`), status: 400, code: 'INVALID_BASE64' },
    { name: 'base64 with newlines', body: () => pair(`data:image/jpeg;base64,${b64(photo('person-b-1.jpg')).replace(/(.{76})/g, '$1\n')}`), status: 400, code: 'INVALID_BASE64' },
    { name: 'URL-safe base64', body: () => pair(`data:image/jpeg;base64,${photo('person-b-1.jpg').toString('base64url')}`), status: 400, code: 'INVALID_BASE64' },
    { name: 'SVG', body: () => pair(jpegUri(Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="9" height="9"/>'))), status: 400, code: 'UNSUPPORTED_FORMAT' },
    { name: 'PDF', body: () => pair(jpegUri(Buffer.from('%PDF-1.7\n1 0 obj\n'))), status: 400, code: 'UNSUPPORTED_FORMAT' },
    { name: 'GIF', body: async () => pair(jpegUri(await sharp(photo('person-b-1.jpg')).gif().toBuffer())), status: 400, code: 'UNSUPPORTED_FORMAT' },
    { name: 'TIFF', body: async () => pair(jpegUri(await sharp(photo('person-b-1.jpg')).tiff().toBuffer())), status: 400, code: 'UNSUPPORTED_FORMAT' },
    { name: 'HEIC', body: () => pair(jpegUri(Buffer.concat([Buffer.from([0, 0, 0, 0x18]), Buffer.from('ftypheic\0\0\0\0mif1heic')]))), status: 400, code: 'UNSUPPORTED_FORMAT' },
    {
      name: 'animated WebP',
      body: async () => {
        const [a, b] = await Promise.all(['#f00', '#00f'].map((c) => sharp({ create: { width: 16, height: 16, channels: 3, background: c } }).png().toBuffer()));
        return pair(jpegUri(await sharp([a!, b!], { join: { animated: true } }).webp().toBuffer()));
      },
      status: 400,
      code: 'UNSUPPORTED_FORMAT',
    },
    { name: 'PNG bomb 20000x20000', body: () => pair(jpegUri(pngBomb(20000, 20000))), status: 413, code: 'IMAGE_TOO_LARGE' },
    { name: 'PNG bomb 65535x65535', body: () => pair(jpegUri(pngBomb(65535, 65535))), status: 413, code: 'IMAGE_TOO_LARGE' },
    {
      name: 'huge valid JPEG (9000x9000)',
      body: async () => pair(jpegUri(await sharp({ create: { width: 9000, height: 9000, channels: 3, background: '#888' } }).jpeg({ quality: 10 }).toBuffer())),
      status: 413,
      code: 'IMAGE_TOO_LARGE',
    },
    { name: 'img1 missing', body: () => ({ img2: good }), status: 400, code: 'INVALID_BODY' },
    { name: 'img1 null', body: () => ({ img1: null, img2: good }), status: 400, code: 'INVALID_BODY' },
    { name: 'img1 a number', body: () => ({ img1: 42, img2: good }), status: 400, code: 'INVALID_BODY' },
    { name: 'img1 an object', body: () => ({ img1: { data: good }, img2: good }), status: 400, code: 'INVALID_BODY' },
    { name: 'img2 an array', body: () => ({ img1: good, img2: [good] }), status: 400, code: 'INVALID_BODY' },
    { name: 'body an array', body: () => [good, good], status: 400, code: 'INVALID_BODY' },
    { name: 'body a string', body: () => JSON.stringify('img1'), status: 400, code: 'INVALID_BODY' },
    { name: 'body null', body: () => 'null', status: 400, code: 'INVALID_BODY' },
    { name: 'body over the limit', body: () => pair(`data:image/jpeg;base64,${'A'.repeat(16 * 1024 * 1024)}`), status: 413, code: 'BODY_TOO_LARGE' },
    { name: 'wrong Content-Type', body: () => 'img1=a&img2=b', status: 415, code: 'UNSUPPORTED_MEDIA_TYPE', headers: { 'content-type': 'application/x-www-form-urlencoded' } },
    { name: 'no Content-Type', body: () => JSON.stringify(pair(good)), status: 415, code: 'UNSUPPORTED_MEDIA_TYPE', headers: { 'content-type': '' } },
    { name: 'invalid JSON', body: () => '{"img1": "a", ', status: 400, code: 'INVALID_JSON' },
    { name: 'deeply nested JSON array', body: () => '['.repeat(100_000) + ']'.repeat(100_000), status: 400, code: 'INVALID_BODY' },
    { name: 'deeply nested JSON in img1', body: () => `{"img1":${'{"a":'.repeat(50_000)}1${'}'.repeat(50_000)},"img2":"x"}`, status: 400, code: 'INVALID_BODY' },
  ];

  it.each(cases.map((c) => [c.name, c] as const))('refuses %s', async (name, c) => {
    const before = await jobCount();
    const r = await post(await c.body(), c.headers);
    expect([r.status, r.body?.error?.code]).toEqual([c.status, c.code]);
    expect(Object.keys(r.body)).toEqual(['error']);
    expect(await jobCount()).toBe(before);
    tally.input(name);
  });

  it('accepts a real PNG and a real WebP labelled image/jpeg, and ignores unknown fields', async () => {
    const png = await sharp(photo('person-b-1.jpg')).png().toBuffer();
    const webp = await sharp(photo('person-b-1.jpg')).webp().toBuffer();
    const r = await post({ img1: jpegUri(png), img2: jpegUri(webp), extra: { anything: [1, 2] }, img3: 'x' });
    expect([r.status, r.body.verified]).toEqual([200, true]);
  });

  const tokenCases: [string, () => string | undefined, string][] = [
    ['alg none', () => jwt.sign({ apikey: TENANTS[0].apiKey, exp: now() + 600 }, '', { algorithm: 'none' }), 'TOKEN_INVALID'],
    ['HS256 with the wrong secret', () => jwt.sign({ apikey: TENANTS[0].apiKey, exp: now() + 600 }, 'the-wrong-secret-0123456789'), 'TOKEN_INVALID'],
    ['an RS256 header', () => `${Buffer.from('{"alg":"RS256","typ":"JWT"}').toString('base64url')}.${Buffer.from(JSON.stringify({ apikey: TENANTS[0].apiKey, exp: now() + 600 })).toString('base64url')}.c2lnbmF0dXJl`, 'TOKEN_INVALID'],
    ['expired beyond the skew', () => jwt.sign({ apikey: TENANTS[0].apiKey, exp: now() - 61 - 5 }, TENANTS[0].secret), 'TOKEN_EXPIRED'],
    ['no exp', () => jwt.sign({ apikey: TENANTS[0].apiKey }, TENANTS[0].secret), 'TOKEN_INVALID'],
    ['a future nbf', () => jwt.sign({ apikey: TENANTS[0].apiKey, exp: now() + 600, nbf: now() + 600 }, TENANTS[0].secret), 'TOKEN_INVALID'],
    ['an unknown apikey', () => jwt.sign({ apikey: 'stranger', exp: now() + 600 }, 'stranger-secret-0123456789'), 'UNKNOWN_API_KEY'],
    ['a garbage string', () => 'Bearer ;DROP TABLE tokens;--', 'TOKEN_INVALID'],
    ['no token', () => undefined, 'TOKEN_MISSING'],
  ];

  it.each(tokenCases)('refuses a token with %s: 401 and a code', async (name, make, code) => {
    const token = make();
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (token !== undefined) headers.authorization = token;
    const res = await fetch(`${svc.baseUrl}/ai/v1/face-verification/verify`, { method: 'POST', headers, body: JSON.stringify(pair(good)) });
    expect([res.status, ((await res.json()) as { error: { code: string } }).error.code]).toEqual([401, code]);
    tally.input(`token: ${name}`);
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

  it('refuses metadata nested 5,000 levels deep with 400, not a 500', async () => {
    const deep = `{"img1":${JSON.stringify(good)},"img2":${JSON.stringify(good)},"metadata":${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}}`;
    const res = await fetch(`${svc.baseUrl}/ai/v1/face-verification/jobs`, { method: 'POST', headers: { authorization: tokenFor(0), 'content-type': 'application/json' }, body: deep });
    expect([res.status, ((await res.json()) as { error: { code: string } }).error.code]).toEqual([400, 'INVALID_BODY']);
    tally.input('metadata nested 5,000 levels');
  });

  it.each(['events', 'id', 'completed', 'failed', 'stalled-check', 'meta', 'x'.repeat(100)])('answers job id "%s", one of BullMQ’s own key names or no id of ours, with 404', async (id) => {
    for (const method of ['GET', 'DELETE']) {
      const res = await fetch(`${svc.baseUrl}/ai/v1/face-verification/jobs/${id}`, { method, headers: { authorization: tokenFor(0) } });
      expect([res.status, ((await res.json()) as { error: { code: string } }).error.code]).toEqual([404, 'NOT_FOUND']);
    }
    tally.input(`job id "${id.slice(0, 16)}"`);
  });

  it('refuses a 15 KB gzip body that inflates to 15 MB, with 413', async () => {
    const { gzipSync } = await import('node:zlib');
    const bomb = gzipSync(Buffer.from(JSON.stringify({ img1: 'A'.repeat(15 * 1024 * 1024), img2: 'A' })), { level: 9 });
    expect(bomb.length).toBeLessThan(20_000);
    const res = await fetch(`${svc.baseUrl}/ai/v1/face-verification/verify`, {
      method: 'POST',
      headers: { authorization: tokenFor(0), 'content-type': 'application/json', 'content-encoding': 'gzip' },
      body: bomb,
    });
    expect([res.status, ((await res.json()) as { error: { code: string } }).error.code]).toEqual([413, 'BODY_TOO_LARGE']);
    tally.input('gzip bomb (15 KB to 15 MB)');
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
