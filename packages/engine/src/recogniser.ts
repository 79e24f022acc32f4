/**
 * What the engine needs of a recogniser: the chip it wants (size, where the face sits) and how its
 * embeddings compare. face-api's ResNet is the default; an operator's ONNX model comes with a
 * descriptor (contracts' RecogniserDescriptorSchema, read by @facematch/models/recogniser).
 */
import type { RecogniserDescriptor } from '@facematch/contracts';
import { RECOGNIZER } from '@facematch/models/calibration';
import type { LoadedRecogniser } from '@facematch/models/recogniser';
import { ALIGN_INDICES, CHIP_SIZE, chipTemplate, type Point } from './align.ts';
import type { RecogniserGraph } from './onnx/nets.ts';

export interface Recogniser {
  name: string;
  chipSize: number;
  /** Chip-pixel positions of the points `pick` takes from the 68 landmarks. */
  template: Point[];
  pick(landmarks: readonly Point[]): Point[];
  /** The mirror pass's window was measured for face-api's ResNet only; others compare their chips alone. */
  mirror: boolean;
  /** The ONNX graph and its feed, for a plugged recogniser; undefined for the runtime's own. */
  graph?: RecogniserGraph;
  descriptor?: RecogniserDescriptor;
}

export function euclidean(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) {
    const d = a[i]! - b[i]!;
    s += d * d;
  }
  return Math.sqrt(s);
}

/** The landmark net speaks in continuous coordinates; the warp in pixel indices. */
const toPixel = (p: Point): Point => ({ x: p.x - 0.5, y: p.y - 0.5 });
const mean = (ps: readonly Point[], from: number, to: number): Point => {
  let x = 0, y = 0;
  for (let i = from; i <= to; i++) {
    x += ps[i]!.x;
    y += ps[i]!.y;
  }
  return { x: x / (to - from + 1), y: y / (to - from + 1) };
};

const pickDlib = (landmarks: readonly Point[]) => ALIGN_INDICES.map((i) => toPixel(landmarks[i]!));
/** Eye centres (image left first: the subject's right eye, 36-41), nose tip (30), mouth corners (48, 54). */
const pickFive = (l: readonly Point[]) => [mean(l, 36, 41), mean(l, 42, 47), l[30]!, l[48]!, l[54]!].map(toPixel);

export const FACE_API_RESNET: Recogniser = { name: RECOGNIZER, chipSize: CHIP_SIZE, template: chipTemplate(), pick: pickDlib, mirror: true };

/** An operator's recogniser from its verified descriptor and ONNX bytes. */
export function pluggedRecogniser(r: LoadedRecogniser): Recogniser {
  const d = r.descriptor;
  const size = d.input.size;
  const five = d.alignment === 'dlib' ? undefined : d.alignment.five;
  return {
    name: d.name,
    chipSize: size,
    template: five ? five.map(([x, y]) => ({ x, y })) : chipTemplate(size),
    pick: five ? pickFive : pickDlib,
    mirror: false,
    descriptor: d,
    graph: { bytes: r.bytes, feed: (chips) => feedChips(chips, d), ...(d.distance === 'cosine' ? { post: unitLength } : {}) },
  };
}

/**
 * `cosine` models are compared as unit vectors, by Euclidean distance: sqrt(2 - 2·cos), monotone in the
 * cosine, so one distance serves the engine, the calibration and the evaluation alike.
 */
export function unitLength(v: Float32Array): Float32Array {
  let n = 0;
  for (const x of v) n += x * x;
  const k = n > 0 ? 1 / Math.sqrt(n) : 0;
  return v.map((x) => x * k);
}

/** RGB 0..255 HWC chips into the model's layout, colour order and scaling. */
export function feedChips(chips: Float32Array[], d: RecogniserDescriptor): { data: Float32Array; dims: number[] } {
  const s = d.input.size;
  const plane = s * s;
  const data = new Float32Array(chips.length * plane * 3);
  const order = d.input.colour === 'rgb' ? [0, 1, 2] : [2, 1, 0];
  chips.forEach((chip, n) => {
    const base = n * plane * 3;
    for (let c = 0; c < 3; c++) {
      const src = order[c]!;
      const m = d.input.mean[c]!;
      const k = d.input.scale[c]!;
      for (let p = 0; p < plane; p++) {
        const v = (chip[p * 3 + src]! - m) * k;
        data[d.input.layout === 'nchw' ? base + c * plane + p : base + p * 3 + c] = v;
      }
    }
  });
  return { data, dims: d.input.layout === 'nchw' ? [chips.length, 3, s, s] : [chips.length, s, s, 3] };
}
