import { ERROR_CATALOG, FaceMatchError, type ErrorBody, type ErrorCode } from '@facematch/contracts';

/** BullMQ keeps only a failure's message; ours carries the error's code, message and image as JSON. */
export function encodeJobError(err: FaceMatchError | ErrorBody['error']): string {
  return JSON.stringify(err instanceof FaceMatchError ? err.toJSON() : err);
}

/** A failure reason this package encoded, or undefined for anything else (BullMQ's own text, other errors). */
export function parseJobError(reason: string | undefined): ErrorBody['error'] | undefined {
  try {
    const parsed = JSON.parse(reason ?? '') as ErrorBody['error'];
    if (parsed && typeof parsed.code === 'string' && parsed.code in ERROR_CATALOG) return parsed;
  } catch {
    // not JSON: not one of ours
  }
  return undefined;
}

/** Ours as encoded; BullMQ's own failures (stalled too often, lock lost) are internal errors. */
export function decodeJobError(reason: string | undefined): ErrorBody['error'] {
  return parseJobError(reason) ?? { code: 'INTERNAL' as ErrorCode, message: 'the job failed on our side' };
}
