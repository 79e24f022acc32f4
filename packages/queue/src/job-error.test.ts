import { describe, expect, it } from 'vitest';
import { FaceMatchError } from '@facematch/contracts';
import { decodeJobError, encodeJobError } from './job-error.ts';
import { keys } from './keys.ts';

describe('job errors', () => {
  it('round-trip code, message and image through BullMQ’s failedReason', () => {
    const e = new FaceMatchError('NO_FACE', 'no face found in img2', { image: 'img2' });
    expect(decodeJobError(encodeJobError(e))).toEqual({ code: 'NO_FACE', message: 'no face found in img2', image: 'img2' });
  });

  it('turn BullMQ’s own failures into INTERNAL without leaking their text', () => {
    expect(decodeJobError('job stalled more than allowable limit')).toEqual({ code: 'INTERNAL', message: 'the job failed on our side' });
    expect(decodeJobError('{"code":"NOT_A_CODE","message":"x"}').code).toBe('INTERNAL');
    expect(decodeJobError(undefined).code).toBe('INTERNAL');
  });
});

describe('keys', () => {
  it('keeps every key under the BullMQ prefix and queue', () => {
    const k = keys('pfx', 'q');
    for (const key of [...k.images('j1'), k.outcome('j1'), k.idempotency('t', 'h')]) expect(key.startsWith('pfx:q:fm:')).toBe(true);
  });
});
