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
import { calibrationPath, defaultModelsDir, manifest, readVerifiedModels } from '@facematch/models';
import { Policies, RECOGNIZER, decide, inMirrorWindow, loadCalibration, type DecisionPolicy } from '@facematch/models/calibration';
import { ALIGN_INDICES, CHIP_SIZE, chipTemplate, fitSimilarity, warpSimilarity, type Point, type RgbImage } from './align.ts';
import { loadBackend, type BackendRequest, type LoadedBackend } from './backend.ts';
import { MicroBatcher } from './batcher.ts';
import { decodeImage, decodeRegion, letterbox, type DecodeLimits, type DecodedImage, type ImageInput } from './decode.ts';

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
  private readonly tf: typeof TF;
  private readonly faceapi: LoadedBackend['faceapi'];
  private readonly kernels: LoadedBackend['kernels'];
  private readonly limits: DecodeLimits;
  private readonly template = chipTemplate();
  private readonly tuning: DetectionTuning;
  private readonly alignment: AlignmentTuning;
  readonly subjectRule: SubjectRule;
  private readonly detectorLabel: string;
  private readonly batcher: MicroBatcher<Float32Array, Float32Array> | undefined;
  /** Verifications worth running at once in this process: the batch size, or 1 without batching. */
  readonly batchSize: number;

  private constructor(
    b: LoadedBackend,
    opts: Required<Pick<EngineOptions, 'detector' | 'maxPixels' | 'maxBytes'>> & Pick<EngineOptions, 'detection' | 'alignment' | 'batch' | 'subject'>,
    policies: Policies | undefined,
  ) {
    this.backend = b.backend;
    this.tf = b.tf;
    this.faceapi = b.faceapi;
    this.kernels = b.kernels;
    this.detector = opts.detector;
    this.tuning = { ...DEFAULT_TUNING[opts.detector], ...opts.detection };
    this.alignment = { ...DEFAULT_ALIGNMENT, ...opts.alignment };
    this.subjectRule = opts.subject ?? 'confident';
    const nets = [...new Set(this.tuning.passes.map((p) => (p.net === 'tiny' ? 'tiny_face_detector' : 'ssd_mobilenetv1')))];
    this.detectorLabel = nets.join('+');
    const batch = opts.batch ?? (b.backend === 'wasm' ? undefined : { size: 8, windowMs: 5 });
    this.batcher = batch && batch.size > 1 ? new MicroBatcher((chips) => this.descriptors(chips), batch.size, batch.windowMs) : undefined;
    this.batchSize = this.batcher ? batch!.size : 1;
    this.policies = policies;
    this.version = `face-api@${manifest.source.version}`;
    this.limits = { maxPixels: opts.maxPixels, maxBytes: opts.maxBytes, workMaxSide: 1024 };
  }

  /** Loads the backend and the checksum-verified weights once, then warms every net up. */
  static async create(opts: EngineOptions = {}): Promise<FaceEngine> {
    // The calibration is checked before the backend loads: a file for other weights fails fast.
    const cal = opts.calibration === false ? undefined : typeof opts.calibration === 'object' ? opts.calibration : loadCalibration(opts.calibration ?? calibrationPath);
    const policies = cal ? new Policies(cal, { default: opts.policy, thresholdOverride: opts.threshold }) : undefined;
    const b = await loadBackend(opts.backend ?? 'auto');
    const engine = new FaceEngine(b, {
      detector: opts.detector ?? 'auto',
      maxPixels: opts.maxPixels ?? 40_000_000,
      maxBytes: opts.maxBytes ?? 10 * 1024 * 1024,
      detection: opts.detection,
      alignment: opts.alignment,
      batch: opts.batch,
      subject: opts.subject,
    }, policies);
    const modelsDir = opts.modelsDir ?? defaultModelsDir;
    engine.loadWeights(modelsDir);
    await engine.warmUp();
    opts.log?.('face engine ready', {
      backend: b.backend,
      backendReason: b.reason,
      detector: engine.detector,
      policy: policies?.defaultPolicy.name,
      threshold: policies?.defaultPolicy.threshold,
      batchSize: engine.batchSize,
      modelsDir,
    });
    return engine;
  }

  private loadWeights(dir: string): void {
    let files: Map<string, Buffer>;
    try {
      files = readVerifiedModels(dir);
    } catch (cause) {
      throw new FaceMatchError('MODELS_INVALID', (cause as Error).message, { cause });
    }
    const nets = this.faceapi.nets;
    const load = (name: string, net: { loadFromWeightMap(m: never): void; isLoaded: boolean }) => {
      if (net.isLoaded) return;
      const groups = JSON.parse(files.get(`${name}-weights_manifest.json`)!.toString('utf8')) as TF.io.WeightsManifestConfig;
      const map: TF.NamedTensorMap = {};
      for (const g of groups) {
        const bytes = Buffer.concat(g.paths.map((p) => files.get(p)!));
        Object.assign(map, this.tf.io.decodeWeights(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength), g.weights));
      }
      net.loadFromWeightMap(map as never);
    };
    load('tiny_face_detector_model', nets.tinyFaceDetector);
    load('ssd_mobilenetv1_model', nets.ssdMobilenetv1);
    load('face_landmark_68_model', nets.faceLandmark68Net);
    load('face_recognition_model', nets.faceRecognitionNet);
  }

  /** The first call of each net compiles kernels and allocates; pay that before reporting ready. */
  private async warmUp(): Promise<void> {
    const tf = this.tf;
    const before = tf.memory().numTensors;
    const { nets } = this.faceapi;
    const run = async (shape: [number, number, number], fn: (t: TF.Tensor3D) => Promise<unknown>) => {
      const t = tf.fill(shape, 128, 'float32') as TF.Tensor3D;
      try {
        await fn(t);
      } finally {
        t.dispose();
      }
    };
    await run([416, 416, 3], (t) => nets.tinyFaceDetector.locateFaces(t as never, new this.faceapi.TinyFaceDetectorOptions({ inputSize: 416 })));
    if (this.tuning.passes.some((p) => p.net === 'ssd')) await run([512, 512, 3], (t) => nets.ssdMobilenetv1.locateFaces(t as never, new this.faceapi.SsdMobilenetv1Options()));
    await run([LANDMARK_INPUT, LANDMARK_INPUT, 3], (t) => nets.faceLandmark68Net.detectLandmarks(t as never));
    await run([CHIP_SIZE, CHIP_SIZE, 3], (t) => nets.faceRecognitionNet.computeFaceDescriptor(t as never));
    if (tf.memory().numTensors !== before) throw new Error(`warm-up leaked ${tf.memory().numTensors - before} tensors`);
  }

  /**
   * The loaded runtime, for the engine's own measuring tools (yardsticks.ts: face-api's reference pipeline,
   * FLOP counts). Nothing on the request path uses it.
   */
  runtime(): { tf: typeof TF; faceapi: LoadedBackend['faceapi']; kernels: LoadedBackend['kernels']; limits: DecodeLimits } {
    return { tf: this.tf, faceapi: this.faceapi, kernels: this.kernels, limits: this.limits };
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
    if (!this.alignment.flip || !inMirrorWindow(plain, policy)) return { distance: plain, mirrored: false };
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
        recognizer: RECOGNIZER,
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
    const chip = warpSimilarity(src, fitSimilarity(this.template, pick(landmarks)), CHIP_SIZE, CHIP_SIZE);
    const [descriptor] = await this.describe([chip]);
    const t2 = performance.now();
    let mirror: Promise<Float32Array> | undefined;
    const mirrored = () => (mirror ??= this.describe([flipped(chip, CHIP_SIZE)]).then(([d]) => d!));

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
    const input = this.tf.tensor3d(lb.data, [size, size, 3], 'int32');
    try {
      const { nets, TinyFaceDetectorOptions, SsdMobilenetv1Options } = this.faceapi;
      const found =
        pass.net === 'tiny'
          ? await nets.tinyFaceDetector.locateFaces(input as never, new TinyFaceDetectorOptions({ inputSize: size, scoreThreshold: minScore }))
          : await nets.ssdMobilenetv1.locateFaces(input as never, new SsdMobilenetv1Options({ minConfidence: minScore, maxResults: 10 }));
      return found.map((d) => ({
        score: d.score,
        box: { x: (d.box.x - lb.left) / lb.scaleX, y: (d.box.y - lb.top) / lb.scaleY, width: d.box.width / lb.scaleX, height: d.box.height / lb.scaleY },
      }));
    } finally {
      input.dispose();
    }
  }

  /** 68 landmarks from a square crop around the detector box, in working-image coordinates. */
  private async landmarks(img: RgbImage, box: Box): Promise<Point[]> {
    const side = Math.max(box.width, box.height);
    const s = side / LANDMARK_INPUT;
    const x0 = box.x + box.width / 2 - side / 2;
    const y0 = box.y + box.height / 2 - side / 2;
    const crop = warpSimilarity(img, { a: s, b: 0, tx: x0 + s / 2 - 0.5, ty: y0 + s / 2 - 0.5 }, LANDMARK_INPUT, LANDMARK_INPUT);
    const input = this.tf.tensor3d(crop, [LANDMARK_INPUT, LANDMARK_INPUT, 3]);
    try {
      const lm = (await this.faceapi.nets.faceLandmark68Net.detectLandmarks(input as never)) as { relativePositions: Point[] };
      return lm.relativePositions.map((p) => ({ x: x0 + p.x * side, y: y0 + p.y * side }));
    } finally {
      input.dispose();
    }
  }

  private describe(chips: Float32Array[]): Promise<Float32Array[]> {
    return this.batcher ? this.batcher.submit(chips) : this.descriptors(chips);
  }

  /** One forward pass of the recognition net over any number of chips. */
  private async descriptors(chips: Float32Array[]): Promise<Float32Array[]> {
    const inputs = chips.map((c) => this.tf.tensor3d(c, [CHIP_SIZE, CHIP_SIZE, 3]));
    try {
      return (await this.faceapi.nets.faceRecognitionNet.computeFaceDescriptor(inputs as never)) as Float32Array[];
    } finally {
      for (const t of inputs) t.dispose();
    }
  }


  numTensors(): number {
    return this.tf.memory().numTensors;
  }
}

export function euclidean(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) {
    const d = a[i]! - b[i]!;
    s += d * d;
  }
  return Math.sqrt(s);
}

function average(a: Float32Array, b: Float32Array): Float32Array {
  return a.map((v, i) => (v + b[i]!) / 2);
}

/** The chip flipped left to right. */
function flipped(chip: Float32Array, size: number): Float32Array {
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

/** The landmarks the template names, as pixel indices (the landmark net speaks in continuous coordinates). */
function pick(landmarks: Point[]): Point[] {
  return ALIGN_INDICES.map((i) => ({ x: landmarks[i]!.x - 0.5, y: landmarks[i]!.y - 0.5 }));
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
