export { VerifyQueueClient, type WaitOutcome, type WebhookPort } from './verify-queue.ts';
export { VerifyWorker } from './verify-worker.ts';
export { VERIFY_QUEUE, keys, type JobLog } from './keys.ts';
export { redisAnswers, redisProcessId } from './redis.ts';
export { JOBS } from './define-job.ts';
export { JobQueue, PermanentFailure, RetryLater, runJobs, type Connection } from './jobs.ts';
export { Housekeeping } from './housekeeping.ts';
