import { hostname } from 'node:os';
import { UnrecoverableError, Worker, type Job } from 'bullmq';
import { FaceMatchError, toFaceMatchError, type JobEnded, type PolicyName, type VerifyJobData, type VerifyJobEnd, type VerifyResult } from '@facematch/contracts';
import { decodeJobError, encodeJobError } from './job-error.ts';
import { JOBS, handle, processorFor } from './define-job.ts';
import { VERIFY_QUEUE, keys, type JobLog } from './keys.ts';
import { connect, execOrThrow, rideOut, type Redis } from './redis.ts';

export interface VerifyHandler {
  (images: { img1: Buffer; img2: Buffer }, job: { id: string; attempt: number; policy?: PolicyName }): Promise<VerifyResult>;
}

export interface WorkerSettings {
  redisUrl: string;
  prefix: string;
  /** Jobs in flight in this process. Inference is CPU-bound: 1 per process, scale with processes. */
  concurrency: number;
  /** How long a job's lock lives without renewal; a killed worker's job is recovered after about this. */
  lockDurationMs: number;
  /** How long results stay pollable (RESULT_TTL_S); also how long the crash-recovery outcome is kept. */
  outcomeTtlS: number;
  /**
   * How long the worker retries a write that Redis refuses (OOM, READONLY, MISCONF, a lost connection)
   * before it gives the job up as QUEUE_UNAVAILABLE: at least a Redis failover's length.
   */
  redisOutageMs: number;
}

export interface WorkerHooks {
  /**
   * The job-ended hook (the webhooks feature's announce): called for every end of every job, once the
   * outcome is decided and before the job is marked finished, so a crash in between cannot lose it; it
   * may be called again for the same end (a re-run after a crash) and must then do nothing.
   */
  ended?: (end: VerifyJobEnd) => Promise<void>;
  /** Metrics: each final outcome with its timings. */
  observe?: (e: JobEnded) => void;
}

type Outcome = { result: VerifyResult } | { error: ReturnType<FaceMatchError['toJSON']> };

export class VerifyWorker {
  private constructor(
    readonly worker: Worker<VerifyJobData, VerifyResult, string>,
    private readonly redis: Redis,
  ) {}

