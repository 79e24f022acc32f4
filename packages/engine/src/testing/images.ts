/** Builders for odd images, used by tests here and in test/. Real photos live in test/fixtures/faces. */
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';

export const FIXTURES_DIR = fileURLToPath(new URL('../../../../test/fixtures/faces/', import.meta.url));

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(buf: Buffer): number {
  let c = 0xffffffff;
  for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([len, body, crc]);
}

/** A few hundred bytes that declare a `width`×`height` PNG: a decompression bomb if anyone decodes it. */
export function pngBomb(width = 20000, height = 20000): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.writeUInt8(8, 8); // bit depth
  ihdr.writeUInt8(2, 9); // truecolour
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', Buffer.from([0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01])),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

export async function solidImage(format: 'jpeg' | 'png' | 'webp' | 'gif' | 'tiff', width = 64, height = 48): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: { r: 200, g: 100, b: 50 } } })
    .toFormat(format)
    .toBuffer();
}

export function dataUri(buf: Buffer, mime = 'image/jpeg'): string {
  return `data:${mime};base64,${buf.toString('base64')}`;
}

/**
 * The same photo stored rotated, with an EXIF tag telling viewers to turn it back upright: what phones write.
 * `orientation` 6 means "rotate 90° clockwise to view", so the pixels are stored turned 90° anticlockwise.
 */
export async function exifRotated(buf: Buffer, orientation: 6 | 8 | 3 = 6): Promise<Buffer> {
  const angle = orientation === 6 ? 270 : orientation === 8 ? 90 : 180;
  return sharp(buf).rotate(angle).withMetadata({ orientation }).jpeg({ quality: 95 }).toBuffer();
}
