import { Buffer } from 'node:buffer';
import { z } from './zod.ts';
import { ERROR_CATALOG } from './errors.ts';
import { VerifyResultSchema, type VerifyResult } from './result.ts';
import { PolicyNameSchema } from './calibration.ts';

/** Where the VideoSDK-compatible API lives; the server, the spec and the SDK all route from this. */
export const API_BASE = '/ai/v1/face-verification';

const imageField = z
  .string({ error: 'must be a data URI or base64 string' })
  .describe('A JPEG, PNG or WebP photo: a data URI (data:image/jpeg;base64,...) or bare base64. The format is read from the bytes, not the label.');

/** The seed contract's body. Unknown fields are ignored, as VideoSDK's API does. */
export const VerifyRequestSchema = z.object({
  img1: imageField,
  img2: imageField,
  policy: PolicyNameSchema.optional(),
});
export type VerifyRequest = z.infer<typeof VerifyRequestSchema>;

export const METADATA_MAX_BYTES = 4096;
export const METADATA_MAX_DEPTH = 32;

/**
 * Whether a JSON value nests more than `maxDepth` containers deep (the value itself counts as one), or
 * holds more values than `maxBytes` bytes of JSON could. Iterative: a 5,000-deep value from JSON.parse
 * would overflow the stack of anything recursive, JSON.stringify included. The value count also bounds
 * the walk for values shared by reference, which JSON.parse never makes but a programmatic caller can.
 */
function jsonShapeFault(value: unknown, maxDepth: number, maxBytes: number): 'deep' | 'large' | undefined {
  const stack: [unknown, number][] = [[value, 1]];
  let values = 0;
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (++values > maxBytes) return 'large'; // every JSON value takes at least one byte
    if (typeof v !== 'object' || v === null) continue;
    if (depth > maxDepth) return 'deep';
    for (const child of Array.isArray(v) ? v : Object.values(v)) stack.push([child, depth + 1]);
  }
  return undefined;
}

/** Echoed back on the job and in webhooks; small, shallow, and never interpreted. */
const metadataField = z
  .record(z.string(), z.unknown())
  .superRefine((value, ctx) => {
    const fault = jsonShapeFault(value, METADATA_MAX_DEPTH, METADATA_MAX_BYTES);
    // Stringified only once the depth is known to be small, so this cannot overflow the stack either.
    if (fault === 'deep') ctx.addIssue({ code: 'custom', message: `must nest at most ${METADATA_MAX_DEPTH} levels deep` });
    else if (fault === 'large' || Buffer.byteLength(JSON.stringify(value)) > METADATA_MAX_BYTES) {
      ctx.addIssue({ code: 'custom', message: `must be at most ${METADATA_MAX_BYTES} bytes of JSON` });
    }
  })
  .describe(`Up to ${METADATA_MAX_BYTES} bytes of JSON, nested at most ${METADATA_MAX_DEPTH} levels deep, echoed on the job and in its webhook`);

export const SubmitJobRequestSchema = VerifyRequestSchema.extend({
  webhookUrl: z.string().max(2048).optional().describe('HTTPS URL that receives the signed result event when the job ends'),
  metadata: metadataField.optional(),
});
export type SubmitJobRequest = z.infer<typeof SubmitJobRequestSchema>;

export const ErrorBodySchema = z.object({
  error: z.object({
    code: z.enum(Object.keys(ERROR_CATALOG) as [keyof typeof ERROR_CATALOG, ...(keyof typeof ERROR_CATALOG)[]]),
    message: z.string(),
    image: z.enum(['img1', 'img2']).optional(),
  }),
});
export type ErrorBody = z.infer<typeof ErrorBodySchema>;

export const JobStatusSchema = z.enum(['queued', 'active', 'completed', 'failed']);
export type JobStatus = z.infer<typeof JobStatusSchema>;

/**
 * A job id as the queue makes them: 18 random bytes in base64url. Checked before the queue is asked,
 * so an id like `events` or `stalled-check` never reaches Redis, where BullMQ keeps its own keys
 * beside the jobs.
 */
export const JobIdSchema = z.string().regex(/^[A-Za-z0-9_-]{24}$/).describe('The job id returned on submission');
export function isJobId(id: unknown): id is string {
  return JobIdSchema.safeParse(id).success;
}

