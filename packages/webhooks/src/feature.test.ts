import { describe, expect, it } from 'vitest';
import { backoffDelay, buildEvent } from './feature.ts';

describe('backoffDelay', () => {
  it('doubles from the base with ±20% jitter', () => {
    expect(backoffDelay(1, 10_000, undefined, () => 0.5)).toBe(10_000);
    expect(backoffDelay(3, 10_000, undefined, () => 0.5)).toBe(40_000);
    expect(backoffDelay(3, 10_000, undefined, () => 0)).toBe(32_000);
    expect(backoffDelay(3, 10_000, undefined, () => 0.999999)).toBeCloseTo(48_000, -1);
  });

  it('covers about a day with the defaults (15 attempts, 10 s base, 6 h cap)', () => {
    let total = 0;
    for (let made = 1; made < 15; made++) total += backoffDelay(made, 10_000, undefined, () => 0.5);
    expect(total / 3_600_000).toBeGreaterThan(18);
    expect(total / 3_600_000).toBeLessThan(30);
  });

  it('honours a longer Retry-After, and caps every wait at 6 h', () => {
    expect(backoffDelay(1, 10_000, 120, () => 0.5)).toBe(120_000);
    expect(backoffDelay(1, 10_000, 1, () => 0.5)).toBe(10_000);
    expect(backoffDelay(30, 10_000, undefined, () => 0.5)).toBe(6 * 3600 * 1000);
    expect(backoffDelay(1, 10_000, 10 ** 9, () => 0.5)).toBe(6 * 3600 * 1000);
  });
});

describe('buildEvent', () => {
  it('names completed and failed events and carries no more than the outcome', () => {
    const ok = JSON.parse(buildEvent('j1', { result: { verified: true } as never }, { ref: 1 }));
    expect(ok).toMatchObject({ type: 'face_verification.completed', data: { id: 'j1', status: 'completed', result: { verified: true }, metadata: { ref: 1 } } });
    const bad = JSON.parse(buildEvent('j2', { error: { code: 'NO_FACE', message: 'no face found in img1', image: 'img1' } }));
    expect(bad).toMatchObject({ type: 'face_verification.failed', data: { id: 'j2', status: 'failed', error: { code: 'NO_FACE' } } });
    expect(bad.data).not.toHaveProperty('result');
  });
});

describe('buildEvent for an erased job', () => {
  it('says only that the job was deleted: no result, no metadata', () => {
    const gone = JSON.parse(buildEvent('j3', 'deleted', { ref: 1 }));
    expect(gone).toEqual({ type: 'face_verification.deleted', timestamp: expect.any(String), data: { id: 'j3', status: 'deleted' } });
  });
});
