export { VERIFY_QUEUE, VerifyQueueClient, defaultJobOptions, type QueueSettings, type WaitOutcome } from './verify-queue.ts';
export { VerifyWorker, type VerifyHandler, type WorkerSettings, type JobLog } from './verify-worker.ts';
export { decodeJobError, encodeJobError } from './job-error.ts';
export { keys } from './keys.ts';
export { deleteKeys, dumpKeys, redisAnswers } from './redis.ts';
export { DELIVERY_QUEUE, DeliveryWorker, backoffDelay, buildEvent, deliveryJobId, type AttemptResult, type Deliver, type DeliverySettings } from './webhook-queue.ts';
export { Housekeeping, sweepEveryMs } from './housekeeping.ts';
