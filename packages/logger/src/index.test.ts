import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from './index.ts';

describe('createLogger', () => {
  it('redacts images, tokens and descriptors', () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _enc, cb) {
        lines.push(String(chunk));
        cb();
      },
    });
    const log = createLogger({ name: 'test', level: 'info' }, sink as never);
    log.info({ img1: 'data:image/jpeg;base64,/9j/AAAA', req: { headers: { authorization: 'eyJhbGciOi.secret.sig' } }, descriptor: [0.1, 0.2] }, 'hello');
    const line = JSON.parse(lines[0]!);
    expect(line.msg).toBe('hello');
    expect(lines[0]).not.toContain('/9j/');
    expect(lines[0]).not.toContain('eyJhbGciOi');
    expect(lines[0]).not.toContain('0.1');
    expect(line.img1).toBe('[redacted]');
  });
});

describe('error serializer', () => {
  const capture = () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _enc, cb) {
        lines.push(String(chunk));
        cb();
      },
    });
    return { lines, log: createLogger({ name: 'test', level: 'info' }, sink as never) };
  };
  /** The shape ioredis gives a refused command: the command, with its arguments, on the error. */
  const refused = (message: string) =>
    Object.assign(new Error(message), {
      name: 'ReplyError',
      command: { name: 'set', args: ['fm:images:j1:img1', Buffer.from([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3]), 'EX', '3600'] },
    });

  it('never writes a Redis command’s arguments, at any depth', () => {
    const { lines, log } = capture();
    const execAbort = Object.assign(new Error('EXECABORT Transaction discarded because of previous errors.'), { previousErrors: [refused('OOM command not allowed')] });
    const wrapped = new Error('the job queue is unavailable', { cause: refused('OOM command not allowed when used memory > maxmemory') });
    log.error({ err: wrapped }, 'request failed');
    log.error({ err: execAbort }, 'job failed');
    log.error(refused('READONLY You can’t write against a read only replica.'));
    expect(lines).toHaveLength(3);
    for (const l of lines) {
      expect(l).not.toMatch(/255\s*,\s*216/);
      expect(l).not.toContain('args');
      expect(l).not.toContain('fm:images');
    }
    const first = JSON.parse(lines[0]!);
    expect(first.err).toMatchObject({ type: 'Error', message: 'the job queue is unavailable', cause: { type: 'ReplyError', command: 'set', message: expect.stringMatching(/^OOM/) } });
    expect(JSON.parse(lines[1]!).err.errors[0]).toMatchObject({ command: 'set', message: 'OOM command not allowed' });
  });

  it('bounds long messages and keeps codes', () => {
    const { lines, log } = capture();
    log.warn({ err: Object.assign(new Error('x'.repeat(100_000)), { code: 'ECONNREFUSED', errno: -111 }) }, 'lost');
    const err = JSON.parse(lines[0]!).err;
    expect(err.message.length).toBeLessThanOrEqual(2000);
    expect(err).toMatchObject({ code: 'ECONNREFUSED', errno: -111 });
  });
});
