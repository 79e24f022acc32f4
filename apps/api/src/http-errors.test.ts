import { createServer, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { handleClientError } from './http-errors.ts';
import { readBody } from './json-body.ts';

// A real server with the API's timeouts shortened, and a handler that reads the body as the app does.
let server: Server;
let port = 0;
const started: string[] = [];

beforeAll(async () => {
  server = createServer({ headersTimeout: 300, requestTimeout: 400, connectionsCheckingInterval: 50 }, (req, res) => {
    started.push(req.url ?? '');
    if (req.url === '/streams') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.flushHeaders(); // the answer has begun before the body is read
    }
    void readBody(req, 1 << 20).then(
      async (body) => {
        if (req.url === '/slow') await new Promise((r) => setTimeout(r, 700));
        res.end(JSON.stringify({ got: body.length }));
      },
      () => res.destroy(),
    );
  });
  server.on('clientError', handleClientError);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

/** Writes raw bytes and collects everything the server sends until it closes the connection. */
function exchange(...chunks: string[]): Promise<{ head: string; body: string; ms: number }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const socket = connect(port, '127.0.0.1');
    let data = '';
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => (data += d));
    socket.on('error', reject);
    socket.on('close', () => {
      const at = data.indexOf('\r\n\r\n');
      resolve({ head: at < 0 ? data : data.slice(0, at), body: at < 0 ? '' : data.slice(at + 4), ms: performance.now() - t0 });
    });
    for (const c of chunks) socket.write(c);
    setTimeout(() => socket.destroy(new Error('the server never closed the connection')), 3000).unref();
  });
}

const shape = (code: string) => ({ error: { code, message: expect.any(String) } });

describe('handleClientError', () => {
  it('answers a 100 KB path with 431 in the error shape', async () => {
    const r = await fetch(`http://127.0.0.1:${port}/${'a'.repeat(100_000)}`);
    expect(r.status).toBe(431);
    expect(r.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(r.headers.get('connection')).toBe('close');
    expect(await r.json()).toEqual(shape('HEADERS_TOO_LARGE'));
  });

  it('answers 100 KB of headers with 431, on a raw socket too', async () => {
    const r = await exchange(`GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'b'.repeat(100_000)}\r\n\r\n`);
    expect(r.head.split('\r\n')[0]).toBe('HTTP/1.1 431 Request Header Fields Too Large');
    expect(r.head.toLowerCase()).toContain('connection: close');
    expect(JSON.parse(r.body)).toEqual(shape('HEADERS_TOO_LARGE'));
  });

  it('answers headers that never end with 408 at the headers timeout', async () => {
    const r = await exchange('POST / HTTP/1.1\r\nHost: x\r\n');
    expect(r.head.split('\r\n')[0]).toBe('HTTP/1.1 408 Request Timeout');
    expect(JSON.parse(r.body)).toEqual(shape('REQUEST_TIMEOUT'));
  });

  it('answers a body that stops halfway with 408, though the handler had started reading it', async () => {
    const r = await exchange('POST /partial HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"img1":');
    expect(started).toContain('/partial');
    expect(r.head.split('\r\n')[0]).toBe('HTTP/1.1 408 Request Timeout');
    expect(JSON.parse(r.body)).toEqual({ error: { code: 'REQUEST_TIMEOUT', message: 'the request did not arrive in time' } });
    expect(r.ms).toBeGreaterThanOrEqual(350);
  });

  it('only closes the connection when the app has begun its answer', async () => {
    const r = await exchange('POST /streams HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc');
    expect(r.head.split('\r\n')[0]).toBe('HTTP/1.1 200 OK');
    expect(r.body).not.toContain('REQUEST_TIMEOUT');
  });

  it('does not time out a request that arrived whole, however long the handler takes', async () => {
    const r = await exchange('POST /slow HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{}');
    expect(r.head.split('\r\n')[0]).toBe('HTTP/1.1 200 OK');
    expect(r.body).toBe('{"got":2}');
    expect(r.ms).toBeGreaterThan(600);
  });

  it('answers bytes that are not HTTP with 400 BAD_REQUEST', async () => {
    const r = await exchange('NOT HTTP AT ALL\r\n\r\n');
    expect(r.head.split('\r\n')[0]).toBe('HTTP/1.1 400 Bad Request');
    expect(JSON.parse(r.body)).toEqual(shape('BAD_REQUEST'));
  });

  it('keeps serving afterwards', async () => {
    const r = await fetch(`http://127.0.0.1:${port}/ok`, { method: 'POST', body: 'abc' });
    expect([r.status, await r.json()]).toEqual([200, { got: 3 }]);
  });
});
