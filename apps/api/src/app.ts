import { randomUUID } from 'node:crypto';
import { finished } from 'node:stream';
import express, { type NextFunction, type Request, type Response } from 'express';
import { authenticate, type Tenant } from '@facematch/auth';
import {
  API_BASE,
  FaceMatchError,
  SubmitJobRequestSchema,
  VerifyRequestSchema,
  checkImage,
  isJobId,
  toFaceMatchError,
  type JobView,
  type ModelInfo,
} from '@facematch/contracts';
import { buildOpenApiDocument } from '@facematch/contracts/openapi';
import type { Logger } from '@facematch/logger';
import type { ApiMetrics } from '@facematch/metrics';
import type { VerifyQueueClient } from '@facematch/queue';
import { checkWebhookUrl, type UrlPolicy } from '@facematch/webhooks';
import swaggerUi from 'swagger-ui-express';
import { ADMIN_PATH, adminRouter } from './admin.ts';
import { parseJsonBody, readBody } from './json-body.ts';

/** The queue as the API uses it; tests may hand in a fake. */
export type QueuePort = Pick<VerifyQueueClient, 'submit' | 'get' | 'delete' | 'ping' | 'workerCount' | 'checkRate'>;

export interface AppDeps {
  queue: QueuePort;
  tenants: ReadonlyMap<string, Tenant>;
  log: Logger;
  /** Request and queue metrics served at /metrics; absent in unit tests. */
  metrics?: ApiMetrics;
  /** What GET /model answers: the weights, the pipeline and the calibrated operating points. */
  model: ModelInfo;
  /** Bull Board at /admin/queues for holders of the token; absent when ADMIN_TOKEN is unset. */
  admin?: { token: string; queues: readonly unknown[] };
  config: {
    syncWaitMs: number;
    maxBodyBytes: number;
    maxImageBytes: number;
    maxImagePixels: number;
    webhooks: UrlPolicy & { tenantsWithSecret: ReadonlySet<string> };
  };
}

const RETRY_AFTER_S = 5;
const IMAGE_KEYS: ReadonlySet<string> = new Set(['img1', 'img2']);

interface Locals {
  tenant: Tenant;
  /** Image strings parseJsonBody kept as bytes; the body holds placeholders for them. */
  lifted?: ReadonlyMap<string, Buffer>;
  requestId: string;
  log: Logger;
}

