import { OpenAPIRegistry, OpenApiGeneratorV31 } from '@asteasolutions/zod-to-openapi';
import { z } from './zod.ts';
import {
  API_BASE,
  ErrorBodySchema,
  JobAcceptedSchema,
  JobIdSchema,
  JobViewSchema,
  ReadinessSchema,
  SubmitJobRequestSchema,
  VerifyRequestSchema,
  WebhookEventSchema,
} from './api.ts';
import { ERROR_CATALOG, type ErrorCode } from './errors.ts';
import { VerifyResultSchema } from './result.ts';
import { ModelInfoSchema } from './calibration.ts';

// The codes each kind of request can answer with; the spec lists them under their HTTP status.
const AUTH: ErrorCode[] = ['TOKEN_MISSING', 'TOKEN_INVALID', 'TOKEN_EXPIRED', 'UNKNOWN_API_KEY'];
// HEADERS_TOO_LARGE is Node's refusal of the request line and headers, answered before any route.
const ALWAYS: ErrorCode[] = ['BAD_REQUEST', 'HEADERS_TOO_LARGE', 'QUEUE_UNAVAILABLE', 'INTERNAL'];
const BODY: ErrorCode[] = [
  'INVALID_JSON',
  'INVALID_BODY',
  'BODY_TOO_LARGE',
  'UNSUPPORTED_MEDIA_TYPE',
  'INVALID_BASE64',
  'INVALID_DATA_URI',
  'UNSUPPORTED_FORMAT',
  'IMAGE_TOO_LARGE',
  'IMAGE_DECODE_FAILED',
  'RATE_LIMITED',
  'QUEUE_FULL',
  'REQUEST_TIMEOUT',
];
// What a verification itself can end in, answered by the sync call and recorded on a failed job.
const OUTCOME: ErrorCode[] = ['NO_FACE', 'IMAGE_DECODE_FAILED', 'IMAGE_TOO_LARGE', 'UNSUPPORTED_FORMAT', 'IMAGES_EXPIRED', 'MODELS_INVALID', 'INTERNAL'];

const REASONS: Record<number, string> = {
  400: 'Bad request',
  401: 'Unauthenticated',
  404: 'Not found',
  408: 'Request timeout (the body did not arrive in time)',
  409: 'Conflict',
  410: 'Gone',
  413: 'Too large',
  415: 'Unsupported media type',
  422: 'Unprocessable',
  429: 'Rate limited',
  431: 'Request headers too large',
  500: 'Internal error',
  503: 'Unavailable; retry after Retry-After seconds',
};

/** Error responses grouped by status, each with the enum of the codes that status carries here. */
function errorResponses(codes: ErrorCode[]) {
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of new Set(codes)) {
    const s = ERROR_CATALOG[code].httpStatus;
    byStatus.set(s, [...(byStatus.get(s) ?? []), code]);
  }
  return Object.fromEntries(
    [...byStatus].map(([status, list]) => [
      status,
      {
        description: `${REASONS[status] ?? 'Error'}: ${list.join(', ')}`,
        headers: status === 429 || status === 503 ? { 'Retry-After': { description: 'Seconds to wait before retrying', schema: { type: 'integer' as const } } } : undefined,
        content: {
          'application/json': {
            schema: z.object({
              error: ErrorBodySchema.shape.error.extend({ code: z.enum(list as [ErrorCode, ...ErrorCode[]]) }),
            }),
          },
        },
      },
    ]),
  );
}

const json = <T extends z.ZodType>(schema: T, description: string) => ({ description, content: { 'application/json': { schema } } });
/** A 202 naming the job to poll in its Location header. */
const accepted = <T extends z.ZodType>(schema: T, description: string) => ({ ...json(schema, description), headers: { Location: { description: 'The job URL', schema: { type: 'string' as const } } } });

/**
 * The OpenAPI 3.1 document, generated from the zod schemas the API validates with and the error
 * catalog it answers from, so the contract cannot drift from the code.
 */
