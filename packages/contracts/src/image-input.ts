import { Buffer } from 'node:buffer';
import { FaceMatchError, type ImageLabel } from './errors.ts';
import { readImageHeader, type ImageFormat } from './image-header.ts';

/** What callers may send as an image: a data URI, bare base64, or the bytes themselves. */
export type ImageInput = string | Buffer | Uint8Array;

/**
 * A data URI or base64 string held as the bytes of its characters, as the ingress cuts it out of a
 * request body: decoding from bytes in chunks never builds a 300 KB JS string (see json-body.ts).
 */
export interface EncodedImage {
  encoded: Buffer;
}

export type { ImageFormat };

// A multiple of 4 characters, and under V8's 128 KB limit for strings in the regular heap.
const CHUNK = 48 * 1024;

/**
 * Strict base64: standard alphabet, no whitespace, padding only at the end, canonical. Node's decoder
 * skips what it does not understand and stops at '=', so anything outside the alphabet comes back
 * short; it also takes the URL-safe alphabet, refused here, and non-zero spare bits in the last
 * quantum, which only the last four characters can hold. The ingress profile put a one-pattern regex
 * at 13% of its CPU and a full re-encode at 5%; this costs the decode the caller needs anyway.
 *
 * The text is held as bytes and decoded a chunk at a time, every chunk in full: a string over 128 KB
 * would land in V8's large-object space (see json-body.ts in the API).
 */
export function decodeStrictBase64Text(text: Buffer): Buffer | undefined {
  const n = text.length;
  if (n % 4 !== 0 || text.indexOf(0x2d) >= 0 || text.indexOf(0x5f) >= 0) return undefined;
  const pad = text[n - 1] !== 0x3d ? 0 : text[n - 2] === 0x3d ? 2 : 1;
  const out = Buffer.allocUnsafe((n / 4) * 3 - pad);
  let written = 0;
  for (let at = 0; at < n; at += CHUNK) {
    const end = Math.min(n, at + CHUNK);
    const part = text.toString('latin1', at, end);
    const expected = end < n ? (CHUNK / 4) * 3 : out.length - written;
    if (out.write(part, written, 'base64') !== expected) return undefined;
    written += expected;
    if (end === n && pad > 0 && out.subarray(out.length - (3 - pad)).toString('base64') !== part.slice(-4)) return undefined;
  }
  return out;
}

/** The same check for a JS string: its UTF-8 bytes, where anything non-ASCII is outside the alphabet. */
export function decodeStrictBase64(s: string): Buffer | undefined {
  return decodeStrictBase64Text(Buffer.from(s, 'utf8'));
}

export function isStrictBase64(s: string): boolean {
  return decodeStrictBase64(s) !== undefined;
}

// Scheme, media type and parameters are case-insensitive (RFC 3986, RFC 2045): DATA:IMAGE/JPEG;BASE64, is one.
const DATA_URI_RE = /^data:([^,;]*)((?:;[^,;]*)*),/i;

/** Turns a data URI, bare base64 or bytes into bytes. The label is only checked for being an image. */
export function toBytes(input: ImageInput | EncodedImage, image: ImageLabel, maxBytes: number): Buffer {
  if (typeof input !== 'string' && !('encoded' in input)) {
    const buf = Buffer.isBuffer(input) ? input : Buffer.from(input.buffer, input.byteOffset, input.byteLength);
    if (buf.length > maxBytes) throw new FaceMatchError('IMAGE_TOO_LARGE', `${image} is ${buf.length} bytes, more than ${maxBytes}`, { image });
    return buf;
  }
  const text = typeof input === 'string' ? input : input.encoded;
  const head = typeof text === 'string' ? text.slice(0, 256) : text.toString('latin1', 0, Math.min(256, text.length));
  let skip = 0;
  if (head.slice(0, 5).toLowerCase() === 'data:') {
    const m = DATA_URI_RE.exec(head);
    if (!m) throw new FaceMatchError('INVALID_DATA_URI', `${image} is not a valid data URI`, { image });
    const mime = (m[1] ?? '').toLowerCase();
    const params = (m[2] ?? '').toLowerCase().split(';').filter(Boolean);
    if (!params.includes('base64')) {
      throw new FaceMatchError('INVALID_DATA_URI', `${image} data URI must be base64-encoded (";base64,")`, { image });
    }
    // The label is not trusted for the format (clients label PNGs as image/jpeg), but it must claim an image.
    if (!mime.startsWith('image/')) {
      throw new FaceMatchError('UNSUPPORTED_FORMAT', `${image} data URI has type "${mime || '(none)'}", not an image`, { image });
    }
    skip = m[0].length;
  }
  const length = text.length - skip;
  // Cheap size check before the decode: base64 is 4 chars per 3 bytes.
  if (Math.floor((length * 3) / 4) > maxBytes) {
    throw new FaceMatchError('IMAGE_TOO_LARGE', `${image} is larger than ${maxBytes} bytes`, { image });
  }
  if (length === 0) throw new FaceMatchError('INVALID_BASE64', `${image} is empty`, { image });
  const bytes = typeof text === 'string' ? decodeStrictBase64(text.slice(skip)) : decodeStrictBase64Text(text.subarray(skip));
  if (!bytes) throw new FaceMatchError('INVALID_BASE64', `${image} is not valid base64`, { image });
  return bytes;
}

