import { describe, expect, it } from 'vitest';
import { sweepEveryMs } from './housekeeping.ts';

describe('sweepEveryMs', () => {
  it('is a tenth of the TTL, kept between 1 s and 60 s', () => {
    expect(sweepEveryMs(5)).toBe(1000);
    expect(sweepEveryMs(100)).toBe(10_000);
    expect(sweepEveryMs(24 * 3600)).toBe(60_000);
  });
});
