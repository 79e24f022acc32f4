import { z } from './zod.ts';

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

export const BackendSchema = z.enum(['wasm', 'tensorflow', 'cuda', 'cpu']);

export const VerifyResultSchema = z.object({
  /** The seed contract's only field: same person or not. */
  verified: z.boolean(),
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
