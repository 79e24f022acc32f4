import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { FaceMatchError, sniffFormat, toBytes } from '@facematch/contracts';
import { decodeImage } from './decode.ts';
import { FIXTURES_DIR, dataUri, exifRotated, pngBomb, solidImage } from './testing/images.ts';

const limits = { maxPixels: 40_000_000, maxBytes: 10 * 1024 * 1024, workMaxSide: 1024 };

async function codeOf(p: Promise<unknown> | (() => unknown)): Promise<{ code: string; image: string | undefined }> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (err) {
    expect(err).toBeInstanceOf(FaceMatchError);
    const e = err as FaceMatchError;
    return { code: e.code, image: e.image };
  }
  throw new Error('expected a FaceMatchError');
}

describe('toBytes', () => {
  const png = Buffer.from('iVBORw0KGgo=', 'base64');

  it('accepts a data URI, bare base64 and bytes alike', () => {
    expect(toBytes(dataUri(png, 'image/png'), 'img1', 1e6)).toEqual(png);
    expect(toBytes(png.toString('base64'), 'img1', 1e6)).toEqual(png);
    expect(toBytes(png, 'img1', 1e6)).toBe(png);
  });

  it.each([
    ['whitespace inside the payload', 'data:image/jpeg;base64,iVBO Rw0KGgo='],
    ['a newline inside the payload', 'data:image/jpeg;base64,iVBORw0K\nGgo='],
    ['URL-safe characters', 'data:image/jpeg;base64,iVBORw0K_go-'],
    ['a length that is not a multiple of 4', 'data:image/jpeg;base64,iVBORw0KGg'],
    ['padding in the middle', 'data:image/jpeg;base64,iV==Rw0KGgo='],
    ['an empty payload', 'data:image/jpeg;base64,'],
    ['plain text', 'hello world'],
  ])('refuses %s with INVALID_BASE64', async (_, input) => {
    expect(await codeOf(() => toBytes(input, 'img2', 1e6))).toEqual({ code: 'INVALID_BASE64', image: 'img2' });
  });

  it('refuses a data URI that is not base64-encoded', async () => {
    expect((await codeOf(() => toBytes('data:image/jpeg,%FF%D8', 'img1', 1e6))).code).toBe('INVALID_DATA_URI');
  });

  it('refuses a data URI whose type is not an image', async () => {
    expect((await codeOf(() => toBytes(`data:text/plain;base64,${png.toString('base64')}`, 'img1', 1e6))).code).toBe('UNSUPPORTED_FORMAT');
  });

  it('refuses an oversized payload before decoding it', async () => {
    expect((await codeOf(() => toBytes('A'.repeat(4000), 'img1', 1000))).code).toBe('IMAGE_TOO_LARGE');
    expect((await codeOf(() => toBytes(Buffer.alloc(2000), 'img1', 1000))).code).toBe('IMAGE_TOO_LARGE');
  });
});

describe('sniffFormat', () => {
  it('names formats from their bytes', async () => {
    expect(sniffFormat(await solidImage('jpeg'))).toBe('jpeg');
    expect(sniffFormat(await solidImage('png'))).toBe('png');
    expect(sniffFormat(await solidImage('webp'))).toBe('webp');
    expect(sniffFormat(await solidImage('gif'))).toEqual({ unsupported: 'GIF' });
    expect(sniffFormat(await solidImage('tiff'))).toEqual({ unsupported: 'TIFF' });
    expect(sniffFormat(Buffer.from('%PDF-1.7\n'))).toEqual({ unsupported: 'PDF' });
    expect(sniffFormat(Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"/>'))).toEqual({ unsupported: 'SVG' });
    expect(sniffFormat(Buffer.from('\0\0\0\x18ftypheic'))).toMatchObject({ unsupported: expect.stringContaining('heic') });
  });
});

describe('decodeImage', () => {
  it('decodes a PNG labelled image/jpeg, as the seed client sends it', async () => {
    const img = await decodeImage(dataUri(await solidImage('png', 64, 48), 'image/jpeg'), 'img1', limits);
    expect(img).toMatchObject({ format: 'png', width: 64, height: 48, origWidth: 64, origHeight: 48 });
    expect(img.data.length).toBe(64 * 48 * 3);
    expect([...img.data.subarray(0, 3)]).toEqual([200, 100, 50]);
  });

  it('turns greyscale into three channels', async () => {
    const grey = await sharp({ create: { width: 20, height: 10, channels: 3, background: '#808080' } }).greyscale().png().toBuffer();
    const img = await decodeImage(grey, 'img1', limits);
    expect(img.data.length).toBe(20 * 10 * 3);
  });

  it('downscales a large photo to the working size and reports the scale', async () => {
    const img = await decodeImage(await solidImage('jpeg', 3000, 1500), 'img1', limits);
    expect([img.width, img.height, img.origWidth, img.scale]).toEqual([1024, 512, 3000, 3000 / 1024]);
  });

  it('applies EXIF orientation', async () => {
    const upright = readFileSync(join(FIXTURES_DIR, 'person-b-1.jpg'));
    const rotated = await exifRotated(await sharp(upright).resize(120, 80, { fit: 'fill' }).jpeg().toBuffer());
    expect((await sharp(rotated).metadata()).width).toBe(80); // stored sideways
    const img = await decodeImage(rotated, 'img1', limits);
    expect([img.width, img.height]).toEqual([120, 80]);
  });

  it.each([
    ['GIF', () => solidImage('gif')],
    ['TIFF', () => solidImage('tiff')],
    ['SVG', async () => Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>')],
    ['PDF', async () => Buffer.from('%PDF-1.4\n%âãÏÓ\n')],
    ['text posing as an image', async () => Buffer.from('just some text, not an image')],
  ])('refuses %s with UNSUPPORTED_FORMAT', async (_, make) => {
    expect(await codeOf(decodeImage(dataUri(await make()), 'img2', limits))).toEqual({ code: 'UNSUPPORTED_FORMAT', image: 'img2' });
  });

  it('refuses an animated WebP', async () => {
    const [red, blue] = await Promise.all(['#f00', '#00f'].map((c) => sharp({ create: { width: 8, height: 8, channels: 3, background: c } }).png().toBuffer()));
    const anim = await sharp([red!, blue!], { join: { animated: true } }).webp({ loop: 0 }).toBuffer();
    expect((await sharp(anim).metadata()).pages).toBe(2);
    expect((await codeOf(decodeImage(anim, 'img1', limits))).code).toBe('UNSUPPORTED_FORMAT');
  });

  it('refuses a decompression bomb from its header', async () => {
    const bomb = pngBomb(20000, 20000);
    expect(bomb.length).toBeLessThan(100);
    expect(await codeOf(decodeImage(bomb, 'img1', limits))).toEqual({ code: 'IMAGE_TOO_LARGE', image: 'img1' });
  });

  it('refuses a truncated JPEG', async () => {
    const jpeg = readFileSync(join(FIXTURES_DIR, 'person-b-1.jpg'));
    expect((await codeOf(decodeImage(jpeg.subarray(0, jpeg.length / 2), 'img1', limits))).code).toBe('IMAGE_DECODE_FAILED');
  });

  it('refuses zero bytes', async () => {
    expect((await codeOf(decodeImage(Buffer.alloc(0), 'img1', limits))).code).toBe('IMAGE_DECODE_FAILED');
  });
});
