import sharp, { type Metadata } from 'sharp';
import { FaceMatchError, checkImage, type ImageInput, type ImageLabel } from '@facematch/contracts';

export type { ImageInput };

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

export async function decodeImage(input: ImageInput, image: ImageLabel, limits: DecodeLimits): Promise<DecodedImage> {
  const { data: bytes, format } = checkImage(input, image, limits);

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

export interface Region {
  data: Buffer;
  width: number;
  height: number;
  /** A box in working-image pixels, in this region's pixels. */
  toRegion(box: { x: number; y: number; width: number; height: number }): { x: number; y: number; width: number; height: number };
}

/**
 * Full-resolution pixels around a box of the working copy: three times the box's longer side, square,
 * clipped to the photo, so the landmark crop and the chip's padding both fit inside.
 */
export async function decodeRegion(
  input: ImageInput,
  image: ImageLabel,
  limits: DecodeLimits,
  img: DecodedImage,
  box: { x: number; y: number; width: number; height: number },
): Promise<Region> {
  const { data: bytes } = checkImage(input, image, limits);
  const s = img.scale;
  const side = 3 * Math.max(box.width, box.height) * s;
  const cx = (box.x + box.width / 2) * s;
  const cy = (box.y + box.height / 2) * s;
  const left = Math.max(0, Math.floor(cx - side / 2));
  const top = Math.max(0, Math.floor(cy - side / 2));
  const width = Math.max(1, Math.min(img.origWidth, Math.ceil(cx + side / 2)) - left);
  const height = Math.max(1, Math.min(img.origHeight, Math.ceil(cy + side / 2)) - top);
  try {
    const { data, info } = await sharp(bytes, { limitInputPixels: limits.maxPixels, failOn: 'warning' })
      .rotate()
      .extract({ left, top, width, height })
      .removeAlpha()
      .toColourspace('srgb')
      .raw()
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new Error(`unexpected ${info.channels} channels`);
    return {
      data,
      width: info.width,
      height: info.height,
      toRegion: (b) => ({ x: b.x * s - left, y: b.y * s - top, width: b.width * s, height: b.height * s }),
    };
  } catch (cause) {
    throw new FaceMatchError('IMAGE_DECODE_FAILED', `${image} could not be decoded (truncated or corrupt)`, { image, cause });
  }
}
