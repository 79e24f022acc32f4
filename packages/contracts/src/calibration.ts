import { z } from './zod.ts';

/**
 * The named operating points: each is the distance threshold at which the stated share of calibration
 * impostor (different-person) pairs is decided `match`. Ordered loosest first.
 */
export const POLICY_NAMES = ['fmr_1e-2', 'fmr_1e-3', 'fmr_1e-4'] as const;
export const PolicyNameSchema = z.enum(POLICY_NAMES).describe('A named operating point; the operator sets the default (FACEMATCH_POLICY)');
export type PolicyName = z.infer<typeof PolicyNameSchema>;
/** The policy of an engine run with FACEMATCH_THRESHOLD, an expert override outside the calibrated points. */
export const CUSTOM_POLICY = 'custom';

/** The three-way decision: `review` lies between the policy's threshold and its documented looser bound. */
export const DecisionSchema = z.enum(['match', 'review', 'no_match']);
export type Decision = z.infer<typeof DecisionSchema>;

const Ci95Schema = z.tuple([z.number().min(0).max(1), z.number().min(0).max(1)]);

export const CalibratedPointSchema = z.object({
  /** The FMR the point is named for. */
  target: z.number().positive(),
  /** Largest distance decided `match`. */
  threshold: z.number().positive(),
  /** Where `review` ends: distances above it are `no_match`. */
  reviewUpTo: z.number().positive(),
  /** Measured on the calibration set at `threshold`, with 95% Clopper-Pearson intervals. */
  fmr: z.number().min(0).max(1),
  fmrCi95: Ci95Schema,
  fnmr: z.number().min(0).max(1),
  fnmrCi95: Ci95Schema,
  /** Share of calibration genuine pairs that would land in review. */
  genuineReview: z.number().min(0).max(1),
});
export type CalibratedPoint = z.infer<typeof CalibratedPointSchema>;

/** What the calibration belongs to: the engine refuses a file made for other weights or another pipeline. */
export const ModelBindingSchema = z.object({
  /** The face-api release the weights come from. */
  version: z.string(),
  recognizer: z.string(),
  /** sha256 over the model manifest's file names and hashes, in order. */
  weightsSha256: z.string().regex(/^[0-9a-f]{64}$/),
  /** The engine's preprocessing revision (detection, subject, alignment, mirror): distances move when it does. */
  pipeline: z.string(),
});
export type ModelBinding = z.infer<typeof ModelBindingSchema>;

export const CalibrationSchema = z.object({
  schema: z.literal(1),
  model: ModelBindingSchema,
  /** The photos it was measured on, named so a reader can reproduce it. */
  set: z.object({
    sets: z.array(z.string()).min(1),
    /** sha256 of the sorted `identity/file` list. */
    filesSha256: z.string().regex(/^[0-9a-f]{64}$/),
    images: z.number().int().nonnegative(),
    identities: z.number().int().nonnegative(),
    failedToAcquire: z.number().int().nonnegative(),
    genuinePairs: z.number().int().nonnegative(),
    impostorPairs: z.number().int().nonnegative(),
  }),
  /** The command that wrote this file. */
  command: z.string(),
  default: PolicyNameSchema,
  /** The review band of every point reaches the distance at which this share of calibration impostors passes. */
  reviewFmr: z.number().positive(),
  policies: z.object(Object.fromEntries(POLICY_NAMES.map((n) => [n, CalibratedPointSchema])) as Record<PolicyName, typeof CalibratedPointSchema>),
  /**
   * Cumulative impostor counts: counts[i] calibration impostor pairs lie at distance <= (i + 1) * step.
   * A result's `fmr` reads it at the next grid point at or above its distance.
   */
  impostorCdf: z.object({
    step: z.number().positive(),
    total: z.number().int().positive(),
    counts: z.array(z.number().int().nonnegative()),
  }),
});
export type Calibration = z.infer<typeof CalibrationSchema>;

export const ModelInfoSchema = z.object({
  /** Each result names the backend that computed it (workers may differ: GPU and CPU machines). */
  engine: z.object({ version: z.string(), pipeline: z.string(), detector: z.string(), recognizer: z.string() }),
  /** Set when an operator's recogniser replaces face-api's (FACEMATCH_RECOGNISER). */
  recogniser: z.object({ name: z.string(), licence: z.string(), source: z.string().optional(), distance: z.enum(['cosine', 'euclidean']), embedding: z.number().int() }).optional(),
  files: z.array(z.object({ file: z.string(), bytes: z.number().int(), sha256: z.string() })),
  /** The policy this service decides by when a request names none. */
  defaultPolicy: z.string(),
  /** Set when FACEMATCH_THRESHOLD overrides the calibrated points. */
  thresholdOverride: z.number().optional(),
  calibration: CalibrationSchema.omit({ impostorCdf: true }),
});
export type ModelInfo = z.infer<typeof ModelInfoSchema>;
