import { performance } from 'node:perf_hooks';
import type * as TF from '@tensorflow/tfjs';
import {
  FaceMatchError,
  type Backend,
  type Box,
  type Calibration,
  type ImageLabel,
  type PolicyName,
  type VerifyResult,
  type Warning,
} from '@facematch/contracts';
import { calibrationPath, defaultModelsDir } from '@facematch/models';
import { Policies, decide, inMirrorWindow, loadCalibration, modelBinding, type DecisionPolicy } from '@facematch/models/calibration';
import { loadRecogniser } from '@facematch/models/recogniser';
import { CHIP_SIZE, fitSimilarity, warpSimilarity, type Point, type RgbImage } from './align.ts';
import { openRuntime, type BackendRequest, type LoadedBackend, type OnnxSettings, type OpenedRuntime } from './backend.ts';
import { MicroBatcher } from './batcher.ts';
import { decodeImage, decodeRegion, letterbox, type DecodeLimits, type DecodedImage, type ImageInput } from './decode.ts';
import type { RuntimeNets } from './nets.ts';
import { FACE_API_RESNET, euclidean, pluggedRecogniser, type Recogniser } from './recogniser.ts';

export { euclidean };

export type DetectorName = 'auto' | 'tiny' | 'ssd';

/** face-api's documented default for its own pipeline. */
export const REFERENCE_THRESHOLD = 0.6;
/** Faces narrower than this, in original pixels, carry too little detail for a reliable match. */
export const MIN_FACE_PX = 48;

export interface EngineOptions {
  backend?: BackendRequest;
  modelsDir?: string;
  detector?: DetectorName;
  /** Expert override of the default policy's threshold (FACEMATCH_THRESHOLD): decided as policy `custom`. */
  threshold?: number;
  /** The policy requests get when they name none; unset means the calibration's default. */
  policy?: PolicyName;
  /**
   * The operating points: a file path, a parsed file, or `false` for an engine that only embeds
   * (`facematch calibrate`, which writes the file). Unset means the one shipped with the models.
   */
  calibration?: string | Calibration | false;
  maxPixels?: number;
  maxBytes?: number;
  /** Where the engine reports what it loaded; never receives image data. */
  log?: (msg: string, fields?: Record<string, unknown>) => void;
  /** Detector tuning; the defaults are the measured best (see docs/accuracy.md). */
  detection?: Partial<DetectionTuning>;
  /** Which detection is the subject; `confident` unless measuring the alternatives. */
  subject?: SubjectRule;
  alignment?: Partial<AlignmentTuning>;
  /**
   * Micro-batching of the recognition net across concurrent verifications. Unset: on (8 chips, 5 ms)
   * for the native backends, off for WASM, where measurement showed no gain.
   */
  batch?: { size: number; windowMs: number };
  /** onnxruntime settings (threads per session, execution providers); the defaults are 1 thread, CPU. */
  onnx?: Partial<OnnxSettings>;
  /**
   * An operator's recogniser descriptor file (FACEMATCH_RECOGNISER) instead of face-api's ResNet: runs on
   * the onnx runtime, and needs a calibration made for it (the descriptor's, or `calibration`).
   */
  recogniser?: string;
}

export interface AlignmentTuning {
  /**
   * Near the threshold, decide on the average of each chip's descriptor and its mirror image's.
   * Measured on dev-pairs: accuracy at the default threshold 0.960 without the mirror, 0.980 with it.
   * (Re-cropping on the first landmarks and other landmark crop sizes were measured too, and gained nothing.)
   */
  flip: boolean;
  /** Landmarks and chip of a small face in a downscaled photo from the original's pixels (FULL_RES_BELOW_PX). */
  fullResSmallFaces: boolean;
}

const DEFAULT_ALIGNMENT: AlignmentTuning = { flip: true, fullResSmallFaces: true };

/**
 * How the subject is chosen among the detections.
 * - `largest`: the largest box (the rule before issue 13). A large, low-scoring box on a shirt beat the real
 *   80 px face of a stage photo under it.
 * - `confident`: the largest box among those scored at least SUBJECT_SCORE_RATIO of the best score, so a
 *   weak box cannot beat a confident face, while among confident faces the nearest (largest) still wins.
 * - `score`: the highest-scoring box.
 * Measured on the calibration folds (docs/accuracy.md); `confident` is the default.
 */
