import { createHash, randomBytes } from 'node:crypto';
import { Job, Queue, QueueEvents } from 'bullmq';
import {
  FaceMatchError,
  type WebhookState,
  type ErrorBody,
  type JobStatus,
  type JobView,
  type PolicyName,
  type VerifyJobData,
  type VerifyResult,
} from '@facematch/contracts';
import { JOBS, addJob } from './define-job.ts';
import { DELIVERY_QUEUE, VERIFY_QUEUE, keys } from './keys.ts';
import { connect, isTransientRedisError, type ConnectionLog, type Redis } from './redis.ts';
import { decodeJobError, parseJobError } from './job-error.ts';
import { jobActive, purgeEvents, removeUnlessLocked } from './jobs.ts';

/** Queue events carry results; keep the stream short (BullMQ's default is 10,000). */
const EVENTS_MAX_LEN = 2000;

export interface QueueSettings {
  redisUrl: string;
  /** BullMQ key prefix; tests use a unique one each. */
  prefix: string;
  /** How long results (and failures) stay pollable. */
  resultTtlS: number;
  /** How long images may wait in Redis for a worker before they expire. */
  imageTtlS: number;
  attempts: number;
  /** Waiting jobs beyond which submits are refused (QUEUE_FULL), so Redis cannot grow without bound. */
  maxQueueDepth: number;
  /** Submits per tenant per minute (RATE_LIMITED beyond it); 0 turns the limit off. */
  rateLimitPerMin: number;
}

/**
 * What the webhooks feature tells the API about a job's webhook (packages/webhooks implements it): the
 * delivery state for `GET /jobs/{id}`, and its part in a DELETE.
 */
export interface WebhookPort {
  state(jobId: string): Promise<WebhookState | undefined>;
  /** Removes the job's delivery and its state; 409 JOB_ACTIVE while an attempt is in flight. */
  erase(jobId: string): Promise<WebhookState | undefined>;
  /** After the job is gone: the end of a job whose event was not delivered yet. */
  erased(job: { jobId: string; tenant: string; url: string }, before: WebhookState | undefined): Promise<void>;
}

export const defaultJobOptions = (s: Pick<QueueSettings, 'resultTtlS' | 'attempts'>) => ({
  attempts: s.attempts,
  backoff: { type: 'exponential', delay: 1000 },
  // Results are kept for a TTL, never removed the moment a job completes: that races
  // waitUntilFinished ("Missing key") and would delete what clients poll for.
  removeOnComplete: { age: s.resultTtlS },
  removeOnFail: { age: s.resultTtlS },
});

export type WaitOutcome =
  | { state: 'completed'; result: VerifyResult }
  | { state: 'failed'; error: ErrorBody['error'] }
  | { state: 'pending' };

/** The API's side of the queue: submit, wait, read and purge jobs. Holds no images after submit. */
export class VerifyQueueClient {
  private constructor(
    private readonly settings: QueueSettings,
    private readonly redis: Redis,
    private readonly queue: Queue<VerifyJobData, VerifyResult, string>,
    private readonly events: QueueEvents,
    private readonly eventsRedis: Redis,
    private readonly webhooks: WebhookPort | undefined,
  ) {}

  static create(settings: QueueSettings, log?: ConnectionLog, webhooks?: WebhookPort): VerifyQueueClient {
    const redis = connect(settings.redisUrl, 'failFast', 'facematch:api', log);
    const queue = new Queue<VerifyJobData, VerifyResult, string>(VERIFY_QUEUE, {
      connection: redis,
      prefix: settings.prefix,
      defaultJobOptions: defaultJobOptions(settings),
      streams: { events: { maxLen: EVENTS_MAX_LEN } },
    });
    queue.on('error', () => {}); // the connection logs its outages (connect); calls that need Redis fail with 503
    const eventsRedis = connect(settings.redisUrl, 'blocking', 'facematch:api-events', log);
    const events = new QueueEvents(VERIFY_QUEUE, { connection: eventsRedis, prefix: settings.prefix, autorun: true });
    events.on('error', () => {});
    return new VerifyQueueClient(settings, redis, queue, events, eventsRedis, webhooks);
  }

