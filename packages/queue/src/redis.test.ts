import { describe, expect, it } from 'vitest';
import { isTransientRedisError, rideOut } from './redis.ts';

const reply = (message: string) => Object.assign(new Error(message), { name: 'ReplyError' });

describe('isTransientRedisError', () => {
  it.each([
    'OOM command not allowed when used memory > \'maxmemory\'.',
    'READONLY You can\'t write against a read only replica.',
    'MISCONF Redis is configured to save RDB snapshots, but it\'s currently unable to persist to disk.',
    'LOADING Redis is loading the dataset in memory',
    'BUSY Redis is busy running a script.',
    'Connection is closed.',
  ])('takes "%s" for Redis’s passing state', (m) => expect(isTransientRedisError(reply(m))).toBe(true));

  it('takes an EXECABORT as transient only when every queued refusal was', () => {
    const abort = (...previous: Error[]) => Object.assign(reply('EXECABORT Transaction discarded because of previous errors.'), { previousErrors: previous });
    expect(isTransientRedisError(abort(reply('OOM command not allowed')))).toBe(true);
    expect(isTransientRedisError(abort(reply('OOM command not allowed'), reply('ERR wrong number of arguments for \'set\' command')))).toBe(false);
    expect(isTransientRedisError(abort())).toBe(false);
  });

  it('does not excuse our own mistakes', () => {
    expect(isTransientRedisError(reply('WRONGTYPE Operation against a key holding the wrong kind of value'))).toBe(false);
    expect(isTransientRedisError(reply('NOPERM this user has no permissions to run the \'set\' command'))).toBe(false);
    expect(isTransientRedisError(new TypeError('x is undefined'))).toBe(false);
    expect(isTransientRedisError(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' }))).toBe(true);
  });
});

describe('rideOut', () => {
  it('retries refusals until the call goes through', async () => {
    let calls = 0;
    const refusals: number[] = [];
    const out = await rideOut(
      async () => {
        if (++calls < 4) throw reply('OOM command not allowed');
        return 'ok';
      },
      { deadlineMs: 10_000, onRefusal: (_e, n) => refusals.push(n) },
    );
    expect([out, calls, refusals]).toEqual(['ok', 4, [1, 2, 3]]);
  });

  it('throws a non-transient error at once, and a transient one once the deadline passes', async () => {
    let calls = 0;
    await expect(rideOut(async () => (calls++, Promise.reject(reply('WRONGTYPE x'))), { deadlineMs: 10_000 })).rejects.toThrow(/WRONGTYPE/);
    expect(calls).toBe(1);
    await expect(rideOut(() => Promise.reject(reply('READONLY replica')), { deadlineMs: 0 })).rejects.toThrow(/READONLY/);
  });
});