export type SubjectRule = 'largest' | 'confident' | 'score';
export const SUBJECT_SCORE_RATIO = 0.8;

/**
 * Below this width in working pixels the aligned 150 px chip would be upsampled from the 1024 px working
 * copy; when the photo was downscaled, landmarks and chip come from the full-resolution original instead.
 */
export const FULL_RES_BELOW_PX = CHIP_SIZE;

/**
 * The environment's engine settings, as the config package's engine schema parses them (its EngineEnv
 * has this shape, and the callers pass it): named here so the engine does not depend on the config package.
 */
export interface EngineEnvSettings {
  TF_BACKEND: BackendRequest;
  MODELS_DIR?: string | undefined;
  FACE_DETECTOR: DetectorName;
  FACEMATCH_THRESHOLD?: number | undefined;
  FACEMATCH_POLICY?: PolicyName | undefined;
  FACEMATCH_CALIBRATION?: string | undefined;
  MAX_IMAGE_PIXELS: number;
  MAX_IMAGE_BYTES: number;
  BATCH_SIZE?: number | undefined;
  BATCH_WINDOW_MS: number;
  ONNX_THREADS: number;
  ONNX_PROVIDERS: string[];
  FACEMATCH_RECOGNISER?: string | undefined;
}

/** The engine's options from the environment's settings. */
export function engineOptionsFromEnv(env: EngineEnvSettings, log?: EngineOptions['log']): EngineOptions {
  return {
    backend: env.TF_BACKEND,
    modelsDir: env.MODELS_DIR,
    detector: env.FACE_DETECTOR,
    threshold: env.FACEMATCH_THRESHOLD,
    policy: env.FACEMATCH_POLICY,
    calibration: env.FACEMATCH_CALIBRATION,
    maxPixels: env.MAX_IMAGE_PIXELS,
    maxBytes: env.MAX_IMAGE_BYTES,
    ...(env.BATCH_SIZE ? { batch: { size: env.BATCH_SIZE, windowMs: env.BATCH_WINDOW_MS } } : {}),
    onnx: { threads: env.ONNX_THREADS, providers: env.ONNX_PROVIDERS },
    recogniser: env.FACEMATCH_RECOGNISER,
    log,
  };
}

export interface DetectionPass {
  net: 'tiny' | 'ssd';
  /** Square input side of the detector (SSD always runs at 512). */
  size: number;
  /** Grey border, as a fraction of the canvas on each side, around the letterboxed photo. */
  margin: number;
  /** Only for working images at least this long: SSD upscaling a small photo invents faces in it. */
  minLongSide?: number;
}

export interface DetectionTuning {
  /** Tried in order until one finds a face: cheap passes first, expensive ones only for hard photos. */
  passes: DetectionPass[];
  minScore: number;
}

/**
 * Measured on ../shared/datasets (docs/engine.md, "Why face-api misses tight crops"): a 224 px tiny pass with a 30% border finds tight
 * crops and most photos; 256/416 px passes without border find smaller faces; SSD is the last resort
 * for very small faces in large photos.
 */
const DEFAULT_TUNING: Record<DetectorName, DetectionTuning> = {
  auto: {
    passes: [
      { net: 'tiny', size: 224, margin: 0.3 },
      { net: 'tiny', size: 256, margin: 0 },
      { net: 'tiny', size: 416, margin: 0 },
      { net: 'ssd', size: 512, margin: 0, minLongSide: 640 },
    ],
    minScore: 0.4,
  },
  tiny: {
    passes: [
      { net: 'tiny', size: 224, margin: 0.3 },
      { net: 'tiny', size: 256, margin: 0 },
      { net: 'tiny', size: 416, margin: 0 },
    ],
    minScore: 0.4,
  },
  ssd: {
    passes: [
      { net: 'ssd', size: 512, margin: 0.3 },
      { net: 'ssd', size: 512, margin: 0 },
    ],
    minScore: 0.4,
  },
};