  private get k() {
    return keys(this.settings.prefix, VERIFY_QUEUE);
  }

  /** Redis calls fail fast here; a client gets QUEUE_UNAVAILABLE (503, retryable), never a 500. */
  private async guard<T>(fn: () => Promise<T>): Promise<T> {
    try {
      await readyWithin(this.redis, READY_WAIT_MS);
      return await fn();
    } catch (err) {
      if (err instanceof FaceMatchError) throw err;
      throw new FaceMatchError('QUEUE_UNAVAILABLE', 'the job queue is unavailable; retry shortly', { cause: err });
    }
  }

  async submit(req: {
    tenant: string;
    /** Image bytes, already validated by the caller; 25% smaller than base64 and no re-encoding. */
    img1: Buffer;
    img2: Buffer;
    webhookUrl?: string;
    metadata?: Record<string, unknown>;
    idempotencyKey?: string;
    policy?: PolicyName;
  }): Promise<{ id: string; created: boolean; wait: (timeoutMs: number) => Promise<WaitOutcome> }> {
    return this.guard(async () => {
      await this.checkDepth();
      const id = randomBytes(18).toString('base64url');
      let idemKey: string | undefined;
      if (req.idempotencyKey !== undefined) {
        const fingerprint = createHash('sha256')
          .update(req.img1)
          .update('\0')
          .update(req.img2)
          // The policy only when named, so a key from before it existed still matches its retry.
          .update(JSON.stringify([req.webhookUrl ?? null, req.metadata ?? null, ...(req.policy ? [req.policy] : [])]))
          .digest('hex');
        idemKey = this.k.idempotency(req.tenant, sha256(req.idempotencyKey));
        const won = await this.redis.set(idemKey, `${id} ${fingerprint}`, 'EX', this.settings.resultTtlS, 'NX');
        if (won !== 'OK') {
          const [existing, existingPrint] = ((await this.redis.get(idemKey)) ?? '').split(' ');
          if (existing && existingPrint === fingerprint) return { id: existing, created: false, wait: (ms: number) => this.waitById(existing, ms) };
          throw new FaceMatchError('IDEMPOTENCY_KEY_REUSED', 'this Idempotency-Key was used for a different request');
        }
      }
      let job: Job<VerifyJobData, VerifyResult, string>;
      try {
        // Images live beside the job, not in it: job data stays small and free of biometrics, and the
        // worker deletes the images the moment the job ends. The TTL is the backstop.
        // Each image is one SET with its TTL: atomic without MULTI, whose pipeline copies every argument
        // into one more buffer (at 340 KB a job, a fifth of the submit's CPU). Both go out back to back.
        const [k1, k2] = this.k.images(id);
        await Promise.all([this.redis.set(k1, req.img1, 'EX', this.settings.imageTtlS), this.redis.set(k2, req.img2, 'EX', this.settings.imageTtlS)]);
        const data: VerifyJobData = { tenant: req.tenant, idempotencyKey: idemKey, webhookUrl: req.webhookUrl, metadata: req.metadata, policy: req.policy };
        job = (await addJob(this.queue, JOBS.verify, data, { jobId: id })) as Job<VerifyJobData, VerifyResult, string>;
      } catch (err) {
        // Nothing half-made survives a failed submit: no 202 for a job that was not stored.
        await this.redis.del(...this.k.images(id), ...(idemKey ? [idemKey] : [])).catch(() => {});
        throw err;
      }
      // The sync path waits on the job it just added: no second read of what this process wrote.
      return { id, created: true, wait: (ms: number) => this.waitOn(job, ms) };
    });
  }

