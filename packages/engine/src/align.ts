/**
 * Face alignment in plain JS: a least-squares similarity transform from a canonical face to the
 * detected landmarks, and a bilinear warp that samples the aligned chip out of the RGB image.
 * The recognizer is dlib's ResNet, trained on dlib's `get_face_chip_details(shape, 150, 0.25)`
 * chips, so we reproduce that chip: same template points, same padding, same size.
 */

export interface Point {
  x: number;
  y: number;
}

/** Maps output (chip) coordinates to source-image coordinates: x' = a·x − b·y + tx, y' = b·x + a·y + ty. */
export interface Similarity {
  a: number;
  b: number;
  tx: number;
  ty: number;
}

export interface RgbImage {
  data: Uint8Array;
  width: number;
  height: number;
}

// dlib's mean face (points 17..67 of the 68-point iBUG layout, normalised to [0,1]).
const MEAN_X = [
  0.000213256, 0.0752622, 0.18113, 0.29077, 0.393397, 0.586856, 0.689483, 0.799124, 0.904991, 0.98004, 0.490127, 0.490127,
  0.490127, 0.490127, 0.36688, 0.426036, 0.490127, 0.554217, 0.613373, 0.121737, 0.187122, 0.265825, 0.334606, 0.260918,
  0.182743, 0.645647, 0.714428, 0.793132, 0.858516, 0.79751, 0.719335, 0.254149, 0.340985, 0.428858, 0.490127, 0.551395,
  0.639268, 0.726104, 0.642159, 0.556721, 0.490127, 0.423532, 0.338094, 0.290379, 0.428096, 0.490127, 0.552157, 0.689874,
  0.553364, 0.490127, 0.42689,
];
const MEAN_Y = [
  0.106454, 0.038915, 0.0187482, 0.0344891, 0.0773906, 0.0773906, 0.0344891, 0.0187482, 0.038915, 0.106454, 0.203352,
  0.307009, 0.409805, 0.515625, 0.587326, 0.609345, 0.628106, 0.609345, 0.587326, 0.216423, 0.178758, 0.179852, 0.231733,
  0.245099, 0.244077, 0.231733, 0.179852, 0.178758, 0.216423, 0.244077, 0.245099, 0.780233, 0.745405, 0.727388, 0.742578,
  0.727388, 0.745405, 0.780233, 0.864805, 0.902192, 0.909281, 0.902192, 0.864805, 0.784792, 0.778746, 0.785343, 0.778746,
  0.784792, 0.824182, 0.831803, 0.824182,
];

/** Landmark indices dlib uses: nose, eyes and upper mouth; brows and lower lip move too much. */
export const ALIGN_INDICES: readonly number[] = Array.from({ length: 51 }, (_, k) => k + 17).filter(
  (i) => !(i >= 17 && i <= 26) && !(i >= 55 && i <= 59) && !(i >= 65 && i <= 67),
);

export const CHIP_SIZE = 150;
export const CHIP_PADDING = 0.25;

export function chipTemplate(size = CHIP_SIZE, padding = CHIP_PADDING): Point[] {
  return ALIGN_INDICES.map((i) => ({
    x: ((padding + (MEAN_X[i - 17] ?? 0)) / (2 * padding + 1)) * size,
    y: ((padding + (MEAN_Y[i - 17] ?? 0)) / (2 * padding + 1)) * size,
  }));
}

/** Least-squares similarity (rotation, uniform scale, translation) taking `from` onto `to`. */
export function fitSimilarity(from: readonly Point[], to: readonly Point[]): Similarity {
  const n = from.length;
  if (n < 2 || n !== to.length) throw new Error('fitSimilarity needs two equal lists of at least two points');
  let fx = 0, fy = 0, tx = 0, ty = 0;
  for (let i = 0; i < n; i++) {
    fx += from[i]!.x; fy += from[i]!.y; tx += to[i]!.x; ty += to[i]!.y;
  }
  fx /= n; fy /= n; tx /= n; ty /= n;
  let num1 = 0, num2 = 0, den = 0;
  for (let i = 0; i < n; i++) {
    const x = from[i]!.x - fx, y = from[i]!.y - fy;
    const u = to[i]!.x - tx, v = to[i]!.y - ty;
    num1 += x * u + y * v;
    num2 += x * v - y * u;
    den += x * x + y * y;
  }
  const a = num1 / den;
  const b = num2 / den;
  return { a, b, tx: tx - (a * fx - b * fy), ty: ty - (b * fx + a * fy) };
}