export interface FaceEmbedding {
  /** The aligned chip's descriptor. */
  descriptor: Float32Array;
  /** The chip's mirror image's descriptor, computed on the first call (only pairs near the threshold need it). */
  mirrored: () => Promise<Float32Array>;
  box: Box;
  score: number;
  count: number;
  warnings: Warning[];
  decodeMs: number;
  inferMs: number;
}

/** What a pair's distance needs of each face. */
export type Described = Pick<FaceEmbedding, 'descriptor' | 'mirrored'>;

interface Detection {
  box: Box; // working-image pixels
  score: number;
}

export const LANDMARK_INPUT = 112;

export class FaceEngine {
  readonly backend: Backend;
  /** Undefined for an embed-only engine (`calibration: false`). */
  readonly policies: Policies | undefined;
  readonly detector: DetectorName;
  readonly version: string;
  /** Why this runtime was chosen (the startup log names it). */
  readonly backendReason: string;
  private readonly nets: RuntimeNets;
  /** The tfjs side of a tfjs runtime; undefined on onnx. */
  private readonly tfjs: LoadedBackend | undefined;
  private readonly limits: DecodeLimits;
  readonly recogniser: Recogniser;
  private readonly tuning: DetectionTuning;
  private readonly alignment: AlignmentTuning;
  readonly subjectRule: SubjectRule;
  private readonly detectorLabel: string;
  private readonly batcher: MicroBatcher<Float32Array, Float32Array> | undefined;
  /** Verifications worth running at once in this process: the batch size, or 1 without batching. */
  readonly batchSize: number;

  private constructor(
    b: OpenedRuntime,
    opts: Required<Pick<EngineOptions, 'detector' | 'maxPixels' | 'maxBytes'>> & Pick<EngineOptions, 'detection' | 'alignment' | 'batch' | 'subject'>,
    policies: Policies | undefined,
    recogniser: Recogniser,
    version: string,
  ) {
    this.recogniser = recogniser;
    this.backend = b.backend;
    this.backendReason = b.reason;
    this.nets = b.nets;
    this.tfjs = b.tfjs;
    this.detector = opts.detector;
    this.tuning = { ...DEFAULT_TUNING[opts.detector], ...opts.detection };
    this.alignment = { ...DEFAULT_ALIGNMENT, ...opts.alignment };
    this.subjectRule = opts.subject ?? 'confident';
    const nets = [...new Set(this.tuning.passes.map((p) => (p.net === 'tiny' ? 'tiny_face_detector' : 'ssd_mobilenetv1')))];
    this.detectorLabel = nets.join('+');
    // Batching pays where a forward pass has fixed costs to share (a GPU, libtensorflow's threads); on one
    // WASM or onnxruntime thread a batch of 8 takes 8 times as long, so it only adds waiting.
    const batch = opts.batch ?? (b.backend === 'wasm' || b.backend === 'onnx' ? undefined : { size: 8, windowMs: 5 });
    this.batcher = batch && batch.size > 1 ? new MicroBatcher((chips) => this.descriptors(chips), batch.size, batch.windowMs) : undefined;
    this.batchSize = this.batcher ? batch!.size : 1;
    this.policies = policies;
    this.version = version;
    this.limits = { maxPixels: opts.maxPixels, maxBytes: opts.maxBytes, workMaxSide: 1024 };
  }