  /**
   * Per-tenant fixed-window rate limit, counted before the body is even parsed, so a tenant flooding us
   * with junk is limited too. Other tenants have counters of their own.
   */
  async checkRate(tenant: string): Promise<void> {
    if (this.settings.rateLimitPerMin <= 0) return;
    await this.guard(async () => {
      const now = Date.now();
      const window = Math.floor(now / 60_000);
      const key = this.k.rate(tenant, window);
      const [[, count]] = (await this.redis.multi().incr(key).expire(key, 120).exec()) as [[null, number], unknown];
      if (count > this.settings.rateLimitPerMin) {
        throw new FaceMatchError('RATE_LIMITED', `more than ${this.settings.rateLimitPerMin} submissions this minute`, {
          retryAfterS: Math.max(1, Math.ceil(((window + 1) * 60_000 - now) / 1000)),
        });
      }
    });
  }

  /** The last waiting count read, and how many jobs this process has added since. */
  private depthSeen = { waiting: 0, at: 0, addedSince: 0 };

  /**
   * The global bound: past it, callers are told when to come back instead of Redis growing. Counting
   * runs a BullMQ script, a twentieth of the ingress's CPU at full load; while the queue is far below
   * the bound, a count under 250 ms old plus what this process added since is as good.
   */
  private async checkDepth(): Promise<void> {
    const seen = this.depthSeen;
    if (Date.now() - seen.at < 250 && seen.waiting + seen.addedSince < this.settings.maxQueueDepth / 2) {
      seen.addedSince++;
      return;
    }
    const waiting = await this.queue.getWaitingCount();
    this.depthSeen = { waiting, at: Date.now(), addedSince: 1 };
    if (waiting >= this.settings.maxQueueDepth) {
      throw new FaceMatchError('QUEUE_FULL', `${waiting} jobs are waiting; retry shortly`, { retryAfterS: 10 });
    }
  }

  private async waitById(id: string, timeoutMs: number): Promise<WaitOutcome> {
    const job = await this.guard(() => Job.fromId<VerifyJobData, VerifyResult, string>(this.queue, id));
    if (!job) throw new FaceMatchError('NOT_FOUND', 'job not found');
    return this.waitOn(job, timeoutMs);
  }

  /**
   * Waits up to `timeoutMs` for the job to end. BullMQ's rejection carries what happened: the failure's
   * reason (ours, encoded, or BullMQ's own, such as the stall limit), its timeout, or a Redis error.
   */
  private async waitOn(job: Job<VerifyJobData, VerifyResult, string>, timeoutMs: number): Promise<WaitOutcome> {
    try {
      return { state: 'completed', result: await job.waitUntilFinished(this.events, timeoutMs) };
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      const ours = parseJobError(message);
      if (ours) return { state: 'failed', error: ours };
      if (/timed out before finishing/.test(message)) return { state: 'pending' };
      if (isTransientRedisError(err)) throw new FaceMatchError('QUEUE_UNAVAILABLE', 'the job queue is unavailable; retry shortly', { cause: err });
      return { state: 'failed', error: decodeJobError(message) };
    }
  }

  /** Another tenant's job is indistinguishable from a missing one. */
  async get(tenant: string, id: string): Promise<JobView | undefined> {
    return this.guard(async () => {
      // State first, then the hash: the job finishing between the two reads then shows its result. Read
      // the other way round, a job could be reported completed from a hash read before it had one.
      const state = await this.queue.getJobState(id);
      const job = await Job.fromId<VerifyJobData, VerifyResult, string>(this.queue, id);
      if (!job || job.data.tenant !== tenant) return undefined;
      // RESULT_TTL_S is a promise to the client: an older result is gone, even if Redis has not yet dropped it.
      if (job.finishedOn && Date.now() - job.finishedOn > this.settings.resultTtlS * 1000) return undefined;
      const status = toStatus(state);
      const view: JobView = { id, status, createdAt: new Date(job.timestamp).toISOString() };
      if (job.data.metadata) view.metadata = job.data.metadata;
      if (status === 'completed' && job.returnvalue) view.result = job.returnvalue;
      if (status === 'failed') view.error = decodeJobError(job.failedReason);
      if (job.finishedOn) view.finishedAt = new Date(job.finishedOn).toISOString();
      if (job.data.webhookUrl) view.webhook = (await this.webhooks?.state(id)) ?? { status: 'pending', attempts: 0 };
      return view;
    });
  }