/** Builds the Express app without listening, so tests drive it and main.ts owns the server. */
export function createApp(deps: AppDeps): express.Express {
  const { queue, tenants, config } = deps;
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);

  app.use((req, res, next) => {
    const requestId = (req.get('x-request-id') ?? '').slice(0, 64) || randomUUID();
    res.setHeader('x-request-id', requestId);
    const log = deps.log.child({ requestId });
    Object.assign(res.locals, { requestId, log });
    const t0 = performance.now();
    res.on('finish', () => {
      deps.metrics?.request(req.method, routeLabel(req), res.statusCode, (performance.now() - t0) / 1000);
      log.info({ method: req.method, path: req.path, status: res.statusCode, ms: Math.round(performance.now() - t0), tenant: (res.locals as Partial<Locals>).tenant?.apiKey }, 'request');
    });
    next();
  });

  app.get('/healthz', (_req, res) => {
    // Which process answered: tells API_PROCESSES siblings apart in tests and load-balancer checks.
    res.setHeader('x-served-by', String(process.pid));
    res.json({ status: 'ok' });
  });

  // The contract, generated from the zod schemas this app validates with, and a page to read it.
  const openapi = buildOpenApiDocument({ version: '1.0.0' });
  app.get('/openapi.json', (_req, res) => {
    res.json(openapi);
  });
  app.use('/docs', swaggerUi.serve, swaggerUi.setup(openapi, { customSiteTitle: 'facematch API' }));

  if (deps.metrics) {
    const { registry } = deps.metrics;
    app.get('/metrics', async (_req, res) => {
      res.setHeader('content-type', registry.contentType);
      res.send(await registry.metrics());
    });
  }

  if (deps.admin) app.use(ADMIN_PATH, adminRouter(deps.admin.token, deps.admin.queues));

  app.get('/readyz', async (_req, res) => {
    const redis = await queue.ping();
    const workers = redis ? await queue.workerCount().catch(() => 0) : 0;
    const ready = redis && workers > 0;
    if (!ready) res.setHeader('Retry-After', String(RETRY_AFTER_S));
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'not_ready', redis, workers });
  });

  const api = express.Router();

  // Authenticate before reading a byte of the body: unauthenticated callers cannot make us parse 15 MB.
  api.use((req, res, next) => {
    (res.locals as Locals).tenant = authenticate(req.get('authorization'), tenants);
    next();
  });

  // The body is read as bytes (inflated by readBody, within a ratio: express.raw inflated without one)
  // and parsed by parseJsonBody, which keeps the images out of JSON.parse.
  // Not strict: a JSON string or null parses, then fails validation as INVALID_BODY, which says more.
  const parse = (req: Request, res: Response, body: Buffer) => {
    const charset = /;\s*charset=("?)([^;"]*)\1/i.exec(req.get('content-type') ?? '')?.[2]?.toLowerCase();
    if (charset !== undefined && charset !== 'utf-8' && charset !== 'utf8') {
      throw new FaceMatchError('UNSUPPORTED_MEDIA_TYPE', 'send the body as UTF-8 application/json');
    }
    try {
      const parsed = parseJsonBody(body, IMAGE_KEYS);
      req.body = parsed.value;
      (res.locals as Locals).lifted = parsed.lifted;
    } catch (err) {
      throw new FaceMatchError('INVALID_JSON', 'the body is not valid JSON', { cause: err });
    }
  };
  const json = async (req: Request, res: Response, next: NextFunction) => {
    let body: Buffer;
    try {
      body = await readBody(req, config.maxBodyBytes);
    } catch (err) {
      // Read off the rest of the request before answering, as body-parser did: a client still sending
      // when the socket closes can miss the answer.
      await new Promise((resolve) => {
        finished(req, resolve);
        req.resume();
      });
      throw err;
    }
    parse(req, res, body);
    next();
  };

  // Submissions are rate-limited per tenant before their body is read; then the body must be JSON.
  const requireJson = async (req: Request, res: Response, next: NextFunction) => {
    await queue.checkRate((res.locals as Locals).tenant.apiKey);
    if (!req.is('application/json')) {
      throw new FaceMatchError('UNSUPPORTED_MEDIA_TYPE', 'send the body as application/json');
    }
    next();
  };

  api.post('/verify', requireJson, json, async (req, res) => {
    const body = parseBody(VerifyRequestSchema, req.body);
    const [img1, img2] = checkImages(body, res.locals as Locals, config);
    const { tenant } = res.locals as Locals;
    const { id, wait } = await queue.submit({ tenant: tenant.apiKey, img1, img2, policy: body.policy });
    (res.locals as Locals).log.info({ jobId: id }, 'verify enqueued');
    const outcome = await wait(config.syncWaitMs);
    if (outcome.state === 'completed') {
      res.json(outcome.result);
    } else if (outcome.state === 'failed') {
      // Through the one error handler, so a retryable failure (QUEUE_UNAVAILABLE) gets its Retry-After.
      const { code, message, image } = outcome.error;
      throw new FaceMatchError(code, message, image ? { image } : {});
    } else {
      res.status(202).location(`${API_BASE}/jobs/${id}`).json({ id, status: 'queued' });
    }
  });

  api.post('/jobs', requireJson, json, async (req, res) => {
    const body = parseBody(SubmitJobRequestSchema, req.body);
    const { tenant } = res.locals as Locals;
    // The cheap checks first: the images are decoded only for a request that passes them.
    if (body.webhookUrl !== undefined) {
      await checkWebhookUrl(body.webhookUrl, config.webhooks);
      if (!config.webhooks.tenantsWithSecret.has(tenant.apiKey)) {
        throw new FaceMatchError('WEBHOOK_NOT_CONFIGURED', 'no webhook signing secret is configured for this API key (FACEMATCH_WEBHOOK_SECRETS)');
      }
    }
    const idempotencyKey = req.get('idempotency-key');
    if (idempotencyKey !== undefined && (idempotencyKey.length === 0 || idempotencyKey.length > 255)) {
      throw new FaceMatchError('INVALID_BODY', 'Idempotency-Key must be 1 to 255 characters');
    }
    const [img1, img2] = checkImages(body, res.locals as Locals, config);
    const { id, created } = await queue.submit({
      tenant: tenant.apiKey,
      img1,
      img2,
      webhookUrl: body.webhookUrl,
      metadata: body.metadata,
      idempotencyKey,
      policy: body.policy,
    });
    (res.locals as Locals).log.info({ jobId: id, created }, 'job submitted');
    const view = created ? undefined : await queue.get(tenant.apiKey, id);
    res
      .status(202)
      .location(`${API_BASE}/jobs/${id}`)
      .json(view ?? { id, status: 'queued' });
  });

  api.get('/model', (_req, res) => {
    res.json(deps.model);
  });

  api.get('/jobs/:id', async (req, res) => {
    const view: JobView | undefined = await queue.get((res.locals as Locals).tenant.apiKey, jobIdParam(req));
    if (!view) throw new FaceMatchError('NOT_FOUND', 'job not found');
    res.json(view);
  });

  api.delete('/jobs/:id', async (req, res) => {
    const deleted = await queue.delete((res.locals as Locals).tenant.apiKey, jobIdParam(req));
    if (!deleted) throw new FaceMatchError('NOT_FOUND', 'job not found');
    res.status(204).end();
  });

  app.use(API_BASE, api);

  app.use((_req, _res, next) => next(new FaceMatchError('NOT_FOUND', 'no such route')));

  // One error shape for everything; stack traces stay in our logs.
  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    const e = fromHttpError(err);
    const log = (res.locals as Partial<Locals>).log ?? deps.log;
    if (e.httpStatus >= 500) log.error({ code: e.code, err: e.cause ?? e }, 'request failed');
    if (e.retryable && (e.httpStatus >= 500 || e.httpStatus === 429 || e.retryAfterS !== undefined)) res.setHeader('Retry-After', String(e.retryAfterS ?? RETRY_AFTER_S));
    res.status(e.httpStatus).json({ error: e.toJSON() });
  });

  return app;
}