  /** Opens the runtime on the checksum-verified weights (and graphs) once, then warms every net up. */
  static async create(opts: EngineOptions = {}): Promise<FaceEngine> {
    // The calibration is checked before the backend loads: a file for other weights fails fast.
    const plugged = opts.recogniser ? loadRecogniser(opts.recogniser) : undefined;
    const recogniser = plugged ? pluggedRecogniser(plugged) : FACE_API_RESNET;
    const binding = modelBinding(plugged?.descriptor);
    const calPath = opts.calibration ?? plugged?.calibrationPath ?? (plugged ? undefined : calibrationPath);
    if (calPath === undefined) {
      throw new FaceMatchError('CALIBRATION_INVALID', `recogniser ${recogniser.name} has no calibration: run "facematch calibrate" with FACEMATCH_RECOGNISER set, and name the file in the descriptor or FACEMATCH_CALIBRATION`);
    }
    const cal = calPath === false ? undefined : typeof calPath === 'object' ? calPath : loadCalibration(calPath, binding);
    const policies = cal ? new Policies(cal, { default: opts.policy, thresholdOverride: opts.threshold }) : undefined;
    const modelsDir = opts.modelsDir ?? defaultModelsDir;
    const b = await openRuntime(opts.backend ?? 'auto', { modelsDir, onnx: { threads: opts.onnx?.threads ?? 1, providers: opts.onnx?.providers ?? ['cpu'] }, recogniser: recogniser.graph });
    const engine = new FaceEngine(b, {
      detector: opts.detector ?? 'auto',
      maxPixels: opts.maxPixels ?? 40_000_000,
      maxBytes: opts.maxBytes ?? 10 * 1024 * 1024,
      detection: opts.detection,
      alignment: opts.alignment,
      batch: opts.batch,
      subject: opts.subject,
    }, policies, recogniser, binding.version);
    await engine.warmUp();
    opts.log?.('face engine ready', {
      backend: b.backend,
      backendReason: b.reason,
      ...(b.backend === 'onnx' ? { onnxThreads: opts.onnx?.threads ?? 1, onnxProviders: opts.onnx?.providers ?? ['cpu'] } : {}),
      detector: engine.detector,
      policy: policies?.defaultPolicy.name,
      threshold: policies?.defaultPolicy.threshold,
      batchSize: engine.batchSize,
      recogniser: recogniser.name,
      modelsDir,
    });
    return engine;
  }

  /** The first call of each net compiles kernels and allocates; pay that before reporting ready. */
  private async warmUp(): Promise<void> {
    const before = this.nets.allocations();
    const grey = (n: number) => new Uint8Array(n * n * 3).fill(128);
    await this.nets.tinyFaces(grey(416), 416, 0.5);
    if (this.tuning.passes.some((p) => p.net === 'ssd')) await this.nets.ssdFaces(grey(512), 0.5, 10);
    await this.nets.landmarks(new Float32Array(LANDMARK_INPUT * LANDMARK_INPUT * 3).fill(128));
    const chip = this.recogniser.chipSize;
    await this.nets.descriptors([new Float32Array(chip * chip * 3).fill(128)]);
    if (this.nets.allocations() !== before) throw new Error(`warm-up leaked ${this.nets.allocations() - before} ${this.backend} allocations`);
  }

  /**
   * The loaded runtime, for the engine's own measuring tools (yardsticks.ts: face-api's reference pipeline,
   * FLOP counts). Nothing on the request path uses it.
   */
  runtime(): { tf: typeof TF; faceapi: LoadedBackend['faceapi']; kernels: LoadedBackend['kernels']; limits: DecodeLimits } {
    if (!this.tfjs) throw new FaceMatchError('INTERNAL', `the ${this.backend} runtime has no tfjs side; the yardsticks run on a tfjs backend`);
    return { tf: this.tfjs.tf, faceapi: this.tfjs.faceapi, kernels: this.tfjs.kernels, limits: this.limits };
  }

  /** The calibrated policies; throws for an embed-only engine. */
  private requirePolicies(): Policies {
    if (!this.policies) throw new FaceMatchError('CALIBRATION_INVALID', 'this engine was created without a calibration and can only embed');
    return this.policies;
  }

  /** The policy a request gets: the one it names, or the default. */
  policy(name?: PolicyName): DecisionPolicy {
    return this.requirePolicies().get(name);
  }

  /** The default policy's threshold. */
  get threshold(): number {
    return this.policy().threshold;
  }

  async verify(img1: ImageInput, img2: ImageInput, policyName?: PolicyName): Promise<VerifyResult> {
    const policy = this.policy(policyName);
    const a = await this.embed(img1, 'img1');
    const b = await this.embed(img2, 'img2');
    const t0 = performance.now();
    const { distance, mirrored } = await this.pairDistance(a, b, policy);
    return this.result(a, b, distance, mirrored, policy, performance.now() - t0);
  }

