// For tests and audits only (`@facematch/queue/testing`): the service itself never reads its keys wholesale.
import { Redis } from 'ioredis';

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

/**
 * Gives every key under `prefix` that has no TTL one of `ttlS`, so what a killed test run or bench leaves
 * behind expires by itself. Keys that already expire are left as they are (EXPIRE ... NX).
 */
export async function expireKeys(url: string, prefix: string, ttlS: number): Promise<void> {
  const redis = new Redis(url, { maxRetriesPerRequest: 1 });
  redis.on('error', () => {});
  try {
    for await (const batch of redis.scanStream({ match: `${prefix}:*`, count: 1000 })) {
      const m = redis.multi();
      for (const key of batch as string[]) m.call('EXPIRE', key, ttlS, 'NX');
      if ((batch as string[]).length) await m.exec();
    }
  } finally {
    redis.disconnect();
  }
}
