import http from 'node:http';
import type { JobEnded } from '@facematch/contracts';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Job counts by BullMQ state, per queue; read from Redis at scrape time. */
export type QueueCounts = () => Promise<Record<string, Record<string, number>>>;

const SECONDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** The API's metrics: requests by route and status, and the queue's depth by state. */
export class ApiMetrics {
  readonly registry = new Registry();
  private readonly requests = new Counter({ name: 'facematch_http_requests_total', help: 'HTTP requests answered, by route and status', labelNames: ['method', 'route', 'status'] as const, registers: [this.registry] });
  private readonly latency = new Histogram({ name: 'facematch_http_request_duration_seconds', help: 'Time to answer an HTTP request, sync waits included', labelNames: ['method', 'route', 'status'] as const, buckets: SECONDS, registers: [this.registry] });

  constructor(queueCounts: QueueCounts) {
    collectDefaultMetrics({ register: this.registry, prefix: 'facematch_api_' });
    const reachable = new Gauge({ name: 'facematch_queue_reachable', help: '1 if Redis answered the last scrape\'s queue counts, else 0', registers: [this.registry] });
    new Gauge({
      name: 'facematch_queue_jobs',
      help: 'Jobs in each queue by state, read from Redis at scrape time',
      labelNames: ['queue', 'state'] as const,
      registers: [this.registry],
      async collect() {
        this.reset();
        // Redis down must not take the request metrics with it: the depth goes missing and says so.
        let counts: Awaited<ReturnType<QueueCounts>>;
        try {
          counts = await queueCounts();
        } catch {
          reachable.set(0);
          return;
        }
        reachable.set(1);
        for (const [queue, states] of Object.entries(counts)) {
          for (const [state, n] of Object.entries(states)) this.set({ queue, state }, n);
        }
      },
    });
  }

  /** `route` is the route pattern (`/jobs/:id`), never the raw path: ids would explode the label set. */
  request(method: string, route: string, status: number, seconds: number): void {
    const labels = { method, route, status: String(status) };
    this.requests.inc(labels);
    this.latency.observe(labels, seconds);
  }
}


/** A worker's metrics: where a job's time went, how jobs ended, the backend, and webhook deliveries. */
export class WorkerMetrics {
  readonly registry = new Registry();
  private readonly phases = new Histogram({ name: 'facematch_job_phase_seconds', help: 'Time a verification job spends in each phase: queue_wait (enqueued to started), decode, inference', labelNames: ['phase'] as const, buckets: SECONDS, registers: [this.registry] });
  private readonly jobs = new Counter({ name: 'facematch_jobs_total', help: 'Verification jobs ended, by outcome and error code', labelNames: ['outcome', 'code'] as const, registers: [this.registry] });
  private readonly deliveries = new Counter({ name: 'facematch_webhook_deliveries_total', help: 'Webhook delivery attempts, by outcome', labelNames: ['outcome'] as const, registers: [this.registry] });

  constructor(engine: { backend: string; detector: string }) {
    collectDefaultMetrics({ register: this.registry, prefix: 'facematch_worker_' });
    new Gauge({ name: 'facematch_engine_info', help: 'The engine this worker runs (value 1)', labelNames: ['backend', 'detector'] as const, registers: [this.registry] }).set(engine, 1);
  }

  job(e: JobEnded): void {
    this.jobs.inc({ outcome: e.outcome, code: e.code ?? '' });
    this.phases.observe({ phase: 'queue_wait' }, e.queueWaitMs / 1000);
    if (e.decodeMs !== undefined) this.phases.observe({ phase: 'decode' }, e.decodeMs / 1000);
    if (e.inferMs !== undefined) this.phases.observe({ phase: 'inference' }, e.inferMs / 1000);
  }

  /** delivered: a 2xx; retry: failed, another attempt is scheduled; failed: attempts exhausted; gone: the receiver said 410. */
  delivery(outcome: 'delivered' | 'retry' | 'failed' | 'gone'): void {
    this.deliveries.inc({ outcome });
  }
}

/**
 * Serves `registry` at GET /metrics on its own port, for processes without an HTTP server of their own, and
 * `healthy()` at GET /healthz (200 or 503): what a container healthcheck asks.
 */
export function serveMetrics(registry: Registry, port: number, host: string, healthy: () => boolean = () => true): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    const path = req.url?.split('?')[0];
    if (req.method === 'GET' && path === '/healthz') {
      const ok = healthy();
      res.writeHead(ok ? 200 : 503, { 'content-type': 'application/json' }).end(JSON.stringify({ status: ok ? 'ok' : 'unhealthy' }));
      return;
    }
    if (req.method !== 'GET' || path !== '/metrics') {
      res.writeHead(404).end();
      return;
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
      (err: unknown) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`metrics failed: ${(err as Error).message}`),
    );
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve(server));
  });
}

export { Registry };