  /**
   * The distance the decision is made on: the chips' own, or, when that falls in the policy's mirror
   * window, the distance between the averages of each chip's and its mirror's descriptors.
   */
  async pairDistance(a: Described, b: Described, policy: DecisionPolicy = this.policy()): Promise<{ distance: number; mirrored: boolean }> {
    const plain = euclidean(a.descriptor, b.descriptor);
    if (!this.alignment.flip || !this.recogniser.mirror || !inMirrorWindow(plain, policy)) return { distance: plain, mirrored: false };
    const [ma, mb] = await Promise.all([a.mirrored(), b.mirrored()]);
    return { distance: euclidean(average(a.descriptor, ma), average(b.descriptor, mb)), mirrored: true };
  }

  private result(a: FaceEmbedding, b: FaceEmbedding, distance: number, mirrored: boolean, policy: DecisionPolicy, mirrorMs: number): VerifyResult {
    const decision = decide(distance, policy);
    return {
      verified: decision === 'match',
      decision,
      policy: policy.name,
      fmr: round(this.requirePolicies().fmrAt(distance), 8),
      distance: round(distance, 6),
      mirrored,
      similarity: round(Math.max(0, Math.min(1, 1 - distance / (2 * policy.threshold))), 6),
      threshold: policy.threshold,
      reviewThreshold: policy.reviewUpTo,
      model: {
        detector: this.detectorLabel,
        recognizer: this.recogniser.name,
        backend: this.backend,
        version: this.version,
      },
      faces: {
        img1: { box: a.box, score: a.score, count: a.count },
        img2: { box: b.box, score: b.score, count: b.count },
      },
      warnings: [...a.warnings, ...b.warnings],
      timings: { decodeMs: round(a.decodeMs + b.decodeMs, 1), inferMs: round(a.inferMs + b.inferMs + mirrorMs, 1) },
    };
  }

  /**
   * Decodes one image and returns the descriptor of its subject's face, or throws NO_FACE. A change here
   * that moves distances must bump PIPELINE_VERSION (models/calibration.ts) and recalibrate: the shipped
   * calibration is bound to it.
   */
  async embed(input: ImageInput, image: ImageLabel): Promise<FaceEmbedding> {
    const t0 = performance.now();
    const img = await decodeImage(input, image, this.limits);
    const t1 = performance.now();
    const faces = await this.detect(img);
    const subject = chooseSubject(faces, this.subjectRule);
    if (!subject) throw new FaceMatchError('NO_FACE', `no face found in ${image}`, { image });

    // A small face in a downscaled photo: the landmarks and the chip come from the original's pixels.
    const full = this.alignment.fullResSmallFaces && img.scale > 1.05 && subject.box.width < FULL_RES_BELOW_PX ? await decodeRegion(input, image, this.limits, img, subject.box) : undefined;
    const src: RgbImage = full ?? img;
    const box = full ? full.toRegion(subject.box) : subject.box;
    const landmarks = await this.landmarks(src, box);
    const { template, pick, chipSize } = this.recogniser;
    const chip = warpSimilarity(src, fitSimilarity(template, pick(landmarks)), chipSize, chipSize);
    const [descriptor] = await this.describe([chip]);
    const t2 = performance.now();
    let mirror: Promise<Float32Array> | undefined;
    // A recogniser without the mirror pass is its own mirror: averaging changes nothing, nothing runs.
    const mirrored = this.recogniser.mirror ? () => (mirror ??= this.describe([flipped(chip, chipSize)]).then(([d]) => d!)) : () => Promise.resolve(descriptor!);

    const origBox = toOriginal(subject.box, img);
    const warnings: Warning[] = [];
    if (faces.length > 1) {
      warnings.push({ code: 'MULTIPLE_FACES', image, message: `${faces.length} faces in ${image}; the largest confident one was compared` });
    }
    if (origBox.width < MIN_FACE_PX) {
      warnings.push({ code: 'FACE_TOO_SMALL', image, message: `face in ${image} is ${Math.round(origBox.width)} px wide; ${MIN_FACE_PX}+ is reliable` });
    }
    return { descriptor: descriptor!, mirrored, box: origBox, score: round(subject.score, 4), count: faces.length, warnings, decodeMs: t1 - t0, inferMs: t2 - t1 };
  }

  /**
   * Detectors are trained on faces with context around them: when a face fills the frame (ID-photo crops,
   * close selfies) they miss it. Letterboxing the photo onto a grey canvas gives that context back.
   */
  private async detect(img: DecodedImage): Promise<Detection[]> {
    for (const pass of this.tuning.passes) {
      if (Math.max(img.width, img.height) < (pass.minLongSide ?? 0)) continue;
      const found = await this.detectOnce(img, pass);
      if (found.length > 0) return found;
    }
    return [];
  }

