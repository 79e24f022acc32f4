/**
 * The part of face-api's SsdMobilenetv1.locateFaces that follows the network: outputLayer.ts (anchor
 * decoding, sigmoid) and nonMaxSuppression.ts, on the raw outputs of models/onnx/ssd.mjs's graph.
 * tfjs computes the decoding in float32, so the arithmetic here rounds to float32 (Math.fround) at
 * each of face-api's steps; the NMS and the box clipping are face-api's double-precision JS.
 */
import type { Detection } from '../nets.ts';

/** The detector's input side: face-api's boxes are relative to it. */
export const SSD_INPUT = 512;

const f = Math.fround;

/**
 * The anchors face-api ships as the `Output/extra_dim` weight, [ymin, xmin, ymax, xmax] relative to the
 * input, regenerated the way the TF Object Detection API made them for this graph: SSD anchors
 * (create_ssd_anchors: 6 layers, scales 0.2..0.95, aspect ratios 1, 2, 0.5, 3, 0.3333, three boxes in
 * the lowest layer, the interpolated scale right after aspect ratio 1) tiled over the 32, 16, 8, 4, 2, 1
 * grids, in float32. TF's vectorised sqrt was not correctly rounded, so some values differ from the
 * weight by an ulp or two (~1e-7 of the input, far below a pixel); ssd.test.ts bounds the difference.
 */
function generateAnchors(): Float32Array {
  const grids = [32, 16, 8, 4, 2, 1];
  const minScale = 0.2;
  const maxScale = 0.95;
  const scales = grids.map((_, i) => minScale + ((maxScale - minScale) * i) / (grids.length - 1));
  scales.push(1.0);
  const out: number[] = [];
  grids.forEach((grid, layer) => {
    const scale = scales[layer]!;
    const next = scales[layer + 1]!;
    const specs: [number, number][] = [];
    if (layer === 0) specs.push([0.1, 1.0], [scale, 2.0], [scale, 0.5]);
    else
      for (const ar of [1.0, 2.0, 0.5, 3.0, 0.3333]) {
        specs.push([scale, ar]);
        if (ar === 1.0) specs.push([Math.sqrt(scale * next), 1.0]);
      }
    // tile_anchors: stride 1/grid, centres offset by half a stride, sizes scale/√ar by scale·√ar.
    const stride = f(1 / grid);
    const offset = f(0.5 * stride);
    const sizes = specs.map(([s, ar]) => {
      const root = f(Math.sqrt(f(ar)));
      return [f(f(s) / root), f(f(s) * root)] as const;
    });
    for (let y = 0; y < grid; y++) {
      const cy = f(f(y * stride) + offset);
      for (let x = 0; x < grid; x++) {
        const cx = f(f(x * stride) + offset);
        for (const [h, w] of sizes) {
          const hh = f(0.5 * h);
          const hw = f(0.5 * w);
          out.push(f(cy - hh), f(cx - hw), f(cy + hh), f(cx + hw));
        }
      }
    }
  });
  return Float32Array.from(out);
}

let cachedAnchors: Float32Array | undefined;
/** face-api's anchors, [ymin, xmin, ymax, xmax] per anchor (5118 of them), made once. */
export function ssdAnchors(): Float32Array {
  return (cachedAnchors ??= generateAnchors());
}

interface Centred {
  cy: Float32Array;
  cx: Float32Array;
  h: Float32Array;
  w: Float32Array;
}
let cachedCentred: Centred | undefined;
/** outputLayer's getCenterCoordinatesAndSizesLayer on the anchors: it does not depend on the image. */
function centred(): Centred {
  if (cachedCentred) return cachedCentred;
  const a = ssdAnchors();
  const n = a.length / 4;
  const c: Centred = { cy: new Float32Array(n), cx: new Float32Array(n), h: new Float32Array(n), w: new Float32Array(n) };
  for (let i = 0; i < n; i++) {
    const [y0, x0, y1, x1] = [a[4 * i]!, a[4 * i + 1]!, a[4 * i + 2]!, a[4 * i + 3]!];
    const h = f(y1 - y0);
    const w = f(x1 - x0);
    c.h[i] = h;
    c.w[i] = w;
    c.cy[i] = f(y0 + f(h / 2));
    c.cx[i] = f(x0 + f(w / 2));
  }
  return (cachedCentred = c);
}

/** outputLayer's decodeBoxesLayer for one anchor: [ymin, xmin, ymax, xmax] relative to the input. */
function decodeBox(enc: Float32Array, i: number): [number, number, number, number] {
  const c = centred();
  const h = c.h[i]!;
  const w = c.w[i]!;
  const div0 = f(f(f(Math.exp(f(enc[4 * i + 2]! / 5))) * h) / 2);
  const add0 = f(f(f(enc[4 * i]! / 10) * h) + c.cy[i]!);
  const div1 = f(f(f(Math.exp(f(enc[4 * i + 3]! / 5))) * w) / 2);
  const add1 = f(f(f(enc[4 * i + 1]! / 10) * w) + c.cx[i]!);
  return [f(add0 - div0), f(add1 - div1), f(add0 + div0), f(add1 + div1)];
}