  /**
   * Purges the job and every copy of its outcome: the job hash, its images, the crash-recovery outcome,
   * the idempotency key, the webhook delivery (its job carries the whole event) with its state, and the
   * entries of both queues' event streams. This is what an erasure request relies on. A job or a delivery
   * that a worker holds right now cannot be removed mid-flight (BullMQ refuses, as it holds the lock), so
   * the caller gets 409 JOB_ACTIVE and retries. A job with a webhookUrl whose end had not been delivered
   * (still queued, or its delivery still retrying) ends here: its receiver gets one `face_verification.deleted`
   * event carrying only the id, in place of anything else. After a 204 nothing else reaches the receiver.
   */
  async delete(tenant: string, id: string): Promise<boolean> {
    return this.guard(async () => {
      const job = await Job.fromId<VerifyJobData, VerifyResult, string>(this.queue, id);
      if (!job || job.data.tenant !== tenant) return false;
      if ((await job.getState()) === 'active') throw jobActive('the job is being processed; delete it once it has finished');
      const url = job.data.webhookUrl;
      const before = url && this.webhooks ? await this.webhooks.erase(id) : undefined;
      await removeUnlessLocked(job, 'the job is being processed; delete it once it has finished');
      await purgeEvents(this.redis, `${this.settings.prefix}:${VERIFY_QUEUE}:events`, id);
      await this.redis.del(...this.k.images(id), this.k.outcome(id), ...(job.data.idempotencyKey ? [job.data.idempotencyKey] : []));
      if (url && this.webhooks) await this.webhooks.erased({ jobId: id, tenant: job.data.tenant, url }, before);
      return true;
    });
  }

  async ping(): Promise<boolean> {
    try {
      return (await this.redis.ping()) === 'PONG';
    } catch {
      return false;
    }
  }

  async workerCount(): Promise<number> {
    return this.guard(() => this.queue.getWorkersCount());
  }

  private deliveryQueue: Queue | undefined;
  private deliveries(): Queue {
    this.deliveryQueue ??= new Queue(DELIVERY_QUEUE, { connection: this.redis, prefix: this.settings.prefix });
    return this.deliveryQueue;
  }

  /** Jobs by state in each queue, for the metrics scrape. */
  async counts(): Promise<Record<string, Record<string, number>>> {
    const states = ['waiting', 'active', 'delayed', 'completed', 'failed'] as const;
    return this.guard(async () => ({
      [VERIFY_QUEUE]: await this.queue.getJobCounts(...states),
      [DELIVERY_QUEUE]: await this.deliveries().getJobCounts(...states),
    }));
  }

  /**
   * The BullMQ queues themselves, for the admin dashboard. Their job data holds no image bytes: images
   * live in keys of their own (see submit).
   */
  dashboardQueues(): Queue[] {
    return [this.queue, this.deliveries()];
  }

  async close(): Promise<void> {
    await Promise.allSettled([this.events.close(), this.queue.close(), this.deliveryQueue?.close()]);
    this.redis.disconnect();
    this.eventsRedis.disconnect();
  }
}

/** How long a request waits for a (re)connecting Redis before it is told to come back later. */
const READY_WAIT_MS = 1000;

async function readyWithin(redis: Redis, ms: number): Promise<void> {
  if (redis.status === 'ready') return;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      redis.off('ready', onReady);
      reject(new Error(`redis not ready (${redis.status})`));
    }, ms);
    const onReady = () => {
      clearTimeout(timer);
      resolve();
    };
    redis.once('ready', onReady);
  });
}

function toStatus(state: string): JobStatus {
  if (state === 'active') return 'active';
  if (state === 'completed') return 'completed';
  if (state === 'failed') return 'failed';
  return 'queued'; // waiting, delayed, prioritized, waiting-children, unknown-but-present
}

function sha256(s: string): string {
  return createHash('sha256').update(s).digest('hex');
}