/** What a submission answers before the job has a result: where it stands, and its id to poll. */
export const JobAcceptedSchema = z.object({ id: z.string(), status: JobStatusSchema });
export type JobAccepted = z.infer<typeof JobAcceptedSchema>;

export const ReadinessSchema = z.object({
  status: z.enum(['ready', 'not_ready']),
  redis: z.boolean(),
  /** Workers connected to the queue now. */
  workers: z.number().int().nonnegative(),
});
export type Readiness = z.infer<typeof ReadinessSchema>;

export const WebhookStateSchema = z.object({
  status: z.enum(['pending', 'delivered', 'failed']),
  attempts: z.number().int().nonnegative(),
  lastStatusCode: z.number().int().optional(),
  lastAttemptAt: z.string().optional(),
});
export type WebhookState = z.infer<typeof WebhookStateSchema>;

/** `deleted`: the client erased the job (DELETE) before its result was delivered; the event carries only the id. */
export const WebhookEventTypeSchema = z.enum(['face_verification.completed', 'face_verification.failed', 'face_verification.deleted']);

/** What a webhook receiver gets: never image bytes. */
export const WebhookEventSchema = z.object({
  type: WebhookEventTypeSchema,
  timestamp: z.string(),
  data: z.object({
    id: z.string(),
    status: z.enum(['completed', 'failed', 'deleted']),
    result: VerifyResultSchema.optional(),
    error: ErrorBodySchema.shape.error.optional(),
    metadata: z.record(z.string(), z.unknown()).optional(),
  }),
});
export type WebhookEvent = z.infer<typeof WebhookEventSchema>;

export const JobViewSchema = z.object({
  id: z.string(),
  status: JobStatusSchema,
  result: VerifyResultSchema.optional(),
  error: ErrorBodySchema.shape.error.optional(),
  metadata: z.record(z.string(), z.unknown()).optional(),
  createdAt: z.string(),
  finishedAt: z.string().optional(),
  webhook: WebhookStateSchema.optional(),
});
export type JobView = z.infer<typeof JobViewSchema>;

/** Typed job names and payloads shared by producer and consumer, so they cannot drift. */
export const JobName = { verify: 'face.verify', deliver: 'webhook.deliver', expireResults: 'housekeeping.expire' } as const;

/** A verification job's end, as the job-ended hook receives it: one call per end, whatever the end. */
export interface VerifyJobEnd {
  jobId: string;
  tenant: string;
  webhookUrl?: string;
  metadata?: Record<string, unknown>;
  outcome: { result: VerifyResult } | { error: ErrorBody['error'] };
}

/** The result-expiry sweep takes no payload. */
export const ExpireResultsJobDataSchema = z.object({}).strict();

export const DeliveryJobDataSchema = z.object({
  /** The verification job this event is about; also the webhook-id, so receivers can deduplicate. */
  jobId: z.string(),
  tenant: z.string(),
  url: z.string(),
  /** The exact bytes signed and sent on every attempt. */
  body: z.string(),
});
export type DeliveryJobData = z.infer<typeof DeliveryJobDataSchema>;

/** What one webhook delivery attempt came to: made by the webhooks package, acted on by the delivery queue. */
export interface DeliveryAttempt {
  /** HTTP status, or undefined when no response came (refused, reset, timed out, blocked). */
  status: number | undefined;
  /** Seconds from a Retry-After header, when the receiver sent one. */
  retryAfterS?: number;
  error?: string;
  /** No retry can succeed (for example, the tenant has no signing secret). */
  permanent?: boolean;
}

export const VerifyJobDataSchema = z.object({
  tenant: z.string(),
  /** Only set with an Idempotency-Key, so DELETE can free the key too. */
  idempotencyKey: z.string().optional(),
  webhookUrl: z.string().optional(),
  metadata: z.record(z.string(), z.unknown()).optional(),
  /** The operating point the request named; the worker's default when absent. */
  policy: PolicyNameSchema.optional(),
});
export type VerifyJobData = z.infer<typeof VerifyJobDataSchema>;

/** How a verification job ended and where its time went: the worker reports it, metrics record it. */
export interface JobEnded {
  outcome: 'completed' | 'failed';
  /** The error code of a failed job. */
  code?: string;
  /** From enqueue to the start of the attempt that ended it. */
  queueWaitMs: number;
  decodeMs?: number;
  inferMs?: number;
}
