/**
 * The part of face-api's TinyFaceDetector.locateFaces that follows the network, on the raw `grid` of
 * models/onnx/tiny.mjs's graph: TinyYolov2Base.extractBoxes (sigmoid and anchor decoding, score
 * threshold), detect's nonMaxSuppression (ops/nonMaxSuppression.ts, IoU 0.4) and the box round trips
 * of ObjectDetection/FaceDetection. face-api does all of this in double-precision JS on the float32
 * outputs, so it is copied operation for operation, rounding included.
 */
import type { Detection } from '../nets.ts';

/** tinyFaceDetector/const.ts: anchor sizes in grid cells, (width, height). */
const BOX_ANCHORS: readonly (readonly [number, number])[] = [
  [1.603231, 2.094468],
  [6.041143, 7.080126],
  [2.882459, 3.518061],
  [4.266906, 5.178857],
  [9.041765, 10.66308],
];
/** tinyFaceDetector/const.ts */
export const TINY_IOU_THRESHOLD = 0.4;
/** One class ('face'), so no class scores: tx, ty, tw, th, score logit per anchor. */
const ENCODING = 5;
const STRIDE = 32;

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

interface Candidate {
  x: number;
  y: number;
  width: number;
  height: number;
  score: number;
}

/**
 * Faces in a size×size input from the graph's grid [1, size/32, size/32, 25], as
 * nets.tinyFaceDetector.locateFaces(input, { inputSize: size, scoreThreshold: minScore }) returns
 * them: boxes in input pixels, by falling score after suppression.
 */
export function tinyDetections(grid: Float32Array, dims: readonly number[], inputSize: number, minScore: number): Detection[] {
  // TinyYolov2Options' checks (it would also turn a minScore of 0 into 0.5; refuse that instead).
  if (inputSize % STRIDE !== 0) throw new Error(`tiny: inputSize ${inputSize} is not a multiple of ${STRIDE}`);
  if (!(minScore > 0 && minScore < 1)) throw new Error(`tiny: minScore ${minScore} is not between 0 and 1`);
  const cells = inputSize / STRIDE;
  const width = BOX_ANCHORS.length * ENCODING;
  if (dims.length !== 4 || dims[0] !== 1 || dims[1] !== cells || dims[2] !== cells || dims[3] !== width || grid.length !== cells * cells * width) {
    throw new Error(`tiny: expected grid [1, ${cells}, ${cells}, ${width}] for input ${inputSize}, got [${dims.join(', ')}]`);
  }

  // extractBoxes: the input is square, so both correction factors are 1 (multiplying by 1 is exact
  // and left out). Boxes are relative to the input.
  const found: Candidate[] = [];
  for (let row = 0; row < cells; row++) {
    for (let col = 0; col < cells; col++) {
      for (let anchor = 0; anchor < BOX_ANCHORS.length; anchor++) {
        const at = ((row * cells + col) * BOX_ANCHORS.length + anchor) * ENCODING;
        const score = sigmoid(grid[at + 4]!);
        if (!(score > minScore)) continue;
        const [aw, ah] = BOX_ANCHORS[anchor]!;
        const ctX = (col + sigmoid(grid[at]!)) / cells;
        const ctY = (row + sigmoid(grid[at + 1]!)) / cells;
        const widthLocal = (Math.exp(grid[at + 2]!) * aw) / cells;
        const heightLocal = (Math.exp(grid[at + 3]!) * ah) / cells;
        const x = ctX - widthLocal / 2;
        const y = ctY - heightLocal / 2;
        // new BoundingBox(x, y, x + widthLocal, y + heightLocal) stores right - left as the width.
        found.push({ x, y, width: x + widthLocal - x, height: y + heightLocal - y, score });
      }
    }
  }

  // detect: NMS on the boxes rescaled to input pixels.
  const scaled = found.map((b) => ({ x: b.x * inputSize, y: b.y * inputSize, width: b.width * inputSize, height: b.height * inputSize }));
  const picked = nonMaxSuppression(
    scaled,
    found.map((b) => b.score),
    TINY_IOU_THRESHOLD,
  );

  // ObjectDetection rescales the relative box by the image dims; FaceDetection (locateFaces) takes its
  // relativeBox (rescaled by 1 / dims) and rescales it back: two extra roundings, kept.
  const inverse = 1 / inputSize;
  const round = (v: number) => v * inputSize * inverse * inputSize;
  return picked.map((i) => {
    const b = found[i]!;
    return { score: b.score, box: { x: round(b.x), y: round(b.y), width: round(b.width), height: round(b.height) } };
  });
}

type Rect = { x: number; y: number; width: number; height: number };

/** ops/iou.ts (isIOU = true), with Box's right = x + width and area = width × height. */
function iou(a: Rect, b: Rect): number {
  const w = Math.max(0.0, Math.min(a.x + a.width, b.x + b.width) - Math.max(a.x, b.x));
  const h = Math.max(0.0, Math.min(a.y + a.height, b.y + b.height) - Math.max(a.y, b.y));
  const inter = w * h;
  return inter / (a.width * a.height + b.width * b.height - inter);
}

/**
 * ops/nonMaxSuppression.ts: a stable ascending sort, popping the best from the end (so of equal
 * scores the later box goes first), dropping the rest that overlap it by more than the threshold.
 */
function nonMaxSuppression(boxes: Rect[], scores: number[], iouThreshold: number): number[] {
  let order = scores
    .map((score, boxIndex) => ({ score, boxIndex }))
    .sort((c1, c2) => c1.score - c2.score)
    .map((c) => c.boxIndex);
  const pick: number[] = [];
  while (order.length > 0) {
    const curr = order.pop()!;
    pick.push(curr);
    const currBox = boxes[curr]!;
    order = order.filter((idx) => iou(currBox, boxes[idx]!) <= iouThreshold);
  }
  return pick;
}

/** The graph's feed for a size×size RGB image (the letterboxed bytes): data for [1, size, size, 3]. */
export function tinyInput(rgb: Uint8Array, size: number): Float32Array {
  if (rgb.length !== size * size * 3) throw new Error(`tiny: expected ${size}×${size}×3 bytes, got ${rgb.length}`);
  return Float32Array.from(rgb);
}
