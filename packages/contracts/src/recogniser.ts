import { z } from './zod.ts';

const triple = z.tuple([z.number(), z.number(), z.number()]);

/**
 * A recogniser an operator brings: an ONNX embedding model and what it expects. The engine aligns a
 * chip to `alignment`, feeds it as `input` says, and compares embeddings by `distance`; calibrating it
 * (`facematch calibrate` with FACEMATCH_RECOGNISER set) writes operating points bound to its sha256.
 * The default recogniser is face-api's ResNet and needs no descriptor.
 */
export const RecogniserDescriptorSchema = z.object({
  schema: z.literal(1),
  /** Names the recogniser in results, GET /model and the calibration (e.g. `sface_2021dec`). */
  name: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/),
  /** The ONNX file, relative to the descriptor. */
  onnx: z.string().min(1),
  /** sha256 of the ONNX file: the engine refuses any other bytes. */
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  /** The model's licence and origin, shown by GET /model: the operator's record that it may be used. */
  licence: z.string().min(1),
  source: z.string().optional(),
  input: z.object({
    /** Square chip side in pixels (112 for ArcFace-class models and SFace). */
    size: z.number().int().min(16).max(512),
    layout: z.enum(['nchw', 'nhwc']),
    colour: z.enum(['rgb', 'bgr']),
    /** Each channel (in the model's colour order) is fed as (pixel - mean) * scale, pixels 0..255. */
    mean: triple,
    scale: triple,
  }),
  /**
   * Where the face goes in the chip: `dlib` is face-api's 68-point template (scaled to `size`); five
   * points are chip pixels of the eye centres (image left, then right), nose tip and mouth corners,
   * as in ArcFace's template (38.29,51.70) (73.53,51.50) (56.03,71.74) (41.55,92.37) (70.73,92.20).
   */
  alignment: z.union([z.literal('dlib'), z.object({ five: z.array(z.tuple([z.number(), z.number()])).length(5) })]),
  /** Embedding length the model outputs. */
  embedding: z.number().int().positive().max(4096),
  /**
   * `cosine`: embeddings are made unit length and compared by L2, sqrt(2 - 2·cos) (0..2, monotone in the
   * cosine); `euclidean`: L2 between the raw embeddings.
   */
  distance: z.enum(['cosine', 'euclidean']),
  /** The calibration file for this recogniser, relative to the descriptor (FACEMATCH_CALIBRATION overrides it). */
  calibration: z.string().optional(),
});
export type RecogniserDescriptor = z.infer<typeof RecogniserDescriptorSchema>;
