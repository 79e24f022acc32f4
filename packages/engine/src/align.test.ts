import { describe, expect, it } from 'vitest';
import { ALIGN_INDICES, applySimilarity, chipTemplate, fitSimilarity, warpSimilarity, type RgbImage, type Similarity } from './align.ts';

describe('fitSimilarity', () => {
  it('recovers a known rotation, scale and shift exactly', () => {
    const truth = { a: 2 * Math.cos(0.3), b: 2 * Math.sin(0.3), tx: 40, ty: -7 };
    const from = chipTemplate();
    const to = from.map((p) => applySimilarity(truth, p));
    const fit = fitSimilarity(from, to);
    for (const k of ['a', 'b', 'tx', 'ty'] as const) expect(fit[k]).toBeCloseTo(truth[k], 9);
  });

  it('uses dlib’s 33 alignment landmarks', () => {
    expect(ALIGN_INDICES).toHaveLength(33);
    expect(ALIGN_INDICES).not.toContain(17); // brows
    expect(ALIGN_INDICES).not.toContain(57); // lower lip
  });
});

describe('warpSimilarity', () => {
  const src = { width: 4, height: 2, data: Uint8Array.from({ length: 24 }, (_, i) => i * 10) };

  it('copies pixels under the identity', () => {
    expect([...warpSimilarity(src, { a: 1, b: 0, tx: 0, ty: 0 }, 4, 2)]).toEqual([...src.data]);
  });

  it('fills outside the source with grey', () => {
    expect([...warpSimilarity(src, { a: 1, b: 0, tx: 100, ty: 0 }, 1, 1)]).toEqual([128, 128, 128]);
  });

  it('averages when shrinking instead of skipping pixels', () => {
    const out = warpSimilarity(src, { a: 2, b: 0, tx: 0.5, ty: 0.5 }, 2, 1);
    // each output pixel is the mean of a 2x2 block
    const mean = (idx: number[]) => idx.reduce((s, i) => s + src.data[i]!, 0) / idx.length;
    expect(out[0]).toBeCloseTo(mean([0, 3, 12, 15]), 5);
  });

  // The warp as it was before its in-bounds fast path: every tap checked, one channel at a time.
  function perTap(img: RgbImage, t: Similarity, outW: number, outH: number, fill = 128): Float32Array {
    const out = new Float32Array(outW * outH * 3);
    const k = Math.max(1, Math.min(4, Math.ceil(Math.hypot(t.a, t.b) - 0.25)));
    const { data, width: W, height: H } = img;
    const at = (x: number, y: number, c: number) => (x >= 0 && y >= 0 && x < W && y < H ? data[(y * W + x) * 3 + c]! : fill);
    for (let oy = 0; oy < outH; oy++) {
      for (let ox = 0; ox < outW; ox++) {
        const sum = [0, 0, 0];
        for (let sy = 0; sy < k; sy++) {
          for (let sx = 0; sx < k; sx++) {
            const cx = ox + (sx + 0.5) / k - 0.5;
            const cy = oy + (sy + 0.5) / k - 0.5;
            const x = t.a * cx - t.b * cy + t.tx;
            const y = t.b * cx + t.a * cy + t.ty;
            const x0 = Math.floor(x), y0 = Math.floor(y);
            const dx = x - x0, dy = y - y0;
            for (let c = 0; c < 3; c++) {
              sum[c]! += (at(x0, y0, c) * (1 - dx) + at(x0 + 1, y0, c) * dx) * (1 - dy) + (at(x0, y0 + 1, c) * (1 - dx) + at(x0 + 1, y0 + 1, c) * dx) * dy;
            }
          }
        }
        for (let c = 0; c < 3; c++) out[(oy * outW + ox) * 3 + c] = sum[c]! * (1 / (k * k));
      }
    }
    return out;
  }

  it('gives bit-identical pixels to the per-tap form, inside the source, across its edges and outside it', () => {
    let seed = 7;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const img: RgbImage = { width: 61, height: 47, data: Uint8Array.from({ length: 61 * 47 * 3 }, () => Math.floor(rand() * 256)) };
    const inside = (t: Similarity, w: number, h: number) =>
      [applySimilarity(t, { x: -1, y: -1 }), applySimilarity(t, { x: w, y: -1 }), applySimilarity(t, { x: -1, y: h }), applySimilarity(t, { x: w, y: h })].every((p) => p.x > 1 && p.y > 1 && p.x < 59 && p.y < 45);
    let fastPath = 0;
    for (let i = 0; i < 80; i++) {
      // Scales from 0.3 (upsampling, k = 1) to 5 (k = 4), any rotation; every other chip centred in the
      // source (all its samples on the fast path), the rest anywhere, across the edges or outside.
      const scale = 0.3 + rand() * 4.7;
      const angle = (rand() - 0.5) * Math.PI;
      const [w, h] = i % 2 ? [5 + Math.floor(rand() * 20), 5 + Math.floor(rand() * 20)] : [4 + Math.floor(rand() * 5), 4 + Math.floor(rand() * 5)];
      const a = scale * Math.cos(angle), b = scale * Math.sin(angle);
      const centred = { a, b, tx: 30 - (a * w - b * h) / 2, ty: 23 - (b * w + a * h) / 2 };
      const t = i % 2 ? { a, b, tx: (rand() - 0.3) * 70, ty: (rand() - 0.3) * 55 } : centred;
      const fast = warpSimilarity(img, t, w, h);
      const slow = perTap(img, t, w, h);
      expect(Buffer.from(fast.buffer).equals(Buffer.from(slow.buffer))).toBe(true);
      if (inside(t, w, h)) fastPath++;
    }
    expect(fastPath).toBeGreaterThan(10); // chips wholly on the fast path, beside those across the edges
  });
});

