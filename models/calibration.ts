/**
 * Decisions by named operating point. It lives with the weights, not in the engine, because the API reads
 * the calibration too (GET /model, and refusing a wrong file at start) and must not load tfjs. The calibration file says, for each point, the distance threshold
 * and the review bound measured on the calibration set; this module reads it, refuses one made for other
 * weights or another pipeline, and turns a pair's distance into `match`, `review` or `no_match`.
 */
import { readFileSync } from 'node:fs';
import {
  CUSTOM_POLICY,
  CalibrationSchema,
  FaceMatchError,
  type Calibration,
  type Decision,
  type ModelBinding,
  type ModelInfo,
  type PolicyName,
  type RecogniserDescriptor,
} from '@facematch/contracts';
import { manifest, weightsSha256 } from '@facematch/models'; // the package's own entry, with its types

/**
 * The engine's preprocessing revision. Distances move when detection, subject choice, alignment or the
 * mirror pass change, so a calibration made before such a change must be redone: bump this with it.
 */
export const PIPELINE_VERSION = '2026-12.confident-subject.full-res-small-faces';
export const RECOGNIZER = 'face_recognition_resnet_128d';

/**
 * What this engine's calibration must be bound to: face-api's weights, or an operator's recogniser
 * (its name and the sha256 of its ONNX file; detection and landmarks still come from face-api's).
 */
export function modelBinding(recogniser?: RecogniserDescriptor): ModelBinding {
  if (recogniser) return { version: `face-api@${manifest.source.version}+${recogniser.name}`, recognizer: recogniser.name, weightsSha256: recogniser.sha256, pipeline: PIPELINE_VERSION };
  return { version: `face-api@${manifest.source.version}`, recognizer: RECOGNIZER, weightsSha256: weightsSha256(), pipeline: PIPELINE_VERSION };
}

/** Reads and checks a calibration file: the schema, and that it belongs to these weights and this pipeline. */
export function loadCalibration(path: string, binding: ModelBinding = modelBinding()): Calibration {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (cause) {
    throw new FaceMatchError('CALIBRATION_INVALID', `calibration ${path} could not be read: ${(cause as Error).message}`, { cause });
  }
  const parsed = CalibrationSchema.safeParse(raw);
  if (!parsed.success) {
    throw new FaceMatchError('CALIBRATION_INVALID', `calibration ${path} is malformed: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  }
  const cal = parsed.data;
  const wrong = (Object.keys(binding) as (keyof ModelBinding)[]).filter((k) => cal.model[k] !== binding[k]);
  if (wrong.length > 0) {
    throw new FaceMatchError(
      'CALIBRATION_INVALID',
      `calibration ${path} belongs to another model (${wrong.map((k) => `${k} ${cal.model[k]}, engine has ${binding[k]}`).join('; ')}); run "facematch calibrate"`,
    );
  }
  return cal;
}

/** What GET /model answers: the weights, the pipeline, and the operating points results are decided by. */
export function modelInfo(
  cal: Calibration,
  opts: { detector: string; defaultPolicy?: PolicyName; thresholdOverride?: number; recogniser?: { descriptor: RecogniserDescriptor; bytes: number } },
): ModelInfo {
  const { impostorCdf: _cdf, ...calibration } = cal;
  const r = opts.recogniser;
  return {
    engine: { version: cal.model.version, pipeline: PIPELINE_VERSION, detector: opts.detector, recognizer: r?.descriptor.name ?? RECOGNIZER },
    ...(r ? { recogniser: { name: r.descriptor.name, licence: r.descriptor.licence, ...(r.descriptor.source ? { source: r.descriptor.source } : {}), distance: r.descriptor.distance, embedding: r.descriptor.embedding } } : {}),
    files: [
      ...manifest.files.map((f) => ({ file: f.file, bytes: f.bytes, sha256: f.sha256 })),
      ...(manifest.graphs ?? []).map((f) => ({ file: f.file, bytes: f.bytes, sha256: f.sha256 })),
      ...(r ? [{ file: r.descriptor.onnx, bytes: r.bytes, sha256: r.descriptor.sha256 }] : []),
    ],
    defaultPolicy: opts.thresholdOverride !== undefined ? CUSTOM_POLICY : (opts.defaultPolicy ?? cal.default),
    ...(opts.thresholdOverride !== undefined ? { thresholdOverride: opts.thresholdOverride } : {}),
    calibration,
  };
}

export interface DecisionPolicy {
  name: PolicyName | typeof CUSTOM_POLICY;
  /** Largest distance decided `match`. */
  threshold: number;
  /** Largest distance decided `review`; equal to `threshold` when the policy has no review band. */
  reviewUpTo: number;
}

/**
 * Where the mirror images are worth their cost: plain distances from `threshold - below` to
 * `reviewUpTo + above`. The mirror moves a distance by -0.038 to +0.076 (plain minus averaged, over the
 * 2,615 scored pairs of dev-pairs and hard-pairs), so outside this window it cannot change a decision;
 * the window adds 0.02-0.03 of margin on each side.
 */
export const MIRROR_WINDOW = { below: 0.06, above: 0.11 } as const;

export function inMirrorWindow(plain: number, p: DecisionPolicy): boolean {
  return plain >= p.threshold - MIRROR_WINDOW.below && plain <= Math.max(p.threshold, p.reviewUpTo) + MIRROR_WINDOW.above;
}

export function decide(distance: number, p: DecisionPolicy): Decision {
  if (distance <= p.threshold) return 'match';
  return distance <= p.reviewUpTo ? 'review' : 'no_match';
}

export class Policies {
  readonly defaultPolicy: DecisionPolicy;
  constructor(
    readonly calibration: Calibration,
    opts: { default?: PolicyName; thresholdOverride?: number } = {},
  ) {
    this.defaultPolicy =
      opts.thresholdOverride !== undefined
        ? { name: CUSTOM_POLICY, threshold: opts.thresholdOverride, reviewUpTo: opts.thresholdOverride }
        : this.named(opts.default ?? calibration.default);
  }

  /** The named point, or the default when the request names none. */
  get(name?: PolicyName): DecisionPolicy {
    return name ? this.named(name) : this.defaultPolicy;
  }

  private named(name: PolicyName): DecisionPolicy {
    const p = this.calibration.policies[name];
    return { name, threshold: p.threshold, reviewUpTo: p.reviewUpTo };
  }

  /** The share of calibration impostor pairs at or under `distance`, read at the next grid point up. */
  fmrAt(distance: number): number {
    const { step, total, counts } = this.calibration.impostorCdf;
    const i = Math.max(0, Math.ceil(distance / step - 1e-9) - 1);
    // Past the last grid point every scored impostor is under it; pairs without a face never match.
    return counts[Math.min(i, counts.length - 1)]! / total;
  }
}
