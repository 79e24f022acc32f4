import { createServer, type AddressInfo, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redisUrlForTests } from './support/env.ts';
import { startService, type Service } from './support/service.ts';
import { tally } from './support/tally.ts';

const redisUrl = await redisUrlForTests();

describe.skipIf(!redisUrl)('a taken metrics port', () => {
  let blocker: Server;
  let port = 0;
  let svc: Service;
  beforeAll(async () => {
    // Something else already holds the port the worker's metrics would use (METRICS_HOST defaults to loopback).
    blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
    port = (blocker.address() as AddressInfo).port;
    // startService resolves only once the worker has sent 'ready', and rejects if it exits first.
    svc = await startService(redisUrl!, { workers: 1, env: { METRICS_PORT: String(port) } });
  });
  afterAll(async () => {
    await svc?.stop();
    await new Promise((r) => blocker?.close(r));
  });

  it('leaves the worker running and ready, without metrics', async () => {
    const [worker] = svc.workers;
    const ready = worker!.ready as { metricsPort?: number };
    expect(ready.metricsPort).toBeUndefined();
    expect(worker!.child.exitCode).toBeNull();
    const r = await fetch(`${svc.baseUrl}/readyz`);
    expect(r.status).toBe(200);
    expect(((await r.json()) as { workers: number }).workers).toBeGreaterThanOrEqual(1);
    tally.fault('the metrics port is taken');
  });

  it('says once, naming METRICS_PORT and the port, why metrics are off', async () => {
    // The log is what is under test; it precedes the "worker ready" line on the same stream.
    await svc.workers[0]!.waitFor(/worker ready/);
    const warnings = svc.workers[0]!.output.filter((l) => l.includes('METRICS_PORT'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain(String(port));
    expect((JSON.parse(warnings[0]!) as { level: number }).level).toBe(40); // pino's warn
    expect(svc.workers[0]!.output.join('\n')).not.toMatch(/uncaught exception/);
  });
});
