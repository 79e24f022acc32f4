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

export function createLogger(opts: { name: string; level: string }, destination?: DestinationStream): Logger {
  return pino(
    {
      name: opts.name,
      level: opts.level,
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      base: { pid: process.pid, name: opts.name },
    },
    destination,
  );
}