  static start(settings: WorkerSettings, handler: VerifyHandler, log: JobLog, hooks: WorkerHooks = {}): VerifyWorker {
    const observe = hooks.observe ?? (() => {});
    const k = keys(settings.prefix, VERIFY_QUEUE);
    const redis = connect(settings.redisUrl, 'blocking', 'facematch:worker', log);

    /** Writes that record finished work wait out Redis refusing them instead of failing the job. */
    const ride = <T>(fields: object, fn: () => Promise<T>): Promise<T> =>
      rideOut(fn, {
        deadlineMs: settings.redisOutageMs,
        onRefusal: (err, tries) => {
          if (tries === 1) log.warn({ ...fields, err }, 'Redis refused a write; retrying until it accepts');
        },
      }).catch((err: unknown) => {
        // Past the deadline the attempt fails as QUEUE_UNAVAILABLE (503, retryable): BullMQ retries it if
        // attempts remain, and a client told of the failure gets a Retry-After, never a 500.
        log.error({ ...fields, err }, 'Redis kept refusing writes; giving the attempt up');
        throw new Error(encodeJobError(new FaceMatchError('QUEUE_UNAVAILABLE', 'the job queue refused writes for too long; retry shortly')));
      });

    /**
     * Every end of a job comes through here. Ends the processor decides (a result, a failure with its code,
     * expired images) before the job is marked finished; ends BullMQ decides without our processor (stalled
     * past its limit) from the 'failed' listener.
     */
    const announced = new Set<string>(); // ends this process announced, until their 'failed' event
    const announce = async (job: Job<VerifyJobData, VerifyResult, string>, outcome: Outcome, fields: object) => {
      if (!hooks.ended) return;
      const { tenant, webhookUrl, metadata } = job.data;
      const end: VerifyJobEnd = { jobId: job.id!, tenant, outcome, ...(webhookUrl ? { webhookUrl } : {}), ...(metadata ? { metadata } : {}) };
      await ride(fields, () => hooks.ended!(end));
    };
    /** The processor's announcement of an end it decided; a failure's is remembered for the 'failed' listener. */
    const announceDecided = async (job: Job<VerifyJobData, VerifyResult, string>, outcome: Outcome, fields: object) => {
      await announce(job, outcome, fields);
      if ('error' in outcome) announced.add(job.id!);
    };

    // The payload is validated by the job definition before this runs (processorFor).
    const processor = async (job: Job<VerifyJobData, VerifyResult, string>): Promise<VerifyResult> => {
      const id = job.id!;
      const fields = { jobId: id, attempt: job.attemptsMade + 1 };

      // A re-run after a crash between finishing and recording: answer what was already decided.
      const saved = await redis.get(k.outcome(id));
      if (saved) {
        await announceDecided(job, JSON.parse(saved) as Outcome, fields);
        return settle(JSON.parse(saved) as Outcome);
      }

      const [img1, img2] = await redis.mgetBuffer(...k.images(id));
      let outcome: Outcome;
      try {
        // An end like any other: recorded, announced and answered with its code.
        if (!img1 || !img2) throw new FaceMatchError('IMAGES_EXPIRED', 'the images expired before a worker took the job');
        const result = await handler({ img1, img2 }, { id, attempt: fields.attempt, policy: job.data.policy });
        outcome = { result };
      } catch (err) {
        const e = toFaceMatchError(err);
        const lastAttempt = job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
        if (e.retryable && !lastAttempt) {
          log.warn({ ...fields, code: e.code, err: e.cause ?? e }, 'job failed; will retry');
          throw e; // images stay for the retry
        }
        if (e.code === 'INTERNAL') log.error({ ...fields, err: e.cause ?? e }, 'job failed');
        outcome = { error: e.toJSON() };
      }
      // The images go in the same transaction that records the outcome. Redis refusing it (out of
      // memory, a failover) is waited out here, holding the finished work, rather than spending an attempt.
      await ride(fields, () => execOrThrow(redis.multi().del(...k.images(id)).set(k.outcome(id), JSON.stringify(outcome), 'EX', settings.outcomeTtlS)));
      await announceDecided(job, outcome, fields);
      return settle(outcome);
    };

    const verifyJobs = processorFor(VERIFY_QUEUE, [handle(JOBS.verify, (_data, job) => processor(job as Job<VerifyJobData, VerifyResult, string>))]);
    const worker = new Worker<VerifyJobData, VerifyResult, string>(VERIFY_QUEUE, verifyJobs, {
      connection: redis,
      prefix: settings.prefix,
      concurrency: settings.concurrency,
      lockDuration: settings.lockDurationMs,
      // Recorded in each job as it starts (processedBy): which host and process ran it, in Bull Board too.
      name: `${hostname()}:${process.pid}`,
      stalledInterval: Math.max(1000, Math.floor(settings.lockDurationMs / 2)),
      maxStalledCount: 2,
      autorun: true,
    });
    worker.on('error', (err) => log.error({ err }, 'worker error'));
    // A finished job's hash holds its result and metadata: it expires RESULT_TTL_S after the job ended,
    // whatever the traffic (BullMQ's removeOnComplete age only acts when a later job finishes).
    // The housekeeping job removes what is left: set entries, event-stream copies.
    const expireJob = (job: Job) => {
      const at = (job.finishedOn ?? Date.now()) + settings.outcomeTtlS * 1000;
      redis.pexpireat(`${settings.prefix}:${VERIFY_QUEUE}:${job.id}`, at).catch((err: unknown) => log.warn({ jobId: job.id, err }, 'could not set the job’s expiry; housekeeping will remove it'));
    };
    worker.on('completed', (job) => {
      // The job's return value holds the result now; the crash-recovery copy is no longer needed.
      redis.del(k.outcome(job.id!)).catch(() => {});
      expireJob(job);
      log.info({ jobId: job.id, verified: job.returnvalue?.verified, ms: (job.finishedOn ?? 0) - (job.processedOn ?? 0) }, 'job completed');
      const timings = job.returnvalue?.timings;
      observe({ outcome: 'completed', queueWaitMs: queueWait(job), decodeMs: timings?.decodeMs, inferMs: timings?.inferMs });
    });
    worker.on('failed', (job, err) => {
      if (!job) return;
      const final = err instanceof UnrecoverableError || job.attemptsMade >= (job.opts.attempts ?? 1);
      if (final) {
        redis.del(k.outcome(job.id!), ...k.images(job.id!)).catch((e: unknown) => log.warn({ jobId: job.id, err: e }, 'could not delete a failed job’s images; their TTL will'));
        expireJob(job);
        const error = decodeJobError(err.message);
        log.info({ jobId: job.id, code: error.code, reason: err.message.slice(0, 200) }, 'job failed');
        observe({ outcome: 'failed', code: error.code, queueWaitMs: queueWait(job) });
        // The processor announced the ends it decided; this announces those it did not: a job BullMQ failed
        // without running it (stalled past the limit), or one failed by an error the processor threw.
        if (!announced.delete(job.id!)) {
          announce(job, { error }, { jobId: job.id }).catch((e: unknown) => log.error({ jobId: job.id, err: e }, 'could not announce the end of a failed job'));
        }
      }
    });
    return new VerifyWorker(worker, redis);
  }

  /** Taking jobs, with its Redis connection up: what the worker's /healthz reports. */
  healthy(): boolean {
    return this.worker.isRunning() && this.redis.status === 'ready';
  }

  /** Stops taking jobs, lets the current one finish within `deadlineMs`, then closes the connection. */
  async close(deadlineMs: number): Promise<'drained' | 'forced'> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<'forced'>((resolve) => {
      timer = setTimeout(() => resolve('forced'), deadlineMs);
    });
    const outcome = await Promise.race([this.worker.close().then(() => 'drained' as const), deadline]);
    clearTimeout(timer);
    if (outcome === 'forced') await this.worker.close(true); // the job's lock lapses; another worker recovers it
    this.redis.disconnect();
    return outcome;
  }
}

const queueWait = (job: Job) => Math.max(0, (job.processedOn ?? job.timestamp) - job.timestamp);

function settle(outcome: Outcome): VerifyResult {
  if ('result' in outcome) return outcome.result;
  throw new UnrecoverableError(encodeJobError(outcome.error));
}
