import { isAscii } from 'node:buffer';
import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import getRawBody from 'raw-body';
import { FaceMatchError } from '@facematch/contracts';

/**
 * JSON.parse for a request body whose bulk is a few huge string values (base64 images).
 *
 * The ingress profile put JSON.parse at a fifth of the API's CPU, nearly all of it scanning the two
 * image strings, plus the UTF-8 decode of the whole body into one string. Here the named top-level
 * string values are cut out of the raw bytes (found with memchr-speed `indexOf`) and the small
 * remainder goes through JSON.parse. A cut value is returned as the bytes of its characters, never
 * as a JS string: past 128 KB V8 puts a string in large-object space, where making one costs ten
 * times the per-byte price (340 µs for 230 KB here), and the caller only wants to base64-decode it.
 *
 * In `value` a lifted key holds a placeholder string, so schema validation sees a string there as
 * it would have; the bytes are in `lifted`. Only escape-free ASCII values are lifted, whose JSON
 * reading is their bytes. One difference from JSON.parse remains: a raw control character past the
 * first 256 bytes of a lifted value is kept rather than failing the parse. Image values must be
 * strict base64 after a short data-URI prefix, so such input is still refused, as INVALID_BASE64.
 */
export interface ParsedBody {
  value: unknown;
  lifted: ReadonlyMap<string, Buffer>;
}

const NONCE = `\u0000lift-${randomBytes(8).toString('hex')}-`;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const CHECKED_PREFIX = 256;

export function parseJsonBody(buf: Buffer, liftKeys: ReadonlySet<string>, minLength = 1024): ParsedBody {
  const pieces: string[] = [];
  const lifted: { key: string; placeholder: string; start: number; end: number }[] = [];
  let copyFrom = 0;
  let depth = 0;
  let prev = 0; // last significant byte outside strings
  let key: string | undefined; // the last depth-1 string seen, taken as a key if a ':' follows
  for (let i = 0; i < buf.length; i++) {
    const b = buf[i]!;
    if (b === QUOTE) {
      const end = closingQuote(buf, i + 1);
      if (end < 0) break; // unterminated: JSON.parse below reports it
      if (depth === 1 && prev === 0x3a /* : */ && key !== undefined && liftKeys.has(key) && end - i - 1 >= minLength && liftable(buf, i + 1, end)) {
        const placeholder = `${NONCE}${lifted.length}`;
        pieces.push(buf.toString('utf8', copyFrom, i), JSON.stringify(placeholder));
        lifted.push({ key, placeholder, start: i + 1, end });
        copyFrom = end + 1;
        key = undefined;
      } else if (depth === 1 && prev !== 0x3a) {
        key = end - i - 1 <= 256 ? decodeKey(buf, i, end) : undefined;
      }
      prev = QUOTE;
      i = end;
      continue;
    }
    if (b === 0x7b /* { */ || b === 0x5b /* [ */) depth++;
    else if (b === 0x7d /* } */ || b === 0x5d /* ] */) depth--;
    if (b !== 0x20 && b !== 0x0a && b !== 0x0d && b !== 0x09) prev = b;
  }
  if (lifted.length === 0) return { value: JSON.parse(buf.toString('utf8')) as unknown, lifted: new Map() };
  pieces.push(buf.toString('utf8', copyFrom));
  const value = JSON.parse(pieces.join('')) as Record<string, unknown>;
  const out = new Map<string, Buffer>();
  for (const l of lifted) {
    // A later duplicate key wins in JSON.parse; then the placeholder is gone and the lifted value with it.
    if (value[l.key] === l.placeholder) out.set(l.key, buf.subarray(l.start, l.end));
  }
  return { value, lifted: out };
}

/** Index of the quote that closes a string whose contents start at `from`, or -1. */
function closingQuote(buf: Buffer, from: number): number {
  let q = buf.indexOf(QUOTE, from);
  while (q >= 0) {
    let slashes = 0;
    while (q - 1 - slashes >= from && buf[q - 1 - slashes] === BACKSLASH) slashes++;
    if (slashes % 2 === 0) return q;
    q = buf.indexOf(QUOTE, q + 1);
  }
  return -1;
}

/** Lifting copies bytes as latin1, which equals JSON's reading only for ASCII without escapes or control characters. */
function liftable(buf: Buffer, start: number, end: number): boolean {
  const s = buf.subarray(start, end);
  if (s.indexOf(BACKSLASH) >= 0 || !isAscii(s)) return false;
  const head = s.subarray(0, CHECKED_PREFIX);
  for (const c of head) if (c < 0x20) return false;
  return true;
}

function decodeKey(buf: Buffer, open: number, close: number): string | undefined {
  try {
    return JSON.parse(buf.toString('utf8', open, close + 1)) as string;
  } catch {
    return undefined; // not a valid string: the whole-body JSON.parse fails on it anyway
  }
}

/**
 * How far a compressed body may inflate. JSON around base64 images shrinks by a quarter at most; a
 * 15 KB gzip of zeros inflates 1,000x to 15 MB, which cost the API a third of a second of CPU.
 */
export const MAX_INFLATE_RATIO = 20;

// The callback forms run on libuv's threadpool, off the event loop, and honour maxOutputLength.
const INFLATE = {
  gzip: promisify(zlib.gunzip),
  deflate: promisify(zlib.inflate),
  br: promisify(zlib.brotliDecompress),
};
export type ContentEncoding = keyof typeof INFLATE;

/**
 * Reads a request body as bytes, inflating gzip, deflate or br to at most `maxBytes` and at most
 * MAX_INFLATE_RATIO times its compressed size. raw-body's errors (entity.too.large, request.aborted)
 * pass through as body-parser's did; the app maps them.
 */
export async function readBody(req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  const encoding = (req.headers['content-encoding'] || 'identity').trim().toLowerCase();
  if (encoding !== 'identity' && !Object.hasOwn(INFLATE, encoding)) {
    throw new FaceMatchError('UNSUPPORTED_MEDIA_TYPE', 'Content-Encoding must be gzip, deflate, br or identity');
  }
  // Compressed or not, the bytes on the wire count against the limit; a larger Content-Length is refused unread.
  const body = await getRawBody(req, { length: req.headers['content-length'], limit: maxBytes });
  return encoding === 'identity' ? body : inflateBody(body, encoding as ContentEncoding, maxBytes);
}

export async function inflateBody(compressed: Buffer, encoding: ContentEncoding, maxBytes: number): Promise<Buffer> {
  const byRatio = compressed.length * MAX_INFLATE_RATIO;
  // zlib stops at the first output chunk past the limit, so a bomb costs about the limit, not its size.
  const maxOutputLength = Math.max(1, Math.min(maxBytes, byRatio));
  try {
    return await INFLATE[encoding](compressed, { maxOutputLength });
  } catch (err) {
    if ((err as { code?: unknown }).code === 'ERR_BUFFER_TOO_LARGE') {
      throw new FaceMatchError('BODY_TOO_LARGE', byRatio < maxBytes ? `the body inflates more than ${MAX_INFLATE_RATIO}x` : 'the request body is too large', { cause: err });
    }
    throw new FaceMatchError('INVALID_JSON', `the body is not valid ${encoding}`, { cause: err });
  }
}
