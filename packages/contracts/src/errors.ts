/**
 * Every error a client can see has a stable `code`. The catalog fixes its HTTP status and whether a
 * retry can help, so the API, the workers and the CLI cannot disagree about the same failure.
 */
export const ERROR_CATALOG = {
  // Input: the caller must change the request.
  INVALID_BASE64: { httpStatus: 400, retryable: false },
  INVALID_DATA_URI: { httpStatus: 400, retryable: false },
  UNSUPPORTED_FORMAT: { httpStatus: 400, retryable: false },
  IMAGE_TOO_LARGE: { httpStatus: 413, retryable: false },
  IMAGE_DECODE_FAILED: { httpStatus: 400, retryable: false },
  // Engine outcomes for a valid image: a result the caller acts on, not a fault.
  NO_FACE: { httpStatus: 422, retryable: false },
  // HTTP requests.
  BAD_REQUEST: { httpStatus: 400, retryable: false },
  INVALID_JSON: { httpStatus: 400, retryable: false },
  INVALID_BODY: { httpStatus: 400, retryable: false },
  BODY_TOO_LARGE: { httpStatus: 413, retryable: false },
  /** The request line and headers passed Node's maxHeaderSize (16 KB). */
  HEADERS_TOO_LARGE: { httpStatus: 431, retryable: false },
  /** The request did not arrive within REQUEST_TIMEOUT_MS (or its headers within HEADERS_TIMEOUT_MS). */
  REQUEST_TIMEOUT: { httpStatus: 408, retryable: true },
  UNSUPPORTED_MEDIA_TYPE: { httpStatus: 415, retryable: false },
  NOT_FOUND: { httpStatus: 404, retryable: false },
  JOB_ACTIVE: { httpStatus: 409, retryable: true },
  IDEMPOTENCY_KEY_REUSED: { httpStatus: 409, retryable: false },
  WEBHOOK_URL_INVALID: { httpStatus: 400, retryable: false },
  WEBHOOK_NOT_CONFIGURED: { httpStatus: 400, retryable: false },
  // Authentication.
  TOKEN_MISSING: { httpStatus: 401, retryable: false },
  TOKEN_INVALID: { httpStatus: 401, retryable: false },
  TOKEN_EXPIRED: { httpStatus: 401, retryable: false },
  UNKNOWN_API_KEY: { httpStatus: 401, retryable: false },
  // Faults on our side.
  MODELS_INVALID: { httpStatus: 500, retryable: false },
  /** The calibration file is unreadable, malformed, or made for other weights or another pipeline. */
  CALIBRATION_INVALID: { httpStatus: 500, retryable: false },
  QUEUE_UNAVAILABLE: { httpStatus: 503, retryable: true },
  /** More jobs are waiting than MAX_QUEUE_DEPTH: back off and retry. */
  QUEUE_FULL: { httpStatus: 503, retryable: true },
  /** This tenant sent more than RATE_LIMIT_PER_MIN requests this minute. */
  RATE_LIMITED: { httpStatus: 429, retryable: true },
  /** The job's images expired from Redis before a worker took it. */
  IMAGES_EXPIRED: { httpStatus: 410, retryable: false },
  // Not retryable: a bug does not go away on a retry, and a client told to retry a 500 only repeats it.
  INTERNAL: { httpStatus: 500, retryable: false },
} as const satisfies Record<string, { httpStatus: number; retryable: boolean }>;

export type ErrorCode = keyof typeof ERROR_CATALOG;
export type ImageLabel = 'img1' | 'img2';

export class FaceMatchError extends Error {
  override readonly name = 'FaceMatchError';
  readonly code: ErrorCode;
  readonly httpStatus: number;
  readonly retryable: boolean;
  /** Which input the error is about, when it is about one. */
  readonly image: ImageLabel | undefined;
  /** When a retry may succeed, in seconds (sent as Retry-After). */
  readonly retryAfterS: number | undefined;

  constructor(code: ErrorCode, message: string, opts: { image?: ImageLabel; cause?: unknown; retryAfterS?: number } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.code = code;
    this.httpStatus = ERROR_CATALOG[code].httpStatus;
    this.retryable = ERROR_CATALOG[code].retryable;
    this.image = opts.image;
    this.retryAfterS = opts.retryAfterS;
  }

  /** The client-facing body: never a stack, never a cause. */
  toJSON(): { code: ErrorCode; message: string; image?: ImageLabel } {
    return this.image ? { code: this.code, message: this.message, image: this.image } : { code: this.code, message: this.message };
  }
}

export function isFaceMatchError(err: unknown): err is FaceMatchError {
  return err instanceof FaceMatchError;
}

/** Wraps anything thrown into a FaceMatchError, keeping the original as `cause` for logs. */
export function toFaceMatchError(err: unknown): FaceMatchError {
  if (isFaceMatchError(err)) return err;
  return new FaceMatchError('INTERNAL', 'internal error', { cause: err });
}
