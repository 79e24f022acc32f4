import { ERROR_CATALOG, FaceMatchError, type ErrorBody, type ErrorCode } from '@facematch/contracts';

/** BullMQ keeps only a failure's message; ours carries the error's code, message and image as JSON. */
export function encodeJobError(err: FaceMatchError | ErrorBody['error']): string {
  return JSON.stringify(err instanceof FaceMatchError ? err.toJSON() : err);
}

/** A failure reason this package encoded (as opposed to BullMQ's own text, or any other error). */
export function isOurs(reason: string): boolean {
  try {
    const parsed = JSON.parse(reason) as { code?: unknown };
    return typeof parsed?.code === 'string' && parsed.code in ERROR_CATALOG;
  } catch {
    return false;
  }
}

export function decodeJobError(reason: string | undefined): ErrorBody['error'] {
  try {
    const parsed = JSON.parse(reason ?? '') as ErrorBody['error'];
    if (parsed && typeof parsed.code === 'string' && parsed.code in ERROR_CATALOG) return parsed;
  } catch {
    // not one of ours: BullMQ's own failures (stalled too often, lock lost) are internal errors
  }
  return { code: 'INTERNAL' as ErrorCode, message: 'the job failed on our side' };
}
