// One worker process: loads the engine once, then takes verification jobs until SIGTERM.
import type { Server } from 'node:http';
import { loadConfigOrExit, workerEnvSchema } from '@facematch/config';
import { FaceEngine, engineOptionsFromEnv } from '@facematch/engine';
import { createLogger } from '@facematch/logger';
import { WorkerMetrics, serveMetrics } from '@facematch/metrics';
import { Housekeeping, VerifyWorker } from '@facematch/queue';
import { Webhooks, startDeliveries } from '@facematch/webhooks';

const env = loadConfigOrExit(workerEnvSchema, 'worker');
const log = createLogger({ name: 'worker', level: env.LOG_LEVEL });

process.on('unhandledRejection', (err) => {
  log.fatal({ err }, 'unhandled rejection');
  process.exit(1);
});
// Node's default handler prints the throwing source line to stderr; this logs one structured line instead.
// A failed top-level await (the engine not loading) arrives here too, with origin 'unhandledRejection'.
process.on('uncaughtException', (err, origin) => {
  log.fatal({ err, origin }, 'uncaught exception');
  process.exit(1);
});

const engine = await FaceEngine.create(engineOptionsFromEnv(env, (msg, fields) => log.info(fields ?? {}, msg)));
const metrics = new WorkerMetrics({ backend: engine.backend, detector: engine.detector });

/**
 * Each worker process serves its own metrics: N processes on a host answer on METRICS_PORT..+N-1. A port
 * that cannot be had is a warning, not a crash: dying would only get the worker restarted (models
 * reloaded) into the same taken port, forever, and no jobs done. The worker runs on without /metrics.
 */
async function startMetrics(port: number): Promise<Server | undefined> {
  try {
    return await serveMetrics(metrics.registry, port, env.METRICS_HOST, () => worker.healthy());
  } catch (err) {
    log.warn(
      { err, port, host: env.METRICS_HOST, workerSlot: env.WORKER_SLOT },
      `metrics off: cannot listen on ${env.METRICS_HOST}:${port} (METRICS_PORT+WORKER_SLOT on METRICS_HOST); this worker runs without /metrics`,
    );
    return undefined;
  }
}

const connection = { redisUrl: env.REDIS_URL, prefix: env.QUEUE_PREFIX };
// The job-ended hook: every end of a job that asked for a webhook becomes one event for its receiver.
const webhooks = Webhooks.open({ ...connection, maxAttempts: env.WEBHOOK_MAX_ATTEMPTS, resultTtlS: env.RESULT_TTL_S }, 'blocking', log);
const worker = VerifyWorker.start(
  {
    redisUrl: env.REDIS_URL,
    prefix: env.QUEUE_PREFIX,
    // With micro-batching the worker takes a batch's worth of jobs at once, so there is something to batch.
    concurrency: Math.max(env.WORKER_CONCURRENCY, engine.batchSize),
    lockDurationMs: env.WORKER_LOCK_MS,
    outcomeTtlS: env.RESULT_TTL_S,
    redisOutageMs: env.REDIS_OUTAGE_MS,
  },
  async (images, job) => {
    const jobLog = log.child({ jobId: job.id, attempt: job.attempt });
    jobLog.info('job started');
    try {
      return await engine.verify(images.img1, images.img2, job.policy);
    } finally {
      // After failures too: a leak on an error path is still a leak.
      jobLog.debug({ rssMb: Math.round(process.memoryUsage().rss / 1048576), numTensors: engine.numTensors() }, 'job resources');
    }
  },
  log,
  { ended: (end) => webhooks.announce(end), observe: (e) => metrics.job(e) },
);
const deliveries = startDeliveries(
  {
    ...connection,
    concurrency: env.WEBHOOK_CONCURRENCY,
    lockDurationMs: Math.max(env.WORKER_LOCK_MS, env.WEBHOOK_TIMEOUT_MS * 2),
    backoffMs: env.WEBHOOK_BACKOFF_MS,
    resultTtlS: env.RESULT_TTL_S,
    timeoutMs: env.WEBHOOK_TIMEOUT_MS,
    allowPrivate: env.WEBHOOK_ALLOW_PRIVATE,
    allowedPorts: env.WEBHOOK_PORTS,
    secrets: env.FACEMATCH_WEBHOOK_SECRETS,
  },
  log,
  (outcome) => metrics.delivery(outcome),
);
// After the worker exists: /healthz reports it.
const metricsServer = env.METRICS_PORT === undefined ? undefined : await startMetrics(env.METRICS_PORT + env.WORKER_SLOT);
// Expires results, webhook events and event-stream copies at RESULT_TTL_S, whatever the traffic.
const housekeeping = Housekeeping.start({ redisUrl: env.REDIS_URL, prefix: env.QUEUE_PREFIX, resultTtlS: env.RESULT_TTL_S }, log);
if (env.WEBHOOK_ALLOW_PRIVATE) log.warn('WEBHOOK_ALLOW_PRIVATE=true: webhooks may reach loopback and private networks (development only)');
else log.info('webhooks to loopback, private, link-local and metadata addresses are refused');
const metricsAddr = metricsServer?.address();
log.info({ backend: engine.backend, metricsPort: typeof metricsAddr === 'object' ? metricsAddr?.port : undefined, concurrency: Math.max(env.WORKER_CONCURRENCY, engine.batchSize), lockMs: env.WORKER_LOCK_MS, queuePrefix: env.QUEUE_PREFIX }, 'worker ready');
process.send?.({ type: 'ready', backend: engine.backend, metricsPort: typeof metricsAddr === 'object' ? metricsAddr?.port : undefined });

let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  log.info({ signal, deadlineMs: env.SHUTDOWN_TIMEOUT_MS }, 'worker stopping: no new jobs, finishing the current one');
  const [outcome] = await Promise.all([worker.close(env.SHUTDOWN_TIMEOUT_MS), deliveries.close(), housekeeping.close()]);
  await webhooks.close();
  metricsServer?.close();
  log.info({ outcome }, 'worker stopped');
  process.exit(0);
}
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));