export function applySimilarity(t: Similarity, p: Point): Point {
  return { x: t.a * p.x - t.b * p.y + t.tx, y: t.b * p.x + t.a * p.y + t.ty };
}

/**
 * Samples an `outW`×`outH` RGB image whose pixel centres map through `t` into `src`. When one output pixel
 * covers several source pixels, it averages a k×k grid of bilinear samples so large faces do not alias.
 * Outside the source, pixels take `fill` (mid grey, the recognizer's near-zero input).
 *
 * It runs for every face twice (the landmark crop and the chip), up to 16 samples a pixel: a sixth of a
 * worker's CPU on onnx before the fast path. A sample whose four taps are all inside the source reads them
 * without per-tap bounds checks; the arithmetic, and its order, is the edge path's, so the output is
 * bit-identical (align.test.ts checks it against the per-tap form).
 */
export function warpSimilarity(src: RgbImage, t: Similarity, outW: number, outH: number, fill = 128): Float32Array {
  const out = new Float32Array(outW * outH * 3);
  const scale = Math.hypot(t.a, t.b);
  const k = Math.max(1, Math.min(4, Math.ceil(scale - 0.25)));
  const { data, width: W, height: H } = src;
  const inv = 1 / (k * k);
  const offsets = Array.from({ length: k }, (_, s) => (s + 0.5) / k);
  const row = W * 3;
  const { a, b, tx, ty } = t;
  for (let oy = 0; oy < outH; oy++) {
    for (let ox = 0; ox < outW; ox++) {
      let r = 0, g = 0, bl = 0;
      for (let sy = 0; sy < k; sy++) {
        const cy = oy + offsets[sy]! - 0.5;
        for (let sx = 0; sx < k; sx++) {
          const cx = ox + offsets[sx]! - 0.5;
          const x = a * cx - b * cy + tx;
          const y = b * cx + a * cy + ty;
          const x0 = Math.floor(x), y0 = Math.floor(y);
          const dx = x - x0, dy = y - y0;
          const ex = 1 - dx, ey = 1 - dy;
          if (x0 >= 0 && y0 >= 0 && x0 + 1 < W && y0 + 1 < H) {
            const i00 = (y0 * W + x0) * 3, i01 = i00 + row;
            r += (data[i00]! * ex + data[i00 + 3]! * dx) * ey + (data[i01]! * ex + data[i01 + 3]! * dx) * dy;
            g += (data[i00 + 1]! * ex + data[i00 + 4]! * dx) * ey + (data[i01 + 1]! * ex + data[i01 + 4]! * dx) * dy;
            bl += (data[i00 + 2]! * ex + data[i00 + 5]! * dx) * ey + (data[i01 + 2]! * ex + data[i01 + 5]! * dx) * dy;
            continue;
          }
          for (let c = 0; c < 3; c++) {
            const p00 = x0 >= 0 && y0 >= 0 && x0 < W && y0 < H ? data[(y0 * W + x0) * 3 + c]! : fill;
            const p10 = x0 + 1 >= 0 && y0 >= 0 && x0 + 1 < W && y0 < H ? data[(y0 * W + x0 + 1) * 3 + c]! : fill;
            const p01 = x0 >= 0 && y0 + 1 >= 0 && x0 < W && y0 + 1 < H ? data[((y0 + 1) * W + x0) * 3 + c]! : fill;
            const p11 = x0 + 1 >= 0 && y0 + 1 >= 0 && x0 + 1 < W && y0 + 1 < H ? data[((y0 + 1) * W + x0 + 1) * 3 + c]! : fill;
            const v = (p00 * ex + p10 * dx) * ey + (p01 * ex + p11 * dx) * dy;
            if (c === 0) r += v;
            else if (c === 1) g += v;
            else bl += v;
          }
        }
      }
      const o = (oy * outW + ox) * 3;
      out[o] = r * inv;
      out[o + 1] = g * inv;
      out[o + 2] = bl * inv;
    }
  }
  return out;
}
