import { Queue, Worker } from 'bullmq';
import { connect, type Redis } from './redis.ts';
import { JOBS, handle, processorFor } from './define-job.ts';
import { DELIVERY_QUEUE, HOUSEKEEPING_QUEUE, VERIFY_QUEUE, type JobLog } from './keys.ts';

/**
 * Results must not outlive RESULT_TTL_S, whatever the traffic. A finished job's hash expires by itself
 * (the worker sets its TTL), but BullMQ keeps other copies that only a later job's completion would trim:
 * the finished sets, and the queues' event streams, which repeat every result. A BullMQ job scheduler
 * runs this sweep across the fleet (one run per tick, whichever worker takes it), so the sweep needs no
 * timer of our own and no leader.
 */
const SCHEDULER_ID = 'expire-results';
const CLEAN_BATCH = 1000;

export interface HousekeepingSettings {
  redisUrl: string;
  prefix: string;
  resultTtlS: number;
}

/** The sweep's period: a tenth of the TTL, between 1 s and 60 s. Copies live at most TTL plus this. */
export function sweepEveryMs(resultTtlS: number): number {
  return Math.min(60_000, Math.max(1000, Math.round((resultTtlS * 1000) / 10)));
}

export interface SweepCounts {
  jobs: number;
  events: number;
}

/** Removes every finished job, waiting delivery and event-stream entry older than the TTL. */
export async function sweepExpired(redis: Redis, queues: { verify: Queue; delivery: Queue }, resultTtlS: number, prefix: string): Promise<SweepCounts> {
  const graceMs = resultTtlS * 1000;
  let jobs = 0;
  const clean = async (queue: Queue, type: 'completed' | 'failed' | 'delayed' | 'wait') => {
    for (;;) {
      const removed = await queue.clean(graceMs, CLEAN_BATCH, type);
      jobs += removed.length;
      if (removed.length < CLEAN_BATCH) return;
    }
  };
  for (const type of ['completed', 'failed'] as const) {
    await clean(queues.verify, type);
    await clean(queues.delivery, type);
  }
  // A delivery still retrying after its result expired carries that result: it goes too.
  await clean(queues.delivery, 'delayed');
  await clean(queues.delivery, 'wait');
  // Stream entry ids start with their time in ms, so MINID drops exactly the entries older than the TTL.
  const minId = String(Math.max(0, Date.now() - graceMs));
  let events = 0;
  for (const name of [VERIFY_QUEUE, DELIVERY_QUEUE]) events += Number(await redis.xtrim(`${prefix}:${name}:events`, 'MINID', minId));
  return { jobs, events };
}

export class Housekeeping {
  private constructor(
    private readonly worker: Worker,
    private readonly queues: Queue[],
    private readonly redis: Redis,
  ) {}

  static start(settings: HousekeepingSettings, log: JobLog): Housekeeping {
    const redis = connect(settings.redisUrl, 'blocking', 'facematch:housekeeping', log);
    const opts = { connection: redis, prefix: settings.prefix };
    const verify = new Queue(VERIFY_QUEUE, opts);
    const delivery = new Queue(DELIVERY_QUEUE, opts);
    // Its own events say only that a sweep ran: keep few.
    const own = new Queue(HOUSEKEEPING_QUEUE, { ...opts, streams: { events: { maxLen: 100 } } });
    for (const q of [verify, delivery, own]) q.on('error', (err) => log.warn({ err }, 'housekeeping queue error'));
    // Every worker process upserts the same scheduler: idempotent, and the period follows the config.
    // Not awaited: a worker starting while Redis is away must not wait for it to report ready.
    own
      .upsertJobScheduler(SCHEDULER_ID, { every: sweepEveryMs(settings.resultTtlS) }, { name: JOBS.expireResults.name, data: {}, opts: { removeOnComplete: true, removeOnFail: { count: 10 } } })
      .catch((err: unknown) => log.error({ err }, 'could not schedule the result-expiry sweep'));
    const worker = new Worker(
      HOUSEKEEPING_QUEUE,
      processorFor(HOUSEKEEPING_QUEUE, [
        handle(JOBS.expireResults, async () => {
          const counts = await sweepExpired(redis, { verify, delivery }, settings.resultTtlS, settings.prefix);
          if (counts.jobs > 0 || counts.events > 0) log.info(counts, 'expired results swept');
          return counts;
        }),
      ]),
      { ...opts, concurrency: 1 },
    );
    worker.on('error', (err) => log.error({ err }, 'housekeeping worker error'));
    return new Housekeeping(worker, [verify, delivery, own], redis);
  }

  async close(): Promise<void> {
    await this.worker.close();
    await Promise.allSettled(this.queues.map((q) => q.close()));
    this.redis.disconnect();
  }
}
