import { z } from './zod.ts';
import { DecisionSchema } from './calibration.ts';

export const BoxSchema = z.object({
  x: z.number(),
  y: z.number(),
  width: z.number(),
  height: z.number(),
});

export const FaceSummarySchema = z.object({
  /** The subject's face, in original-image pixels (after EXIF orientation). */
  box: BoxSchema,
  /** Detector confidence for that face. */
  score: z.number(),
  /** How many faces the detector found in the image. */
  count: z.number().int().nonnegative(),
});

export const WarningCodeSchema = z.enum(['MULTIPLE_FACES', 'FACE_TOO_SMALL']);

export const WarningSchema = z.object({
  code: WarningCodeSchema,
  image: z.enum(['img1', 'img2']),
  message: z.string(),
});

/** The runtime the nets ran on: face-api on a tfjs backend, or the same weights on onnxruntime-node (`onnx`). */
export const BackendSchema = z.enum(['wasm', 'tensorflow', 'cuda', 'onnx', 'cpu']);

export const VerifyResultSchema = z.object({
  /** The seed contract's only field: true exactly when `decision` is `match`. */
  verified: z.boolean(),
  /**
   * `match`; `review`, a distance between the policy's threshold and its review bound, where a person should
   * look before onboarding goes on; or `no_match`. Absent from results recorded before it existed.
   */
  decision: DecisionSchema.optional(),
  /** The operating point decided by (`fmr_1e-3`, ...), or `custom` under FACEMATCH_THRESHOLD. */
  policy: z.string().optional(),
  /** The calibrated false-match rate at this distance: the share of calibration impostor pairs at or under it. */
  fmr: z.number().min(0).max(1).optional(),
  /** Distances above `threshold` up to this are `review`. */
  reviewThreshold: z.number().positive().optional(),
  /** Euclidean distance between the two 128-d descriptors the decision was made on. */
  distance: z.number().nonnegative(),
  /**
   * True when the distance fell near the threshold and was therefore taken between descriptors averaged
   * with those of the faces' mirror images; false when the chips' own descriptors decided clearly.
   * Absent from results recorded before this field existed.
   */
  mirrored: z.boolean().optional(),
  /** 1 at distance 0, 0.5 at the threshold, 0 at twice the threshold. */
  similarity: z.number().min(0).max(1),
  threshold: z.number().positive(),
  model: z.object({
    detector: z.string(),
    recognizer: z.string(),
    backend: BackendSchema,
    version: z.string(),
  }),
  faces: z.object({ img1: FaceSummarySchema, img2: FaceSummarySchema }),
  warnings: z.array(WarningSchema),
  timings: z.object({ decodeMs: z.number().nonnegative(), inferMs: z.number().nonnegative() }),
});

export type Box = z.infer<typeof BoxSchema>;
export type FaceSummary = z.infer<typeof FaceSummarySchema>;
export type Warning = z.infer<typeof WarningSchema>;
export type Backend = z.infer<typeof BackendSchema>;
export type VerifyResult = z.infer<typeof VerifyResultSchema>;