  private async detectOnce(img: DecodedImage, pass: DetectionPass): Promise<Detection[]> {
    const { minScore } = this.tuning;
    const size = pass.net === 'ssd' ? 512 : pass.size;
    const lb = await letterbox(img, size, pass.margin);
    const found = pass.net === 'tiny' ? await this.nets.tinyFaces(lb.data, size, minScore) : await this.nets.ssdFaces(lb.data, minScore, 10);
    return found.map((d) => ({
      score: d.score,
      box: { x: (d.box.x - lb.left) / lb.scaleX, y: (d.box.y - lb.top) / lb.scaleY, width: d.box.width / lb.scaleX, height: d.box.height / lb.scaleY },
    }));
  }

  /** 68 landmarks from a square crop around the detector box, in working-image coordinates. */
  private async landmarks(img: RgbImage, box: Box): Promise<Point[]> {
    const { crop, toImage } = landmarkCrop(img, box);
    return toImage(await this.nets.landmarks(crop));
  }

  private describe(chips: Float32Array[]): Promise<Float32Array[]> {
    return this.batcher ? this.batcher.submit(chips) : this.descriptors(chips);
  }

  /** One forward pass of the recognition net over any number of chips. */
  private descriptors(chips: Float32Array[]): Promise<Float32Array[]> {
    return this.nets.descriptors(chips);
  }

  /** What the runtime holds that a leak would grow (tfjs tensors, onnx output buffers): flat between jobs. */
  numTensors(): number {
    return this.nets.allocations();
  }
}

function average(a: Float32Array, b: Float32Array): Float32Array {
  return a.map((v, i) => (v + b[i]!) / 2);
}

/**
 * The landmark net's input: a square around the box, resampled to LANDMARK_INPUT, and the map from the
 * net's relative points back to the image.
 */
export function landmarkCrop(img: RgbImage, box: Box): { crop: Float32Array; toImage: (relative: Point[]) => Point[] } {
  const side = Math.max(box.width, box.height);
  const s = side / LANDMARK_INPUT;
  const x0 = box.x + box.width / 2 - side / 2;
  const y0 = box.y + box.height / 2 - side / 2;
  const crop = warpSimilarity(img, { a: s, b: 0, tx: x0 + s / 2 - 0.5, ty: y0 + s / 2 - 0.5 }, LANDMARK_INPUT, LANDMARK_INPUT);
  return { crop, toImage: (relative) => relative.map((p) => ({ x: x0 + p.x * side, y: y0 + p.y * side })) };
}

/** The chip flipped left to right. */
export function flipped(chip: Float32Array, size: number): Float32Array {
  const out = new Float32Array(chip.length);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const from = (y * size + x) * 3;
      const to = (y * size + (size - 1 - x)) * 3;
      out[to] = chip[from]!;
      out[to + 1] = chip[from + 1]!;
      out[to + 2] = chip[from + 2]!;
    }
  }
  return out;
}

function area(b: Box): number {
  return b.width * b.height;
}

export function chooseSubject<D extends { box: Box; score: number }>(faces: readonly D[], rule: SubjectRule): D | undefined {
  if (faces.length === 0) return undefined;
  const top = Math.max(...faces.map((f) => f.score));
  const pool = rule === 'largest' ? faces : rule === 'score' ? faces.filter((f) => f.score === top) : faces.filter((f) => f.score >= SUBJECT_SCORE_RATIO * top);
  return pool.reduce((best, f) => (area(f.box) > area(best.box) ? f : best));
}

function toOriginal(b: Box, img: DecodedImage): Box {
  const s = img.scale;
  const x = Math.max(0, b.x * s);
  const y = Math.max(0, b.y * s);
  return {
    x: round(x, 1),
    y: round(y, 1),
    width: round(Math.min(img.origWidth, (b.x + b.width) * s) - x, 1),
    height: round(Math.min(img.origHeight, (b.y + b.height) * s) - y, 1),
  };
}

function round(v: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}
