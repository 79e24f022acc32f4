import type { Point } from '../nets.ts';

/** The landmark net's square input side; the graph's `landmarks` output is [N, 136]. */
const SIDE = 112;
const POINTS = 68;

/**
 * The 68 points of crop `index` in the landmark graph's output, relative to the crop (0..1): what
 * face-api's detectLandmarks(...).relativePositions returns for a square 112 input.
 *
 * FaceLandmark68NetBase.postProcess does `(out * inputSize - padding) / inputDimension` in float32;
 * for a square input at the net's size the padding is 0 and both sides are 112, so this is only a
 * rounding step, reproduced with Math.fround. FaceLandmarks then scales by the image size and
 * relativePositions divides it back out, in double.
 */
export function landmarkPositions(output: Float32Array, index: number): Point[] {
  const base = index * POINTS * 2;
  if (output.length < base + POINTS * 2) throw new Error(`landmarks: output has ${output.length} values, crop ${index} needs ${base + POINTS * 2}`);
  const post = (v: number) => Math.fround(Math.fround(Math.fround(v * SIDE) - 0) / SIDE);
  const points: Point[] = [];
  for (let i = 0; i < POINTS; i++) {
    const x = post(output[base + 2 * i]!) * SIDE;
    const y = post(output[base + 2 * i + 1]!) * SIDE;
    points.push({ x: x / SIDE, y: y / SIDE });
  }
  return points;
}
