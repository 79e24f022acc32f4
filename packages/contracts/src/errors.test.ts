import { describe, expect, it } from 'vitest';
import { ERROR_CATALOG, FaceMatchError, toFaceMatchError } from './errors.ts';

describe('FaceMatchError', () => {
  it('takes status and retryability from the catalog', () => {
    const e = new FaceMatchError('NO_FACE', 'no face found in img2', { image: 'img2' });
    expect([e.httpStatus, e.retryable, e.image]).toEqual([422, false, 'img2']);
    expect(JSON.parse(JSON.stringify(e))).toEqual({ code: 'NO_FACE', message: 'no face found in img2', image: 'img2' });
  });

  it('keeps input errors 4xx and non-retryable', () => {
    for (const code of ['INVALID_BASE64', 'INVALID_DATA_URI', 'UNSUPPORTED_FORMAT', 'IMAGE_TOO_LARGE', 'IMAGE_DECODE_FAILED', 'NO_FACE'] as const) {
      expect(ERROR_CATALOG[code].httpStatus).toBeGreaterThanOrEqual(400);
      expect(ERROR_CATALOG[code].httpStatus).toBeLessThan(500);
      expect(ERROR_CATALOG[code].retryable).toBe(false);
    }
  });

  it('wraps unknown throws as INTERNAL without exposing them', () => {
    const e = toFaceMatchError(new Error('secret detail'));
    expect(e.code).toBe('INTERNAL');
    expect(JSON.stringify(e)).not.toContain('secret');
    expect((e.cause as Error).message).toBe('secret detail');
  });
});
