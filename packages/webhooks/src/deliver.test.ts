import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deliver } from './deliver.ts';

let server: Server;
let port = 0;
let hits = 0;
beforeAll(async () => {
  server = createServer((req, res) => {
    hits++;
    if (req.url === '/redirect') res.writeHead(302, { location: '/ok' }).end();
    else if (req.url === '/busy') res.writeHead(503, { 'retry-after': '30' }).end();
    else if (req.url === '/hang') return; // never answers
    else res.writeHead(204).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  port = (server.address() as AddressInfo).port;
});
afterAll(() => {
  server.closeAllConnections();
  server.close();
});

const open = { timeoutMs: 500, allowPrivate: true };

describe('deliver', () => {
  it('reports the status, and Retry-After when sent', async () => {
    expect(await deliver(`http://127.0.0.1:${port}/ok`, '{}', {}, open)).toEqual({ status: 204 });
    expect(await deliver(`http://127.0.0.1:${port}/busy`, '{}', {}, open)).toEqual({ status: 503, retryAfterS: 30 });
  });

  it('does not follow redirects', async () => {
    const before = hits;
    expect((await deliver(`http://127.0.0.1:${port}/redirect`, '{}', {}, open)).status).toBe(302);
    expect(hits - before).toBe(1);
  });

  it('aborts an attempt at the timeout', async () => {
    const t0 = performance.now();
    const res = await deliver(`http://127.0.0.1:${port}/hang`, '{}', {}, open);
    expect(res.status).toBeUndefined();
    expect(res.error).toMatch(/timed out/);
    expect(performance.now() - t0).toBeLessThan(5000);
  });

  it('refuses at connect time a host name that resolves to loopback, and an IP literal', async () => {
    const before = hits;
    // Any port, so that what refuses these is the address check, not the port check.
    const strict = { timeoutMs: 500, allowPrivate: false, allowedPorts: 'any' as const };
    expect(await deliver(`http://localhost:${port}/ok`, '{}', {}, strict)).toMatchObject({ status: undefined, error: expect.stringMatching(/^blocked/) });
    expect(await deliver(`http://127.0.0.1:${port}/ok`, '{}', {}, strict)).toMatchObject({ status: undefined, error: expect.stringMatching(/^blocked/) });
    expect(await deliver(`http://[::ffff:127.0.0.1]:${port}/ok`, '{}', {}, strict)).toMatchObject({ status: undefined, error: expect.stringMatching(/^blocked/) });
    expect(await deliver(`http://[::7f00:1]:${port}/ok`, '{}', {}, strict)).toMatchObject({ status: undefined, error: expect.stringMatching(/^blocked/) });
    expect(hits).toBe(before);
  });

  it('refuses a port outside the allowed ones before connecting, and allows any port with private targets', async () => {
    const before = hits;
    // The check comes before any connection, so a public address on a refused port is never dialled.
    for (const allowedPorts of [undefined, new Set([443])]) {
      const res = await deliver('http://8.8.8.8:8080/ok', '{}', {}, { timeoutMs: 500, allowPrivate: false, allowedPorts });
      expect(res).toMatchObject({ status: undefined, error: expect.stringMatching(/^blocked: .*port/) });
    }
    expect(await deliver(`http://127.0.0.1:${port}/ok`, '{}', {}, { timeoutMs: 500, allowPrivate: true, allowedPorts: new Set([443]) })).toEqual({ status: 204 });
    expect(hits - before).toBe(1);
  });
});
