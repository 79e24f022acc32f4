import { Redis, type RedisOptions } from 'ioredis';

/**
 * Two kinds of connection, as BullMQ's "going to production" guide says:
 * - `blocking` (workers, queue events): retries forever, so a Redis restart is ridden out.
 * - `failFast` (the API's producer): commands fail at once while Redis is away, so a client gets a
 *   503 with Retry-After instead of a hung request.
 */
/** Where a connection reports its outages: one warning when it is lost, one line when it is back. */
export interface ConnectionLog {
  warn(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
}

export function connect(url: string, kind: 'blocking' | 'failFast', name: string, log?: ConnectionLog): Redis {
  const common: RedisOptions = {
    connectionName: name,
    // Reconnect with capped backoff for ever; the process's readiness says whether Redis is there.
    retryStrategy: (times) => Math.min(200 * 2 ** Math.min(times, 5), 5000),
    lazyConnect: false,
  };
  const opts: RedisOptions =
    kind === 'blocking'
      ? { ...common, maxRetriesPerRequest: null, enableReadyCheck: true }
      : { ...common, maxRetriesPerRequest: 1, enableOfflineQueue: false, connectTimeout: 2000, commandTimeout: 2000 };
  const redis = new Redis(url, opts);
  // ioredis emits 'error' on every failed reconnect (unhandled, that would crash the process): an operator
  // hears of an outage once, with its first error, and of its end with how long it lasted and how many
  // errors it held. Nothing else is logged per attempt.
  let outage: { since: number; errors: number } | undefined;
  redis.on('error', (err: Error) => {
    if (outage) {
      outage.errors++;
      return;
    }
    outage = { since: Date.now(), errors: 1 };
    log?.warn({ connection: name, err: { message: err.message, code: (err as { code?: unknown }).code } }, 'Redis connection lost; reconnecting');
  });
  redis.on('ready', () => {
    if (!outage) return;
    log?.info({ connection: name, downMs: Date.now() - outage.since, errors: outage.errors }, 'Redis connection restored');
    outage = undefined;
  });
  return redis;
}

export type { Redis };

/**
 * Redis refusing a command for its own state rather than ours: out of memory under `noeviction`, a
 * replica during failover, a failed disk save, still loading, a script hogging it. All pass when
 * Redis recovers, as a dropped connection does, so none of them is the job's fault.
 */
const REFUSAL = /^(OOM|READONLY|MISCONF|LOADING|BUSY|MASTERDOWN|NOREPLICAS|NOMASTERLINK|TRYAGAIN|CLUSTERDOWN)\b/;
const CONNECTION_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);
const CONNECTION_MESSAGES = /Connection is closed|Stream isn't writeable|Command timed out|enableOfflineQueue|Reached the max retries per request/;

export function isTransientRedisError(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  // A MULTI whose queued commands were refused fails EXEC as a whole; it is transient when they all were.
  if (err.message.startsWith('EXECABORT')) {
    const previous = (err as { previousErrors?: unknown[] }).previousErrors;
    return Array.isArray(previous) && previous.length > 0 && previous.every(isTransientRedisError);
  }
  if (REFUSAL.test(err.message) || CONNECTION_MESSAGES.test(err.message)) return true;
  const code = (err as { code?: unknown }).code;
  return err.name === 'MaxRetriesPerRequestError' || (typeof code === 'string' && CONNECTION_CODES.has(code));
}

/**
 * Runs `fn` until it succeeds, retrying through transient Redis errors (above) with capped backoff for
 * up to `deadlineMs`; any other error, or the last transient one once the deadline passes, is thrown.
 * For writes a worker must make to record finished work: a few seconds of refusals must not cost the
 * job an attempt, let alone fail it.
 */
export async function rideOut<T>(fn: () => Promise<T>, opts: { deadlineMs: number; onRefusal?: (err: Error, tries: number) => void }): Promise<T> {
  const giveUpAt = Date.now() + opts.deadlineMs;
  for (let tries = 1; ; tries++) {
    try {
      return await fn();
    } catch (err) {
      if (!isTransientRedisError(err) || Date.now() >= giveUpAt) throw err;
      opts.onRefusal?.(err as Error, tries);
      const pause = Math.min(1000, 50 * 2 ** Math.min(tries, 5), Math.max(0, giveUpAt - Date.now()));
      await new Promise((r) => setTimeout(r, pause)); // backoff between retries, not a synchronisation
    }
  }
}

/** MULTI/EXEC, failing on a command's own error too: ioredis resolves those as [err, result] pairs. */
export async function execOrThrow(multi: ReturnType<Redis['multi']>): Promise<unknown[]> {
  const replies = await multi.exec();
  if (!replies) throw new Error('EXEC returned no replies (a WATCHed key changed)');
  for (const [err] of replies) if (err) throw err;
  return replies.map(([, value]) => value);
}

/** One short-lived connection to `url` for `ask`; undefined if Redis does not answer within `timeoutMs`. */
async function probe<T>(url: string, timeoutMs: number, ask: (redis: Redis) => Promise<T>): Promise<T | undefined> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, enableOfflineQueue: false, connectTimeout: timeoutMs, retryStrategy: () => null });
  redis.on('error', () => {});
  try {
    await redis.connect();
    return await ask(redis);
  } catch {
    return undefined;
  } finally {
    redis.disconnect();
  }
}

/** True when a Redis answers PING at `url` within `timeoutMs`. */
export async function redisAnswers(url: string, timeoutMs = 1500): Promise<boolean> {
  return (await probe(url, timeoutMs, (redis) => redis.ping())) === 'PONG';
}

/** The process id the Redis at `url` reports (INFO server), or undefined if it does not answer. */
export async function redisProcessId(url: string, timeoutMs = 1500): Promise<number | undefined> {
  const pid = await probe(url, timeoutMs, async (redis) => /^process_id:(\d+)/m.exec(await redis.info('server'))?.[1]);
  return pid === undefined ? undefined : Number(pid);
}