/** Names the format from its magic bytes; the label a client sent is never consulted. */
export function sniffFormat(buf: Buffer): ImageFormat | { unsupported: string } {
  const ascii = (from: number, to: number) => buf.subarray(from, to).toString('latin1');
  if (buf.length >= 3 && buf[0] === 0xff && buf[1] === 0xd8 && buf[2] === 0xff) return 'jpeg';
  if (buf.length >= 8 && buf.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))) return 'png';
  if (buf.length >= 12 && ascii(0, 4) === 'RIFF' && ascii(8, 12) === 'WEBP') return 'webp';
  if (ascii(0, 4) === 'GIF8') return { unsupported: 'GIF' };
  if (ascii(0, 5) === '%PDF-') return { unsupported: 'PDF' };
  if (ascii(0, 4) === 'II*\0' || ascii(0, 4) === 'MM\0*') return { unsupported: 'TIFF' };
  if (ascii(4, 8) === 'ftyp') return { unsupported: `ISO-BMFF (${ascii(8, 12).trim() || 'unknown'}, e.g. HEIC/AVIF)` };
  if (ascii(0, 2) === 'BM') return { unsupported: 'BMP' };
  if (/^\s*(<\?xml|<svg)/i.test(ascii(0, 256))) return { unsupported: 'SVG' };
  return { unsupported: 'unknown' };
}

/**
 * The checks the ingress runs before accepting a job, from the bytes and the header alone, without
 * decoding a pixel: format, dimensions (decompression bombs), animation, truncation. The worker decodes
 * fully and checks again; this keeps junk out of the queue and gives the caller its error at once.
 */
export function checkImage(input: ImageInput | EncodedImage, image: ImageLabel, limits: { maxBytes: number; maxPixels: number }): { data: Buffer; format: ImageFormat } {
  const buf = toBytes(input, image, limits.maxBytes);
  if (buf.length === 0) throw new FaceMatchError('IMAGE_DECODE_FAILED', `${image} is empty`, { image });
  const format = sniffFormat(buf);
  if (typeof format !== 'string') {
    throw new FaceMatchError('UNSUPPORTED_FORMAT', `${image} is ${format.unsupported}; only JPEG, PNG and WebP are accepted`, { image });
  }
  const header = readImageHeader(buf, format);
  if (!header || header.width === 0 || header.height === 0) {
    throw new FaceMatchError('IMAGE_DECODE_FAILED', `${image} has an unreadable ${format} header`, { image });
  }
  if (header.width * header.height > limits.maxPixels) {
    throw new FaceMatchError('IMAGE_TOO_LARGE', `${image} is ${header.width}x${header.height} pixels, more than ${limits.maxPixels}`, { image });
  }
  if (header.animated) throw new FaceMatchError('UNSUPPORTED_FORMAT', `${image} is animated; send a single still image`, { image });
  if (!header.complete) throw new FaceMatchError('IMAGE_DECODE_FAILED', `${image} is truncated`, { image });
  return { data: buf, format };
}
