import { Buffer } from 'node:buffer';
/** The formats we accept; sniffed from the bytes, never taken from the data URI's label. */
export type ImageFormat = 'jpeg' | 'png' | 'webp';

export interface ImageHeader {
  width: number;
  height: number;
  animated: boolean;
  /** False when the data visibly stops short (a JPEG without its end-of-image marker). */
  complete: boolean;
}

/**
 * Reads dimensions and animation from the header alone, in plain JS, so the ingress can refuse bombs,
 * animations and truncated files without decoding a pixel or enqueueing a job. Undefined: unreadable.
 */
export function readImageHeader(buf: Buffer, format: ImageFormat): ImageHeader | undefined {
  try {
    if (format === 'png') return png(buf);
    if (format === 'jpeg') return jpeg(buf);
    return webp(buf);
  } catch {
    return undefined; // a header that runs off the end of the buffer
  }
}

function png(buf: Buffer): ImageHeader | undefined {
  if (buf.toString('latin1', 12, 16) !== 'IHDR') return undefined;
  let animated = false;
  // Chunks before the first IDAT: an acTL chunk makes it an animated PNG.
  for (let off = 8; off + 8 <= buf.length; ) {
    const len = buf.readUInt32BE(off);
    const type = buf.toString('latin1', off + 4, off + 8);
    if (type === 'acTL') animated = true;
    if (type === 'IDAT' || type === 'IEND') break;
    off += 12 + len;
  }
  return { width: buf.readUInt32BE(16), height: buf.readUInt32BE(20), animated, complete: true };
}

const SOF = new Set([0xc0, 0xc1, 0xc2, 0xc3, 0xc5, 0xc6, 0xc7, 0xc9, 0xca, 0xcb, 0xcd, 0xce, 0xcf]);

function jpeg(buf: Buffer): ImageHeader | undefined {
  let off = 2;
  let size: { width: number; height: number } | undefined;
  while (off + 4 <= buf.length) {
    if (buf[off] !== 0xff) return undefined;
    const marker = buf[off + 1]!;
    if (marker === 0xff) {
      off++; // fill byte
      continue;
    }
    if (marker === 0xd8 || (marker >= 0xd0 && marker <= 0xd7) || marker === 0x01) {
      off += 2;
      continue;
    }
    const len = buf.readUInt16BE(off + 2);
    if (SOF.has(marker)) size = { height: buf.readUInt16BE(off + 5), width: buf.readUInt16BE(off + 7) };
    if (marker === 0xda) {
      if (!size) return undefined;
      // Entropy-coded data never contains FF D9 (FF is always stuffed), so its absence means truncation.
      return { ...size, animated: false, complete: buf.indexOf(Buffer.from([0xff, 0xd9]), off + 2 + len) >= 0 };
    }
    off += 2 + len;
  }
  return undefined;
}

function webp(buf: Buffer): ImageHeader | undefined {
  const chunk = buf.toString('latin1', 12, 16);
  if (chunk === 'VP8 ') {
    return { width: buf.readUInt16LE(26) & 0x3fff, height: buf.readUInt16LE(28) & 0x3fff, animated: false, complete: true };
  }
  if (chunk === 'VP8L') {
    const b = buf.readUInt32LE(21);
    return { width: (b & 0x3fff) + 1, height: ((b >> 14) & 0x3fff) + 1, animated: false, complete: true };
  }
  if (chunk === 'VP8X') {
    const flags = buf[20]!;
    return { width: buf.readUIntLE(24, 3) + 1, height: buf.readUIntLE(27, 3) + 1, animated: (flags & 0x02) !== 0, complete: true };
  }
  return undefined;
}
