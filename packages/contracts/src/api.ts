import { z } from './zod.ts';
import { ERROR_CATALOG } from './errors.ts';
import { VerifyResultSchema } from './result.ts';

/** Where the VideoSDK-compatible API lives; the server, the spec and the SDK all route from this. */
export const API_BASE = '/ai/v1/face-verification';

const imageField = z
  .string({ error: 'must be a data URI or base64 string' })
  .describe('A JPEG, PNG or WebP photo: a data URI (data:image/jpeg;base64,...) or bare base64. The format is read from the bytes, not the label.');

/** The seed contract's body. Unknown fields are ignored, as VideoSDK's API does. */
export const VerifyRequestSchema = z.object({
  img1: imageField,
  img2: imageField,
});
export type VerifyRequest = z.infer<typeof VerifyRequestSchema>;

export const SubmitJobRequestSchema = VerifyRequestSchema.extend({
  webhookUrl: z.string().max(2048).optional().describe('HTTPS URL that receives the signed result event when the job ends'),
  /** Echoed back on the job and in webhooks; small, and never interpreted. */
  metadata: z.record(z.string(), z.unknown()).optional().describe('Up to 4 KB of JSON, echoed on the job and in its webhook'),
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

export const WebhookEventTypeSchema = z.enum(['face_verification.completed', 'face_verification.failed']);

/** What a webhook receiver gets: never image bytes. */
export const WebhookEventSchema = z.object({
  type: WebhookEventTypeSchema,
  timestamp: z.string(),
  data: z.object({
    id: z.string(),
    status: z.enum(['completed', 'failed']),
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
export const JobName = { verify: 'face.verify', deliver: 'webhook.deliver' } as const;

export const DeliveryJobDataSchema = z.object({
  /** The verification job this event is about; also the webhook-id, so receivers can deduplicate. */
  jobId: z.string(),
  tenant: z.string(),
  url: z.string(),
  /** The exact bytes signed and sent on every attempt. */
  body: z.string(),
});
export type DeliveryJobData = z.infer<typeof DeliveryJobDataSchema>;

export const VerifyJobDataSchema = z.object({
  tenant: z.string(),
  /** Only set with an Idempotency-Key, so DELETE can free the key too. */
  idempotencyKey: z.string().optional(),
  webhookUrl: z.string().optional(),
  metadata: z.record(z.string(), z.unknown()).optional(),
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
