import { describe, expect, it } from 'vitest';
import { ApiMetrics, WorkerMetrics, serveMetrics } from './index.ts';

describe('ApiMetrics', () => {
  it('counts requests by route and status and reads queue depth at scrape time', async () => {
    let waiting = 3;
    const m = new ApiMetrics(async () => ({ 'face-verification': { waiting, active: 1 } }));
    m.request('POST', '/verify', 200, 0.2);
    m.request('POST', '/verify', 200, 0.3);
    m.request('GET', '/jobs/:id', 404, 0.001);
    let text = await m.registry.metrics();
    expect(text).toContain('facematch_http_requests_total{method="POST",route="/verify",status="200"} 2');
    expect(text).toContain('facematch_http_requests_total{method="GET",route="/jobs/:id",status="404"} 1');
    expect(text).toContain('facematch_http_request_duration_seconds_bucket{le="0.25",method="POST",route="/verify",status="200"} 1');
    expect(text).toContain('facematch_queue_jobs{queue="face-verification",state="waiting"} 3');
    waiting = 7;
    text = await m.registry.metrics();
    expect(text).toContain('facematch_queue_jobs{queue="face-verification",state="waiting"} 7');
    expect(text).toContain('facematch_queue_reachable 1');
  });

  it('still serves request metrics when Redis is down, and says the queue is unreachable', async () => {
    const m = new ApiMetrics(async () => {
      throw new Error('redis down');
    });
    m.request('GET', '/healthz', 200, 0.001);
    const text = await m.registry.metrics();
    expect(text).toContain('facematch_http_requests_total{method="GET",route="/healthz",status="200"} 1');
    expect(text).toContain('facematch_queue_reachable 0');
    expect(text).not.toContain('facematch_queue_jobs{');
  });
});

describe('WorkerMetrics', () => {
  it('records job phases, outcomes with codes, the engine and deliveries, and serves them', async () => {
    const m = new WorkerMetrics({ backend: 'wasm', detector: 'auto' });
    m.job({ outcome: 'completed', queueWaitMs: 40, decodeMs: 10, inferMs: 150 });
    m.job({ outcome: 'failed', code: 'NO_FACE', queueWaitMs: 5 });
    m.delivery('delivered');
    m.delivery('retry');
    const server = await serveMetrics(m.registry, 0, '127.0.0.1');
    try {
      const { port } = server.address() as { port: number };
      const res = await fetch(`http://127.0.0.1:${port}/metrics`);
      expect(res.headers.get('content-type')).toContain('text/plain');
      const text = await res.text();
      expect(text).toContain('facematch_jobs_total{outcome="completed",code=""} 1');
      expect(text).toContain('facematch_jobs_total{outcome="failed",code="NO_FACE"} 1');
      expect(text).toContain('facematch_job_phase_seconds_count{phase="queue_wait"} 2');
      expect(text).toContain('facematch_job_phase_seconds_count{phase="inference"} 1');
      expect(text).toContain('facematch_engine_info{backend="wasm",detector="auto"} 1');
      expect(text).toContain('facematch_webhook_deliveries_total{outcome="retry"} 1');
      expect((await fetch(`http://127.0.0.1:${port}/other`)).status).toBe(404);
    } finally {
      server.close();
    }
  });
});

describe('serveMetrics', () => {
  it('answers /healthz with 200 or 503 as the process reports itself', async () => {
    const m = new WorkerMetrics({ backend: 'wasm', detector: 'auto' });
    let ok = true;
    const server = await serveMetrics(m.registry, 0, '127.0.0.1', () => ok);
    try {
      const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/healthz`;
      expect((await fetch(url)).status).toBe(200);
      ok = false;
      const res = await fetch(url);
      expect(res.status).toBe(503);
      expect(await res.json()).toEqual({ status: 'unhealthy' });
    } finally {
      server.close();
    }
  });

  it('rejects, for the caller to handle, when the port is taken', async () => {
    // The worker carries on without metrics on this rejection: it must be a rejection, never a throw elsewhere.
    const m = new WorkerMetrics({ backend: 'wasm', detector: 'auto' });
    const first = await serveMetrics(m.registry, 0, '127.0.0.1');
    try {
      const { port } = first.address() as { port: number };
      await expect(serveMetrics(m.registry, port, '127.0.0.1')).rejects.toMatchObject({ code: 'EADDRINUSE' });
    } finally {
      first.close();
    }
  });
});
