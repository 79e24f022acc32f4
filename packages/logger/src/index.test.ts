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
