import sharp, { type Metadata } from 'sharp';
import { FaceMatchError, type ImageLabel } from '@facematch/contracts';

export type ImageInput = string | Buffer | Uint8Array;

export interface DecodeLimits {
  maxPixels: number;
  maxBytes: number;
  /** Longest side of the working copy; larger photos are downscaled before any inference. */
  workMaxSide: number;
}

export interface DecodedImage {
  /** Packed RGB, 3 bytes a pixel, of the working copy (EXIF orientation applied). */
  data: Buffer;
  width: number;
  height: number;
  /** Size of the original, upright image. */
  origWidth: number;
  origHeight: number;
  /** Original pixels per working pixel. */
  scale: number;
  format: 'jpeg' | 'png' | 'webp';
}

// Strict: no whitespace, no URL-safe alphabet, padding only at the end, length a multiple of 4.
const BASE64_RE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const DATA_URI_RE = /^data:([^,;]*)((?:;[^,;]*)*),/;

/** Turns a data URI, bare base64 or bytes into bytes. The label is only checked for being an image. */
export function toBytes(input: ImageInput, image: ImageLabel, maxBytes: number): Buffer {
  if (typeof input !== 'string') {
    const buf = Buffer.isBuffer(input) ? input : Buffer.from(input.buffer, input.byteOffset, input.byteLength);
    if (buf.length > maxBytes) throw new FaceMatchError('IMAGE_TOO_LARGE', `${image} is ${buf.length} bytes, more than ${maxBytes}`, { image });
    return buf;
  }
  let payload = input;
  if (input.startsWith('data:')) {
    const m = DATA_URI_RE.exec(input.slice(0, 256));
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
    payload = input.slice(m[0].length);
  }
  // Cheap size check before the regex and the decode: base64 is 4 chars per 3 bytes.
  if (Math.floor((payload.length * 3) / 4) > maxBytes) {
    throw new FaceMatchError('IMAGE_TOO_LARGE', `${image} is larger than ${maxBytes} bytes`, { image });
  }
  if (payload.length === 0) throw new FaceMatchError('INVALID_BASE64', `${image} is empty`, { image });
  if (!BASE64_RE.test(payload)) throw new FaceMatchError('INVALID_BASE64', `${image} is not valid base64`, { image });
  return Buffer.from(payload, 'base64');
}

/** Names the format from its magic bytes; the label a client sent is never consulted. */
export function sniffFormat(buf: Buffer): 'jpeg' | 'png' | 'webp' | { unsupported: string } {
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

export async function decodeImage(input: ImageInput, image: ImageLabel, limits: DecodeLimits): Promise<DecodedImage> {
  const bytes = toBytes(input, image, limits.maxBytes);
  if (bytes.length === 0) throw new FaceMatchError('IMAGE_DECODE_FAILED', `${image} is empty`, { image });
  const format = sniffFormat(bytes);
  if (typeof format !== 'string') {
    throw new FaceMatchError('UNSUPPORTED_FORMAT', `${image} is ${format.unsupported}; only JPEG, PNG and WebP are accepted`, { image });
  }

  // The header alone gives the dimensions, so a decompression bomb is refused before any pixel is decoded.
  let meta: Metadata;
  try {
    meta = await sharp(bytes, { limitInputPixels: false }).metadata();
  } catch (cause) {
    throw new FaceMatchError('IMAGE_DECODE_FAILED', `${image} could not be read as ${format}`, { image, cause });
  }
  if (meta.format !== format) {
    throw new FaceMatchError('IMAGE_DECODE_FAILED', `${image} looks like ${format} but does not parse as one`, { image });
  }
  if ((meta.pages ?? 1) > 1) {
    throw new FaceMatchError('UNSUPPORTED_FORMAT', `${image} is animated; send a single still image`, { image });
  }
  const w = meta.width ?? 0;
  const h = meta.height ?? 0;
  if (w * h > limits.maxPixels) {
    throw new FaceMatchError('IMAGE_TOO_LARGE', `${image} is ${w}x${h} pixels, more than ${limits.maxPixels}`, { image });
  }
  const upright = (meta.orientation ?? 1) >= 5; // EXIF 5-8 swap width and height
  const origWidth = upright ? h : w;
  const origHeight = upright ? w : h;

  try {
    let pipeline = sharp(bytes, { limitInputPixels: limits.maxPixels, failOn: 'warning' }).rotate();
    if (Math.max(w, h) > limits.workMaxSide) {
      pipeline = pipeline.resize({ width: limits.workMaxSide, height: limits.workMaxSide, fit: 'inside', withoutEnlargement: true });
    }
    const { data, info } = await pipeline
      .removeAlpha()
      .toColourspace('srgb')
      .raw()
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new Error(`unexpected ${info.channels} channels`);
    return { data, width: info.width, height: info.height, origWidth, origHeight, scale: origWidth / info.width, format };
  } catch (cause) {
    throw new FaceMatchError('IMAGE_DECODE_FAILED', `${image} could not be decoded (truncated or corrupt ${format})`, { image, cause });
  }
}

export interface Letterboxed {
  data: Buffer;
  size: number;
  /** Canvas pixels per working pixel, and where the photo's top-left corner sits on the canvas. */
  scaleX: number;
  scaleY: number;
  left: number;
  top: number;
}

/** Scales the photo into a `size`² mid-grey canvas, leaving `margin` of the side empty all round. */
export async function letterbox(img: DecodedImage, size: number, margin: number): Promise<Letterboxed> {
  const k = (size * (1 - 2 * margin)) / Math.max(img.width, img.height);
  const w = Math.max(1, Math.round(img.width * k));
  const h = Math.max(1, Math.round(img.height * k));
  const left = Math.floor((size - w) / 2);
  const top = Math.floor((size - h) / 2);
  const data = await sharp(img.data, { raw: { width: img.width, height: img.height, channels: 3 } })
    .resize(w, h, { fit: 'fill' })
    .extend({ top, bottom: size - h - top, left, right: size - w - left, background: { r: 128, g: 128, b: 128 } })
    .raw()
    .toBuffer();
  return { data, size, scaleX: w / img.width, scaleY: h / img.height, left, top };
}
