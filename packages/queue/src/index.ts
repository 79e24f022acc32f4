export { VerifyQueueClient, type WaitOutcome } from './verify-queue.ts';
export { VerifyWorker } from './verify-worker.ts';
export { VERIFY_QUEUE, keys } from './keys.ts';
export { redisAnswers } from './redis.ts';
export { DeliveryWorker } from './webhook-queue.ts';
export { Housekeeping } from './housekeeping.ts';
