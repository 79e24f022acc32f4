import cluster from 'node:cluster';
import { createServer } from 'node:http';
import { apiEnvSchema, loadConfigOrExit } from '@facematch/config';
import { createLogger } from '@facematch/logger';
import { Supervisor } from '@facematch/supervisor';
import { ApiMetrics } from '@facematch/metrics';
import { VerifyQueueClient } from '@facematch/queue';
import { Webhooks } from '@facematch/webhooks';
import { loadCalibration, modelBinding, modelInfo } from '@facematch/models/calibration';
import { loadRecogniser } from '@facematch/models/recogniser';
import { calibrationPath } from '@facematch/models';
import type { ModelInfo } from '@facematch/contracts';
import { createApp } from './app.ts';
import { handleClientError } from './http-errors.ts';

const env = loadConfigOrExit(apiEnvSchema, 'api');

const log = createLogger({ name: 'api', level: env.LOG_LEVEL });
// Read once at start: a calibration for other weights stops the API as it stops the workers.
let model: ModelInfo;
try {
  // An operator's recogniser: the calibration must be the one made for it (the API loads no runtime).
  const plugged = env.FACEMATCH_RECOGNISER ? loadRecogniser(env.FACEMATCH_RECOGNISER) : undefined;
  const calPath = env.FACEMATCH_CALIBRATION ?? (plugged ? plugged.calibrationPath : calibrationPath);
  if (!calPath) throw new Error(`recogniser ${plugged!.descriptor.name} names no calibration; set FACEMATCH_CALIBRATION`);
  model = modelInfo(loadCalibration(calPath, modelBinding(plugged?.descriptor)), {
    ...(plugged ? { recogniser: { descriptor: plugged.descriptor, bytes: plugged.bytes.length } } : {}),
    detector: env.FACE_DETECTOR,
    defaultPolicy: env.FACEMATCH_POLICY,
    thresholdOverride: env.FACEMATCH_THRESHOLD,
  });
} catch (err) {
  log.fatal({ err }, 'calibration refused');
  process.exit(1);
}
const tenants = new Map(env.FACEMATCH_TENANTS.map((t) => [t.apiKey, t]));
if (env.WEBHOOK_ALLOW_PRIVATE) log.warn('WEBHOOK_ALLOW_PRIVATE=true: webhookUrl may point at loopback and private networks (development only)');
if (tenants.size === 0) log.warn('no tenants configured (FACEMATCH_TENANTS): every request will be refused');

function serve(): void {
  // The API's part of webhooks: the delivery state in GET /jobs/{id}, and erasure on DELETE.
  const webhooks = Webhooks.open({ redisUrl: env.REDIS_URL, prefix: env.QUEUE_PREFIX, maxAttempts: env.WEBHOOK_MAX_ATTEMPTS, resultTtlS: env.RESULT_TTL_S }, 'failFast', log);
  const queue = VerifyQueueClient.create({
    redisUrl: env.REDIS_URL,
    prefix: env.QUEUE_PREFIX,
    resultTtlS: env.RESULT_TTL_S,
    imageTtlS: env.IMAGE_TTL_S,
    attempts: env.JOB_ATTEMPTS,
    maxQueueDepth: env.MAX_QUEUE_DEPTH,
    rateLimitPerMin: env.RATE_LIMIT_PER_MIN,
  }, log, webhooks);
  const app = createApp({
    queue,
    tenants,
    log,
    model,
    metrics: new ApiMetrics(() => queue.counts()),
    admin: env.ADMIN_TOKEN ? { token: env.ADMIN_TOKEN, queues: queue.dashboardQueues() } : undefined,
    config: {
      syncWaitMs: env.SYNC_WAIT_MS,
      maxBodyBytes: env.MAX_BODY_BYTES,
      maxImageBytes: env.MAX_IMAGE_BYTES,
      maxImagePixels: env.MAX_IMAGE_PIXELS,
      webhooks: {
        allowPrivate: env.WEBHOOK_ALLOW_PRIVATE,
        requireHttps: env.NODE_ENV === 'production',
        allowedPorts: env.WEBHOOK_PORTS,
        tenantsWithSecret: new Set(env.FACEMATCH_WEBHOOK_SECRETS.keys()),
      },
    },
  });

  // Slow clients cannot hold sockets open: headers within HEADERS_TIMEOUT_MS, the whole request within
  // REQUEST_TIMEOUT_MS, checked every second (Node's default check runs every 30 s).
  const server = createServer(
    { headersTimeout: env.HEADERS_TIMEOUT_MS, requestTimeout: env.REQUEST_TIMEOUT_MS, connectionsCheckingInterval: 1000 },
    app,
  );
  // What Node refuses before the app sees a request (431, 408, 400) answers in the API's error shape too.
  server.on('clientError', handleClientError);
  server.keepAliveTimeout = 5_000;

  server.listen(env.PORT, env.HOST, () => {
    const addr = server.address();
    const port = typeof addr === 'object' && addr ? addr.port : env.PORT;
    log.info({ port, tenants: tenants.size, adminDashboard: env.ADMIN_TOKEN !== undefined, syncWaitMs: env.SYNC_WAIT_MS, queuePrefix: env.QUEUE_PREFIX }, `api listening on http://127.0.0.1:${port}`);
    process.send?.({ type: 'listening', port });
  });

  let stopping = false;
  async function shutdown(signal: string): Promise<void> {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'api stopping: no new requests, finishing in-flight ones');
    const deadline = setTimeout(() => server.closeAllConnections(), env.SYNC_WAIT_MS + 1000);
    deadline.unref();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
    await queue.close();
    await webhooks.close();
    log.info('api stopped');
    process.exit(0);
  }
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}

/**
 * API_PROCESSES > 1: a cluster primary that only supervises; the processes share the port. The profile of
 * the ingress is JSON parsing and image checks, all on one core, so more processes take more requests.
 */
function supervise(): void {
  // Ready once every process listens: announcing on the first left the others still loading while
  // traffic arrived, so all of it went to one process.
  let listening = 0;
  cluster.on('message', (_worker, m: { type?: string }) => {
    if (m?.type === 'listening' && ++listening === env.API_PROCESSES) process.send?.(m);
  });
  // Each process drains its requests for up to SYNC_WAIT_MS (+1 s) before it closes its connections.
  const sup = new Supervisor({ name: 'api process', spawn: () => cluster.fork().process, count: env.API_PROCESSES, policy: { stopDeadlineMs: env.SYNC_WAIT_MS + 5000 } }, log);
  sup.start();
  void sup.gaveUp.then(() => process.exit(1));
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    void sup.stop('SIGTERM').then(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

if (cluster.isPrimary && env.API_PROCESSES > 1) supervise();
else serve();
