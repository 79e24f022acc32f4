import { Job, Queue, UnrecoverableError, Worker } from 'bullmq';
import { FaceMatchError } from '@facematch/contracts';
import { addJob, handle, processorFor, type JobDefinition } from './define-job.ts';
import { keys, type JobLog } from './keys.ts';
import { connect, type Redis } from './redis.ts';

/**
 * Job plumbing for feature packages (webhooks): a queue of one kind of job, its workers, and a small
 * record per job. BullMQ and ioredis stay inside this package; a feature says what to do, not how.
 */

/** A failure no retry can fix: the job ends at once. */
export class PermanentFailure extends UnrecoverableError {}

/** A failure worth retrying; `retryAfterS` is the least wait the other side asked for. */
export class RetryLater extends Error {
  constructor(
    message: string,
    readonly retryAfterS?: number,
  ) {
    super(message);
  }
}

export interface JobContext {
  id: string;
  /** 1 for the first attempt. */
  attempt: number;
  maxAttempts: number;
  enqueuedAt: number;
}

export interface Connection {
  redisUrl: string;
  prefix: string;
}

/** The producer's side: add, remove, and a record (a flat hash with a TTL) per job. */
export class JobQueue<Data> {
  private constructor(
    private readonly def: JobDefinition<Data>,
    private readonly prefix: string,
    private readonly redis: Redis,
    private readonly queue: Queue,
  ) {}

  /** `failFast` for request paths (a missing Redis is a 503 now), `blocking` for workers. */
  static open<Data>(def: JobDefinition<Data>, conn: Connection, kind: 'failFast' | 'blocking', log?: JobLog): JobQueue<Data> {
    const redis = connect(conn.redisUrl, kind, `facematch:${def.queue}`, log);
    const queue = new Queue(def.queue, { connection: redis, prefix: conn.prefix });
    queue.on('error', () => {}); // the connection logs its outages; calls that need Redis fail on their own
    return new JobQueue(def, conn.prefix, redis, queue);
  }

  /** At most once per `jobId`: adding an id that exists (or finished within `keepForS`) does nothing. */
  async add(data: Data, opts: { jobId: string; attempts: number; keepForS: number }): Promise<void> {
    await addJob(this.queue, this.def, data, {
      jobId: opts.jobId,
      attempts: opts.attempts,
      backoff: { type: 'retry-later' },
      removeOnComplete: { age: opts.keepForS },
      removeOnFail: { age: opts.keepForS },
    });
  }

  /** Removes the job and its event-stream entries. A worker holding it now: 409 JOB_ACTIVE, to retry. */
  async remove(jobId: string, busy: string): Promise<void> {
    const job = await Job.fromId(this.queue, jobId);
    if (job) await removeUnlessLocked(job, busy);
    await purgeEvents(this.redis, `${this.prefix}:${this.def.queue}:events`, jobId);
  }

  private recordKey(id: string): string {
    return keys(this.prefix, this.def.queue).record(id);
  }

  /** Sets the fields not set yet, and (re)starts the record's TTL. */
  async initRecord(id: string, fields: Record<string, string>, ttlS: number): Promise<void> {
    const key = this.recordKey(id);
    const m = this.redis.multi();
    for (const [f, v] of Object.entries(fields)) m.hsetnx(key, f, v);
    await m.expire(key, ttlS).exec();
  }

  async readRecord(id: string): Promise<Record<string, string>> {
    return this.redis.hgetall(this.recordKey(id));
  }

  async deleteRecord(id: string): Promise<void> {
    await this.redis.del(this.recordKey(id));
  }

  async close(): Promise<void> {
    await this.queue.close();
    this.redis.disconnect();
  }
}

export const jobActive = (message: string) => new FaceMatchError('JOB_ACTIVE', message, { retryAfterS: 2 });

/** BullMQ refuses to remove a job a worker holds the lock of; that is a 409 to retry, not a fault. */
export async function removeUnlessLocked(job: Job, message: string): Promise<void> {
  try {
    await job.remove();
  } catch (err) {
    if (err instanceof Error && /locked/.test(err.message)) throw jobActive(message);
    throw err;
  }
}

/** The events stream repeats a job's id (and for some events its return value): a purge must reach it. */
export async function purgeEvents(redis: Redis, stream: string, id: string): Promise<void> {
  let start = '-';
  for (;;) {
    const entries = await redis.xrange(stream, start, '+', 'COUNT', 1000);
    const mine = entries.filter(([, fields]) => fields.some((f) => f.includes(id))).map(([entryId]) => entryId);
    if (mine.length > 0) await redis.xdel(stream, ...mine);
    if (entries.length < 1000) return;
    start = `(${entries[entries.length - 1]![0]}`;
  }
}

export interface RunSettings extends Connection {
  concurrency: number;
  lockDurationMs: number;
  /** The wait before retry `attemptsMade` (1 for the first retry), given the other side's least wait. */
  retryDelayMs(attemptsMade: number, retryAfterS: number | undefined): number;
}

export interface JobRunner {
  /** Sets fields of a job's record and restarts its TTL. */
  setRecord(id: string, fields: Record<string, string>, ttlS: number): Promise<void>;
  close(): Promise<void>;
}

/**
 * Runs jobs of one kind: `handler` resolves (done), throws RetryLater (retried with the delay the
 * settings give) or PermanentFailure (ended), through the definition's validated payload.
 */
export function runJobs<Data>(def: JobDefinition<Data>, settings: RunSettings, handler: (data: Data, ctx: JobContext, records: JobRunner) => Promise<void>, log: JobLog): JobRunner {
  const redis = connect(settings.redisUrl, 'blocking', `facematch:${def.queue}-worker`, log);
  const recordKey = (id: string) => keys(settings.prefix, def.queue).record(id);
  let worker: Worker | undefined;
  const runner: JobRunner = {
    async setRecord(id, fields, ttlS) {
      await redis.multi().hset(recordKey(id), fields).expire(recordKey(id), ttlS).exec();
    },
    async close() {
      await worker?.close();
      redis.disconnect();
    },
  };
  const processor = processorFor(def.queue, [
    handle(def, (data, job) =>
      handler(data, { id: job.id!, attempt: job.attemptsMade + 1, maxAttempts: job.opts.attempts ?? 1, enqueuedAt: job.timestamp }, runner),
    ),
  ]);
  worker = new Worker(def.queue, processor, {
    connection: redis,
    prefix: settings.prefix,
    concurrency: settings.concurrency,
    lockDuration: settings.lockDurationMs,
    stalledInterval: Math.max(1000, Math.floor(settings.lockDurationMs / 2)),
    settings: {
      backoffStrategy: (attemptsMade: number, _type?: string, err?: Error) => settings.retryDelayMs(attemptsMade, err instanceof RetryLater ? err.retryAfterS : undefined),
    },
  });
  worker.on('error', (err) => log.error({ err, queue: def.queue }, 'worker error'));
  return runner;
}
