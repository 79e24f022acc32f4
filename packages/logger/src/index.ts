import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger };

/**
 * Paths that may carry biometric data or credentials. Redaction is the safety net; the code's first
 * defence is never to pass request bodies, images or descriptors to a logger at all.
 */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  'authorization',
  'token',
  'secret',
  'img1',
  'img2',
  'body.img1',
  'body.img2',
  'data.img1',
  'data.img2',
  'descriptor',
  '*.descriptor',
  'webhookSecret',
];

/** Error fields that describe a failure without carrying its payload. */
const ERROR_FIELDS = ['code', 'errno', 'syscall', 'statusCode', 'status'] as const;
const MAX_TEXT = 2000;
const MAX_CAUSES = 4;

export interface SerializedError {
  type: string;
  message: string;
  stack?: string;
  [field: string]: unknown;
}

/**
 * pino's standard serializer copies every enumerable property of an error. ioredis puts the command it
 * ran on its errors (`err.command.args`), so a refused `SET` of an image wrote the whole image to the
 * log as a byte array. Here an error becomes a fixed set of descriptive fields (name, message, stack, a
 * code) and its causes, each cut to a bounded length: whatever a library attaches, it is not logged.
 */
export function serializeError(err: unknown, depth = 0): SerializedError {
  if (!(err instanceof Error)) {
    const text = typeof err === 'string' ? err : Object.prototype.toString.call(err);
    return { type: typeof err, message: text.slice(0, MAX_TEXT) };
  }
  const out: SerializedError = { type: err.name || err.constructor?.name || 'Error', message: String(err.message).slice(0, MAX_TEXT) };
  if (err.stack) out.stack = err.stack.slice(0, MAX_TEXT * 2);
  const fields = err as unknown as Record<string, unknown>;
  for (const f of ERROR_FIELDS) {
    const v = fields[f];
    if (typeof v === 'string' || typeof v === 'number') out[f] = typeof v === 'string' ? v.slice(0, 200) : v;
  }
  // ioredis: the command's name says what failed; its arguments are the data and are never kept.
  const command = fields.command as { name?: unknown } | undefined;
  if (command && typeof command.name === 'string') out.command = command.name.slice(0, 64);
  if (depth < MAX_CAUSES && err.cause !== undefined) out.cause = serializeError(err.cause, depth + 1);
  // AggregateError's `errors`, and ioredis's `previousErrors` on an EXECABORT (each with its own command).
  const nested = Array.isArray(fields.errors) ? fields.errors : Array.isArray(fields.previousErrors) ? fields.previousErrors : undefined;
  if (depth < MAX_CAUSES && nested) out.errors = nested.slice(0, 5).map((e: unknown) => serializeError(e, depth + 1));
  return out;
}

export function createLogger(opts: { name: string; level: string }, destination?: DestinationStream): Logger {
  return pino(
    {
      name: opts.name,
      level: opts.level,
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      // Every error reaches a log line through `err` (pino's errorKey, also used for `log.error(err)`).
      serializers: { err: serializeError },
      base: { pid: process.pid, name: opts.name },
    },
    destination,
  );
}
