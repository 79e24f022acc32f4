import { Redis, type RedisOptions } from 'ioredis';

/**
 * Two kinds of connection, as BullMQ's "going to production" guide says:
 * - `blocking` (workers, queue events): retries forever, so a Redis restart is ridden out.
 * - `failFast` (the API's producer): commands fail at once while Redis is away, so a client gets a
 *   503 with Retry-After instead of a hung request.
 */
export function connect(url: string, kind: 'blocking' | 'failFast', name: string): Redis {
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
  // ioredis emits 'error' on every failed reconnect; unhandled, that would crash the process.
  redis.on('error', () => {});
  return redis;
}

export type { Redis };

/** True when a Redis answers PING at `url` within `timeoutMs`. */
export async function redisAnswers(url: string, timeoutMs = 1500): Promise<boolean> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, enableOfflineQueue: false, connectTimeout: timeoutMs, retryStrategy: () => null });
  redis.on('error', () => {});
  try {
    await redis.connect();
    return (await redis.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    redis.disconnect();
  }
}

/**
 * Every key and value under `prefix`, flattened to latin1 text so that binary values stay searchable
 * byte for byte: for tests and audits that look for leftovers.
 */
export async function dumpKeys(url: string, prefix: string): Promise<Map<string, string>> {
  const redis = new Redis(url, { maxRetriesPerRequest: 1 });
  redis.on('error', () => {});
  const text = (v: unknown): string =>
    Buffer.isBuffer(v) ? v.toString('latin1') : Array.isArray(v) ? v.map(text).join('\n') : v === null ? '' : String(v);
  const out = new Map<string, string>();
  try {
    for await (const batch of redis.scanStream({ match: `${prefix}:*`, count: 500 })) {
      for (const key of batch as string[]) {
        const type = await redis.type(key);
        let value: unknown;
        if (type === 'string') value = await redis.getBuffer(key);
        else if (type === 'hash') value = Object.entries(await redis.hgetallBuffer(key)).map(([f, v]) => `${f}=${v.toString('latin1')}`);
        else if (type === 'list') value = await redis.lrangeBuffer(key, 0, -1);
        else if (type === 'set') value = await redis.smembersBuffer(key);
        else if (type === 'zset') value = await redis.zrangeBuffer(key, 0, -1);
        else if (type === 'stream') value = (await redis.xrangeBuffer(key, '-', '+')).flat(2);
        out.set(key, text(value));
      }
    }
  } finally {
    redis.disconnect();
  }
  return out;
}

/** Deletes every key under `prefix`: for benchmarks and tests that must leave nothing behind. */
export async function deleteKeys(url: string, prefix: string): Promise<number> {
  const redis = new Redis(url, { maxRetriesPerRequest: 1 });
  redis.on('error', () => {});
  let n = 0;
  try {
    for await (const batch of redis.scanStream({ match: `${prefix}:*`, count: 1000 })) {
      if ((batch as string[]).length) n += await redis.unlink(...(batch as string[]));
    }
  } finally {
    redis.disconnect();
  }
  return n;
}
