import { UnrecoverableError, type Job, type JobsOptions, type Queue } from 'bullmq';
import { DeliveryJobDataSchema, ExpireResultsJobDataSchema, JobName, VerifyJobDataSchema } from '@facematch/contracts';
import { DELIVERY_QUEUE, HOUSEKEEPING_QUEUE, VERIFY_QUEUE } from './keys.ts';

/** The part of a zod schema this needs (the package does not depend on zod itself). */
interface Schema<T> {
  safeParse(data: unknown): { success: true; data: T } | { success: false; error: { message: string } };
}

/**
 * A kind of job: its queue, its name, the schema of its payload and its BullMQ options, in one place
 * that producer and consumer share (in the spirit of immich's job handler map and documenso's job
 * definitions). The payload is validated when the job is added and again when it is processed, so a
 * producer of another version, or a hand-edited job, fails as a job error instead of inside a handler.
 */
export interface JobDefinition<Data> {
  readonly queue: string;
  readonly name: string;
  readonly schema: Schema<Data>;
  readonly options: JobsOptions;
}

export function defineJob<Data>(def: { queue: string; name: string; schema: Schema<Data>; options?: JobsOptions }): JobDefinition<Data> {
  return { options: {}, ...def };
}

/** Every job this service runs. A worker checks at start that it handles each one of its queue's. */
export const JOBS = {
  verify: defineJob({ queue: VERIFY_QUEUE, name: JobName.verify, schema: VerifyJobDataSchema }),
  deliver: defineJob({ queue: DELIVERY_QUEUE, name: JobName.deliver, schema: DeliveryJobDataSchema }),
  expireResults: defineJob({ queue: HOUSEKEEPING_QUEUE, name: JobName.expireResults, schema: ExpireResultsJobDataSchema }),
} as const;

const payload = <Data>(def: JobDefinition<Data>, data: unknown): Data => {
  const parsed = def.schema.safeParse(data);
  if (!parsed.success) throw new UnrecoverableError(`invalid ${def.name} payload: ${parsed.error.message.slice(0, 300)}`);
  return parsed.data;
};

/** Adds a job of this kind, after validating its payload: nothing a consumer would refuse is enqueued. */
export async function addJob<Data>(queue: Queue, def: JobDefinition<Data>, data: Data, opts: JobsOptions = {}): Promise<Job> {
  if (queue.name !== def.queue) throw new Error(`${def.name} belongs on ${def.queue}, not ${queue.name}`);
  return queue.add(def.name, payload(def, data), { ...def.options, ...opts });
}

export interface Handler<Data, R> {
  def: JobDefinition<Data>;
  handle(data: Data, job: Job): Promise<R>;
}

export const handle = <Data, R>(def: JobDefinition<Data>, fn: (data: Data, job: Job) => Promise<R>): Handler<Data, R> => ({ def, handle: fn });

/**
 * The processor of one queue, from a handler per job name. Checked when it is made: every handler is for
 * this queue, no name is handled twice, and every job defined for the queue has a handler. A job with an
 * unknown name or an invalid payload fails at once (UnrecoverableError), never retried.
 */
export function processorFor<R>(queueName: string, handlers: Handler<unknown, R>[], defined: readonly JobDefinition<unknown>[] = Object.values(JOBS)): (job: Job) => Promise<R> {
  const byName = new Map<string, Handler<unknown, R>>();
  for (const h of handlers) {
    if (h.def.queue !== queueName) throw new Error(`handler for ${h.def.name} (queue ${h.def.queue}) given to queue ${queueName}`);
    if (byName.has(h.def.name)) throw new Error(`two handlers for ${h.def.name}`);
    byName.set(h.def.name, h);
  }
  const missing = defined.filter((d) => d.queue === queueName && !byName.has(d.name)).map((d) => d.name);
  if (missing.length > 0) throw new Error(`queue ${queueName} has no handler for ${missing.join(', ')}`);
  return async (job) => {
    const h = byName.get(job.name);
    if (!h) throw new UnrecoverableError(`unknown job name ${job.name}`);
    return h.handle(payload(h.def, job.data), job);
  };
}
