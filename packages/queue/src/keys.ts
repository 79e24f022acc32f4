/** The BullMQ queues. Verification and delivery are separate, so a slow receiver never holds up verification work. */
export const VERIFY_QUEUE = 'face-verification';
export const DELIVERY_QUEUE = 'webhook-delivery';
export const HOUSEKEEPING_QUEUE = 'housekeeping';

/** Where the queue package's workers log: pino's shape. */
export interface JobLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/** Every key this service writes, in one place, so tests can scan for leftovers and ops can find them. */
export function keys(prefix: string, queue: string) {
  const base = `${prefix}:${queue}`;
  return {
    /** The two images of a job, one key each: written by the API, deleted by the worker when the job ends. */
    images: (jobId: string) => [`${base}:fm:images:${jobId}:img1`, `${base}:fm:images:${jobId}:img2`] as const,
    /** A job's final outcome, written together with the deletion of its images, so a re-run after a crash returns it. */
    outcome: (jobId: string) => `${base}:fm:outcome:${jobId}`,
    idempotency: (tenant: string, keyHash: string) => `${base}:fm:idem:${tenant}:${keyHash}`,
    /** Per-tenant request counter for one minute's window. */
    rate: (tenant: string, window: number) => `${base}:fm:rate:${tenant}:${window}`,
    /**
     * A record a feature keeps beside its jobs: on the delivery queue, each verification job's webhook state
     * (status, attempts, last code and time). The `webhook` segment keeps the key earlier versions wrote.
     */
    record: (id: string) => `${base}:fm:webhook:${id}`,
  };
}