type Corners = readonly [number, number, number, number];

/** nonMaxSuppression.ts's IOU, on [ymin, xmin, ymax, xmax] boxes. */
function iou(a: Corners, b: Corners): number {
  const yminI = Math.min(a[0], a[2]);
  const xminI = Math.min(a[1], a[3]);
  const ymaxI = Math.max(a[0], a[2]);
  const xmaxI = Math.max(a[1], a[3]);
  const yminJ = Math.min(b[0], b[2]);
  const xminJ = Math.min(b[1], b[3]);
  const ymaxJ = Math.max(b[0], b[2]);
  const xmaxJ = Math.max(b[1], b[3]);
  const areaI = (ymaxI - yminI) * (xmaxI - xminI);
  const areaJ = (ymaxJ - yminJ) * (xmaxJ - xminJ);
  if (areaI <= 0 || areaJ <= 0) return 0.0;
  const inter = Math.max(Math.min(ymaxI, ymaxJ) - Math.max(yminI, yminJ), 0.0) * Math.max(Math.min(xmaxI, xmaxJ) - Math.max(xminI, xminJ), 0.0);
  return inter / (areaI + areaJ - inter);
}

/**
 * nonMaxSuppression.ts: candidates above `scoreThreshold` by falling score (a stable sort, so ties keep
 * anchor order), each kept unless it overlaps a kept one by IoU > `iouThreshold`. Returns the kept
 * candidates' indices into `boxes`/`scores`.
 */
export function nonMaxSuppression(boxes: readonly Corners[], scores: readonly number[], maxOutputSize: number, iouThreshold: number, scoreThreshold: number): number[] {
  const outputSize = Math.min(maxOutputSize, boxes.length);
  const candidates = scores
    .map((score, boxIndex) => ({ score, boxIndex }))
    .filter((c) => c.score > scoreThreshold)
    .sort((c1, c2) => c2.score - c1.score);
  const selected: number[] = [];
  for (const c of candidates) {
    if (selected.length >= outputSize) break;
    const originalScore = c.score;
    for (let j = selected.length - 1; j >= 0; --j) {
      const overlap = iou(boxes[c.boxIndex]!, boxes[selected[j]!]!);
      if (overlap === 0.0) continue;
      c.score *= overlap <= iouThreshold ? 1 : 0;
      if (c.score <= scoreThreshold) break;
    }
    if (originalScore === c.score) selected.push(c.boxIndex);
  }
  return selected;
}

export interface SsdOutputs {
  /** Raw box encodings (ty, tx, th, tw) per anchor: dims [1, anchors, 4]. */
  boxes: { data: Float32Array; dims: readonly number[] };
  /** Raw class logits per anchor, column 1 the face: dims [1, anchors, 3]. */
  scores: { data: Float32Array; dims: readonly number[] };
}

/**
 * face-api's SsdMobilenetv1.locateFaces after forwardInput, for a 512×512 input: the faces scoring above
 * `minScore`, at most `maxResults`, by falling score, boxes clipped to the input and in its pixels.
 * (locateFaces also turns 0 into its defaults, 0.5 and 100: pass the values meant.)
 */
export function ssdDetections(outputs: SsdOutputs, minScore: number, maxResults: number): Detection[] {
  const n = ssdAnchors().length / 4;
  const { boxes, scores } = outputs;
  if (boxes.dims.join() !== `1,${n},4` || scores.dims.join() !== `1,${n},3`) {
    throw new Error(`ssd: expected boxes [1,${n},4] and scores [1,${n},3], got [${boxes.dims.join()}] and [${scores.dims.join()}]`);
  }
  // The sigmoid of the face logit for every anchor (face-api scores them all); boxes only for the
  // candidates, the only ones NMS or the result reads.
  const faceScores = new Array<number>(n);
  for (let i = 0; i < n; i++) faceScores[i] = f(1 / (1 + Math.exp(-scores.data[3 * i + 1]!)));
  const decoded: Corners[] = new Array<Corners>(n);
  const none: Corners = [0, 0, 0, 0];
  for (let i = 0; i < n; i++) decoded[i] = faceScores[i]! > minScore ? decodeBox(boxes.data, i) : none;

  const out: Detection[] = [];
  for (const idx of nonMaxSuppression(decoded, faceScores, maxResults, 0.5, minScore)) {
    const [ymin, xmin, ymax, xmax] = decoded[idx]!;
    // locateFaces: clip to [0, 1] (padX = padY = 1 for a square input), then Rect, then Box.rescale.
    const top = Math.max(0, ymin);
    const bottom = Math.min(1.0, ymax);
    const left = Math.max(0, xmin);
    const right = Math.min(1.0, xmax);
    // face-api's Rect throws on a box clipped to negative size (one wholly outside the input); skip it.
    if (right - left < 0 || bottom - top < 0) continue;
    out.push({
      score: faceScores[idx]!,
      box: { x: left * SSD_INPUT, y: top * SSD_INPUT, width: (right - left) * SSD_INPUT, height: (bottom - top) * SSD_INPUT },
    });
  }
  return out;
}
