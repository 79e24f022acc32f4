import { Queue, UnrecoverableError, Worker, type Job } from 'bullmq';
import { type DeliveryAttempt, type DeliveryJobData, type WebhookEvent, type WebhookState } from '@facematch/contracts';
import { JOBS, addJob, handle, processorFor } from './define-job.ts';
import { DELIVERY_QUEUE, keys, type JobLog } from './keys.ts';
import { connect, type Redis } from './redis.ts';


export interface DeliverySettings {
  redisUrl: string;
  prefix: string;
  maxAttempts: number;
  /** First retry delay; each later one doubles, with ±20% jitter, capped at 6 h. */
  backoffMs: number;
  resultTtlS: number;
}

export type Deliver = (data: DeliveryJobData) => Promise<DeliveryAttempt>;

class RetryableDelivery extends Error {
  constructor(
    message: string,
    readonly retryAfterS?: number,
  ) {
    super(message);
  }
}

const MAX_DELAY_MS = 6 * 3600 * 1000;

export function backoffDelay(attemptsMade: number, baseMs: number, retryAfterS: number | undefined, random = Math.random): number {
  const exp = Math.min(MAX_DELAY_MS, baseMs * 2 ** Math.max(0, attemptsMade - 1));
  const jittered = Math.round(exp * (0.8 + 0.4 * random()));
  // A receiver's Retry-After is honoured when it asks for longer than our own schedule would wait.
  return retryAfterS === undefined ? jittered : Math.max(jittered, Math.min(MAX_DELAY_MS, retryAfterS * 1000));
}

export function deliveryJobId(verifyJobId: string): string {
  return `wh-${verifyJobId}`;
}

/** Enqueues a delivery at most once per verification job (the BullMQ job id is derived from it). */
export async function enqueueDelivery(
  queue: Queue<DeliveryJobData>,
  redis: Redis,
  settings: Pick<DeliverySettings, 'prefix' | 'maxAttempts' | 'resultTtlS'>,
  data: DeliveryJobData,
): Promise<void> {
  const stateKey = keys(settings.prefix, DELIVERY_QUEUE).webhook(data.jobId);
  await redis.hsetnx(stateKey, 'status', 'pending');
  await redis.hsetnx(stateKey, 'attempts', '0');
  await redis.expire(stateKey, settings.resultTtlS);
  await addJob(queue, JOBS.deliver, data, {
    jobId: deliveryJobId(data.jobId),
    attempts: settings.maxAttempts,
    backoff: { type: 'webhook' },
    removeOnComplete: { age: settings.resultTtlS },
    removeOnFail: { age: settings.resultTtlS },
  });
}

export function buildEvent(
  id: string,
  outcome: { result?: WebhookEvent['data']['result']; error?: WebhookEvent['data']['error'] } | 'deleted',
  metadata?: Record<string, unknown>,
): string {
  const status = outcome === 'deleted' ? 'deleted' : outcome.result ? 'completed' : 'failed';
  const event: WebhookEvent = {
    type: `face_verification.${status}`,
    timestamp: new Date().toISOString(),
    data: {
      id,
      status,
      // An erased job's event says only that it ended so: no result, no metadata.
      ...(outcome === 'deleted' ? {} : outcome.result ? { result: outcome.result } : { error: outcome.error }),
      ...(metadata && outcome !== 'deleted' ? { metadata } : {}),
    },
  };
  return JSON.stringify(event);
}

export async function readWebhookState(redis: Redis, prefix: string, jobId: string): Promise<WebhookState | undefined> {
  const h = await redis.hgetall(keys(prefix, DELIVERY_QUEUE).webhook(jobId));
  if (!h.status) return undefined;
  return {
    status: h.status as WebhookState['status'],
    attempts: Number(h.attempts ?? 0),
    ...(h.lastStatusCode ? { lastStatusCode: Number(h.lastStatusCode) } : {}),
    ...(h.lastAttemptAt ? { lastAttemptAt: h.lastAttemptAt } : {}),
  };
}

export class DeliveryWorker {
  private constructor(
    readonly worker: Worker<DeliveryJobData>,
    private readonly redis: Redis,
  ) {}

  static start(
    settings: DeliverySettings & { concurrency: number; lockDurationMs: number },
    deliver: Deliver,
    log: JobLog,
    observe: (outcome: 'delivered' | 'retry' | 'failed' | 'gone') => void = () => {},
  ): DeliveryWorker {
    const redis = connect(settings.redisUrl, 'blocking', 'facematch:webhooks', log);
    const k = keys(settings.prefix, DELIVERY_QUEUE);

    const processor = async (job: Job<DeliveryJobData>) => {
      const { jobId } = job.data;
      const attempt = job.attemptsMade + 1;
      // The event carries the result, which must not outlive RESULT_TTL_S: a delivery still retrying past
      // it is abandoned (the housekeeping sweep removes such jobs too; this covers the gap between sweeps).
      if (Date.now() - job.timestamp > settings.resultTtlS * 1000) {
        log.info({ jobId, attempt }, 'webhook abandoned: its result expired before a delivery succeeded');
        observe('failed');
        throw new UnrecoverableError('the result expired before it could be delivered');
      }
      const res = await deliver(job.data);
      const state = k.webhook(jobId);
      const ok = res.status !== undefined && res.status >= 200 && res.status < 300;
      const last = attempt >= (job.opts.attempts ?? 1);
      const gone = res.status === 410 || res.permanent === true;
      const status = ok ? 'delivered' : gone || last ? 'failed' : 'pending';
      await redis
        .multi()
        .hset(state, 'status', status, 'attempts', String(attempt), 'lastAttemptAt', new Date().toISOString(), ...(res.status ? ['lastStatusCode', String(res.status)] : []))
        .expire(state, settings.resultTtlS)
        .exec();
      observe(ok ? 'delivered' : res.status === 410 ? 'gone' : gone || last ? 'failed' : 'retry');
      const fields = { jobId, attempt, status: res.status, error: res.error };
      if (ok) {
        log.info(fields, 'webhook delivered');
        return;
      }
      if (gone) {
        log.info(fields, 'webhook will not be retried');
        throw new UnrecoverableError(res.error ?? 'receiver answered 410 Gone');
      }
      log.warn({ ...fields, final: last }, last ? 'webhook delivery failed for good' : 'webhook delivery failed; will retry');
      throw new RetryableDelivery(res.error ?? `receiver answered ${res.status}`, res.retryAfterS);
    };

    const deliveryJobs = processorFor(DELIVERY_QUEUE, [handle(JOBS.deliver, (_data, job) => processor(job as Job<DeliveryJobData>))]);
    const worker = new Worker<DeliveryJobData>(DELIVERY_QUEUE, deliveryJobs, {
      connection: redis,
      prefix: settings.prefix,
      concurrency: settings.concurrency,
      lockDuration: settings.lockDurationMs,
      stalledInterval: Math.max(1000, Math.floor(settings.lockDurationMs / 2)),
      settings: {
        backoffStrategy: (attemptsMade: number, _type?: string, err?: Error) =>
          backoffDelay(attemptsMade, settings.backoffMs, err instanceof RetryableDelivery ? err.retryAfterS : undefined),
      },
    });
    worker.on('error', (err) => log.error({ err }, 'delivery worker error'));
    return new DeliveryWorker(worker, redis);
  }

  async close(): Promise<void> {
    await this.worker.close();
    this.redis.disconnect();
  }
}
