import type { AddressInfo } from 'node:net';
import jwt from 'jsonwebtoken';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '@facematch/api';
import { FakeQueue } from '@facematch/api/testing';
import { createLogger } from '@facematch/logger';
import { calibrationPath } from '@facematch/models';
import { loadCalibration, modelInfo } from '@facematch/models/calibration';
import { photo, postVerify } from './support/http.ts';
import { TENANTS, tokenFor } from './support/service.ts';
import { tally } from './support/tally.ts';

// Bad input the ingress refuses on its own, before Redis or a worker is involved: run in-process against
// createApp with a fake queue (milliseconds), at the service's default limits. What needs the real server
// (its timeouts), Redis or a worker is in security.test.ts.
const b64 = (buf: Buffer) => buf.toString('base64');
const jpegUri = (buf: Buffer) => `data:image/jpeg;base64,${b64(buf)}`;
const good = jpegUri(photo('person-b-1.jpg'));
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

describe('bad input at the ingress: 4xx with a code, nothing enqueued', () => {
  const queue = new FakeQueue();
  let base = '';
  let close = () => {};
  beforeAll(async () => {
    const app = createApp({
      queue,
      tenants: new Map(TENANTS.map((t) => [t.apiKey, t])),
      log: createLogger({ name: 'ingress-test', level: 'silent' }),
      model: modelInfo(loadCalibration(calibrationPath), { detector: 'auto' }),
      // The service's defaults (MAX_BODY_BYTES, MAX_IMAGE_BYTES, MAX_IMAGE_PIXELS).
      config: { syncWaitMs: 10, maxBodyBytes: 15 * 1024 * 1024, maxImageBytes: 10 * 1024 * 1024, maxImagePixels: 40_000_000, webhooks: { allowPrivate: false, requireHttps: false, tenantsWithSecret: new Set() } },
    });
    const server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    close = () => server.close();
  });
  afterAll(() => close());

  const post = (body: unknown, headers?: Record<string, string>) => postVerify(base, body, headers);

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
    const before = queue.submitted.length;
    const r = await post(await c.body(), c.headers);
    expect([r.status, r.body?.error?.code]).toEqual([c.status, c.code]);
    expect(Object.keys(r.body)).toEqual(['error']);
    expect(queue.submitted.length).toBe(before); // nothing enqueued
    tally.input(name);
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
    const res = await fetch(`${base}/ai/v1/face-verification/verify`, { method: 'POST', headers, body: JSON.stringify(pair(good)) });
    expect([res.status, ((await res.json()) as { error: { code: string } }).error.code]).toEqual([401, code]);
    tally.input(`token: ${name}`);
  });

  it('refuses metadata nested 5,000 levels deep with 400, not a 500', async () => {
    const deep = `{"img1":${JSON.stringify(good)},"img2":${JSON.stringify(good)},"metadata":${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}}`;
    const res = await fetch(`${base}/ai/v1/face-verification/jobs`, { method: 'POST', headers: { authorization: tokenFor(0), 'content-type': 'application/json' }, body: deep });
    expect([res.status, ((await res.json()) as { error: { code: string } }).error.code]).toEqual([400, 'INVALID_BODY']);
    tally.input('metadata nested 5,000 levels');
  });

  it('refuses a 15 KB gzip body that inflates to 15 MB, with 413', async () => {
    const { gzipSync } = await import('node:zlib');
    const bomb = gzipSync(Buffer.from(JSON.stringify({ img1: 'A'.repeat(15 * 1024 * 1024), img2: 'A' })), { level: 9 });
    expect(bomb.length).toBeLessThan(20_000);
    const res = await fetch(`${base}/ai/v1/face-verification/verify`, {
      method: 'POST',
      headers: { authorization: tokenFor(0), 'content-type': 'application/json', 'content-encoding': 'gzip' },
      body: bomb,
    });
    expect([res.status, ((await res.json()) as { error: { code: string } }).error.code]).toEqual([413, 'BODY_TOO_LARGE']);
    tally.input('gzip bomb (15 KB to 15 MB)');
  });
});