function parseBody<S extends typeof VerifyRequestSchema | typeof SubmitJobRequestSchema>(schema: S, body: unknown) {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new FaceMatchError('INVALID_BODY', 'the body must be a JSON object with img1 and img2');
  }
  const parsed = schema.safeParse(body);
  if (!parsed.success) {
    const fields = parsed.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ');
    throw new FaceMatchError('INVALID_BODY', fields);
  }
  return parsed.data as ReturnType<S['parse']>;
}

/** The job id in the path. One the queue cannot have made is not found, and never reaches Redis, where `events` or `stalled-check` would name BullMQ's own keys. */
function jobIdParam(req: Request): string {
  const id = String(req.params.id);
  if (!isJobId(id)) throw new FaceMatchError('NOT_FOUND', 'job not found');
  return id;
}

/** Validates both images from their bytes and headers, and returns the bytes: Redis stores those, not base64. */
function checkImages(body: { img1: string; img2: string }, locals: Locals, config: { maxImageBytes: number; maxImagePixels: number }): [Buffer, Buffer] {
  const limits = { maxBytes: config.maxImageBytes, maxPixels: config.maxImagePixels };
  const input = (key: 'img1' | 'img2') => {
    const encoded = locals.lifted?.get(key);
    return encoded ? { encoded } : body[key];
  };
  return [checkImage(input('img1'), 'img1', limits).data, checkImage(input('img2'), 'img2', limits).data];
}

/** The route pattern for metrics labels: job ids in raw paths would make a series per job. */
function routeLabel(req: Request): string {
  if (req.route) {
    // An error thrown in an API route reaches the app's error handler with baseUrl already reset.
    const base = req.baseUrl || (req.originalUrl.startsWith(`${API_BASE}/`) ? API_BASE : '');
    return `${base}${(req.route as { path: string }).path}`;
  }
  const path = req.originalUrl.split('?')[0] ?? '';
  // Refused before a route matched (a 401 in the auth middleware, say): name the route it was meant for.
  if (path === `${API_BASE}/verify` || path === `${API_BASE}/jobs`) return path;
  if (path.startsWith(`${API_BASE}/jobs/`)) return `${API_BASE}/jobs/:id`;
  if (path.startsWith(ADMIN_PATH)) return ADMIN_PATH;
  if (path.startsWith('/docs')) return '/docs';
  return 'unmatched';
}

/** Maps raw-body's errors, and body-parser's in routers that use it, onto our codes. */
function fromHttpError(err: unknown): FaceMatchError {
  const type = (err as { type?: string }).type;
  if (type === 'entity.too.large') return new FaceMatchError('BODY_TOO_LARGE', 'the request body is too large');
  if (type === 'entity.parse.failed') return new FaceMatchError('INVALID_JSON', 'the body is not valid JSON');
  if (type === 'encoding.unsupported' || type === 'charset.unsupported') {
    return new FaceMatchError('UNSUPPORTED_MEDIA_TYPE', 'send the body as UTF-8 application/json');
  }
  if (type === 'request.aborted') return new FaceMatchError('INVALID_BODY', 'the request was aborted');
  // Anything else Express or its parsers reject as the client's fault (a malformed %-escape in the path,
  // say) is the client's 400, never our 500.
  const status = (err as { status?: unknown; statusCode?: unknown }).status ?? (err as { statusCode?: unknown }).statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) return new FaceMatchError('BAD_REQUEST', 'the request is malformed');
  return toFaceMatchError(err);
}