export function buildOpenApiDocument(opts: { version: string; serverUrl?: string }) {
  const registry = new OpenAPIRegistry();
  const auth = registry.registerComponent('securitySchemes', 'token', {
    type: 'apiKey',
    in: 'header',
    name: 'Authorization',
    description: 'An HS256 JWT with an `apikey` claim and `exp`, signed with the API key\'s secret. Sent raw, as VideoSDK clients do, or as `Bearer <JWT>`.',
  });
  const security = [{ [auth.name]: [] }];
  const VerifyResult = registry.register('VerifyResult', VerifyResultSchema);
  const VerifyRequest = registry.register('VerifyRequest', VerifyRequestSchema);
  const SubmitJobRequest = registry.register('SubmitJobRequest', SubmitJobRequestSchema);
  const JobView = registry.register('JobView', JobViewSchema);
  const JobAccepted = registry.register('JobAccepted', JobAcceptedSchema);
  const WebhookEvent = registry.register('WebhookEvent', WebhookEventSchema);
  registry.register('ErrorBody', ErrorBodySchema);
  const ModelInfo = registry.register('ModelInfo', ModelInfoSchema);
  const jobId = z.object({ id: JobIdSchema });

  registry.registerPath({
    method: 'post',
    path: `${API_BASE}/verify`,
    summary: 'Verify two photos synchronously (VideoSDK Face Match compatible)',
    description:
      'Waits up to SYNC_WAIT_MS for the answer. `verified` is the seed contract; the other fields are additions. If the wait runs out, answers 202 with the job to poll. A verification that fails (no face, say) answers with its error code.',
    security,
    request: { body: { required: true, content: { 'application/json': { schema: VerifyRequest } } } },
    responses: {
      200: json(VerifyResult, 'The verdict'),
      202: accepted(JobAccepted, 'Still running: poll the Location'),
      ...errorResponses([...AUTH, ...ALWAYS, ...BODY, ...OUTCOME]),
    },
  });
  registry.registerPath({
    method: 'post',
    path: `${API_BASE}/jobs`,
    summary: 'Submit a verification job; poll it or receive a signed webhook',
    security,
    request: {
      headers: z.object({ 'Idempotency-Key': z.string().min(1).max(255).optional().describe('Same key and body within the result TTL: the same job, not a new one') }),
      body: { required: true, content: { 'application/json': { schema: SubmitJobRequest } } },
    },
    responses: {
      202: accepted(z.union([JobView, JobAccepted]), 'Queued (or, for a repeated Idempotency-Key, the existing job)'),
      ...errorResponses([...AUTH, ...ALWAYS, ...BODY, 'WEBHOOK_URL_INVALID', 'WEBHOOK_NOT_CONFIGURED', 'IDEMPOTENCY_KEY_REUSED']),
    },
  });
  registry.registerPath({
    method: 'get',
    path: `${API_BASE}/jobs/{id}`,
    summary: "A job's status, result or error, and its webhook delivery state",
    security,
    request: { params: jobId },
    responses: { 200: json(JobView, 'The job'), ...errorResponses([...AUTH, ...ALWAYS, 'NOT_FOUND']) },
  });
  registry.registerPath({
    method: 'delete',
    path: `${API_BASE}/jobs/{id}`,
    summary: 'Purge a finished job: its result, images, events and idempotency key',
    security,
    request: { params: jobId },
    responses: { 204: { description: 'Purged' }, ...errorResponses([...AUTH, ...ALWAYS, 'NOT_FOUND', 'JOB_ACTIVE']) },
  });
  registry.registerPath({
    method: 'get',
    path: `${API_BASE}/model`,
    summary: 'The model files and their sha256, the engine version, and the calibrated operating points results are decided by',
    description:
      'Each named policy (`fmr_1e-2`, `fmr_1e-3`, `fmr_1e-4`) gives its distance threshold, its review bound, and the FMR and FNMR measured at it on the named calibration set, with 95% Clopper-Pearson intervals. A request picks one with `"policy"`; without it, `defaultPolicy` decides.',
    security,
    responses: { 200: json(ModelInfo, 'The system under test'), ...errorResponses([...AUTH]) },
  });
  registry.registerPath({
    method: 'get',
    path: '/healthz',
    summary: 'Liveness: the process answers',
    responses: { 200: json(z.object({ status: z.literal('ok') }), 'Alive') },
  });
  registry.registerPath({
    method: 'get',
    path: '/readyz',
    summary: 'Readiness: Redis answers and at least one worker is connected',
    responses: { 200: json(ReadinessSchema, 'Ready'), 503: json(ReadinessSchema, 'Not ready') },
  });
  registry.registerPath({
    method: 'get',
    path: '/metrics',
    summary: 'Prometheus metrics of this API process and the queue',
    responses: { 200: { description: 'Prometheus text format', content: { 'text/plain': { schema: z.string() } } } },
  });
  registry.registerPath({
    method: 'get',
    path: '/docs/',
    summary: 'This document, rendered (Swagger UI, served from the API itself)',
    responses: { 200: { description: 'HTML', content: { 'text/html': { schema: z.string() } } } },
  });
  const admin = registry.registerComponent('securitySchemes', 'adminToken', {
    type: 'http',
    scheme: 'basic',
    description: 'ADMIN_TOKEN as the Basic-auth password (any user name), or sent as `Bearer <ADMIN_TOKEN>`.',
  });
  registry.registerPath({
    method: 'get',
    path: '/admin/queues',
    summary: 'Bull Board over both queues, read-only; exists only when ADMIN_TOKEN is set',
    security: [{ [admin.name]: [] }],
    responses: {
      200: { description: 'The dashboard (HTML); its own JSON API lives under /admin/queues/api', content: { 'text/html': { schema: z.string() } } },
      ...errorResponses(['TOKEN_MISSING', 'TOKEN_INVALID', 'NOT_FOUND']),
    },
  });
  registry.registerPath({
    method: 'get',
    path: '/openapi.json',
    summary: 'This document',
    responses: { 200: { description: 'OpenAPI 3.1', content: { 'application/json': { schema: z.object({}).passthrough() } } } },
  });
  for (const type of WebhookEventSchema.shape.type.options) {
    registry.registerWebhook({
      method: 'post',
      path: type,
      summary: `Sent to the job's webhookUrl when it ends (${type})`,
      description:
        'Standard Webhooks: the signature is `v1,` + base64 HMAC-SHA256 of `{webhook-id}.{webhook-timestamp}.{body}` with the secret (whsec_ prefix stripped, base64-decoded). Delivered at least once; deduplicate on webhook-id. Never carries image bytes.',
      request: {
        headers: z.object({
          'webhook-id': z.string().describe('The job id; the same on every retry'),
          'webhook-timestamp': z.string().describe('Unix seconds; reject if far from now'),
          'webhook-signature': z.string().describe('Space-separated `v1,<base64>` signatures'),
        }),
        body: { content: { 'application/json': { schema: WebhookEvent } } },
      },
      responses: { 200: { description: 'Any 2xx acknowledges; 410 stops retries; anything else is retried with backoff' } },
    });
  }

  return new OpenApiGeneratorV31(registry.definitions).generateDocument({
    openapi: '3.1.0',
    info: {
      title: 'facematch',
      version: opts.version,
      description: 'Self-hostable face verification, compatible with VideoSDK\'s Face Match API. Every error body is `{"error": {"code", "message", "image"?}}` with a stable code.',
    },
    servers: opts.serverUrl ? [{ url: opts.serverUrl }] : undefined,
  });
}
