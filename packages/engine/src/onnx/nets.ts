import type { InferenceSession, Tensor } from 'onnxruntime-node';
import { FaceMatchError } from '@facematch/contracts';
import type { Detection, Point, RuntimeNets } from '../nets.ts';
import { landmarkPositions } from './landmarks.ts';
import { ssdDetections } from './ssd.ts';
import { tinyDetections } from './tiny.ts';

/** The onnxruntime-node module, loaded only by backend.ts. */
export type Ort = typeof import('onnxruntime-node');

export interface OnnxSettings {
  /**
   * Intra-op threads per session. 1 by default: the service runs one worker process per core, so more
   * threads would only contend with the neighbouring process (and onnxruntime's spinning threads burn CPU).
   */
  threads: number;
  /** Execution providers in order of preference; `cpu` always works, `cuda` needs the provider libraries. */
  providers: string[];
}

export const DEFAULT_ONNX: OnnxSettings = { threads: 1, providers: ['cpu'] };

/** What an operator should do when a session cannot open: usually a GPU provider that is not there. */
function providerHint(providers: string[], message: string): string {
  const first = message.split('\n')[0]!;
  const hints: string[] = [];
  if (providers.includes('cuda')) {
    hints.push('the cuda provider needs a CUDA 12 host with cuDNN 9 and its libraries, fetched by `ONNXRUNTIME_NODE_INSTALL=cuda12 node node_modules/onnxruntime-node/script/install`');
  }
  if (providers.includes('webgpu')) hints.push('the webgpu provider needs a GPU adapter (Vulkan on Linux)');
  const tail = hints.length > 0 ? `; ${hints.join('; ')}; or set ONNX_PROVIDERS=cpu` : '';
  return `onnxruntime could not open a session with ONNX_PROVIDERS=${providers.join(',')}: ${first}${tail}`;
}

const CHIP = 150;
const LANDMARKS = 112;

/** A recogniser graph and how to feed it (the default is face-api's ResNet; see recogniser.ts for others). */
export interface RecogniserGraph {
  bytes: Uint8Array;
  /** Turns 0..255 RGB chips of `size` into the graph's input tensor data and dims. */
  feed(chips: Float32Array[]): { data: Float32Array; dims: number[] };
  /** Applied to each embedding (unit length for cosine models). */
  post?: (embedding: Float32Array) => Float32Array;
}

/** The four nets as ONNX graphs on onnxruntime-node; pre- and post-processing are ours (onnx/*.ts). */
export class OnnxNets implements RuntimeNets {
  private live = 0;

  private constructor(
    private readonly ort: Ort,
    private readonly tiny: InferenceSession,
    private readonly ssd: InferenceSession,
    private readonly landmark: InferenceSession,
    private readonly recognition: InferenceSession,
    private readonly recogniser: RecogniserGraph,
  ) {}

  /** `graphs` maps the face-api net name to its verified ONNX bytes. */
  static async create(ort: Ort, graphs: Map<string, Uint8Array>, recogniser: RecogniserGraph, settings: OnnxSettings = DEFAULT_ONNX): Promise<OnnxNets> {
    const options: InferenceSession.SessionOptions = {
      intraOpNumThreads: settings.threads,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: 'all',
      executionProviders: settings.providers,
    };
    const open = async (bytes: Uint8Array) => {
      try {
        return await ort.InferenceSession.create(bytes, options);
      } catch (cause) {
        throw new FaceMatchError('INTERNAL', providerHint(settings.providers, (cause as Error).message), { cause });
      }
    };
    return new OnnxNets(
      ort,
      await open(graphs.get('tiny_face_detector_model')!),
      await open(graphs.get('ssd_mobilenetv1_model')!),
      await open(graphs.get('face_landmark_68_model')!),
      await open(recogniser.bytes),
      recogniser,
    );
  }

  async tinyFaces(rgb: Uint8Array, size: number, minScore: number): Promise<Detection[]> {
    const out = await this.run(this.tiny, 'image', Float32Array.from(rgb), [1, size, size, 3]);
    const grid = out.grid!;
    return tinyDetections(grid.data, grid.dims, size, minScore);
  }

  async ssdFaces(rgb: Uint8Array, minScore: number, maxResults: number): Promise<Detection[]> {
    const out = await this.run(this.ssd, 'image', Float32Array.from(rgb), [1, 512, 512, 3]);
    return ssdDetections({ boxes: out.boxes!, scores: out.scores! }, minScore, maxResults);
  }

  async landmarks(crop: Float32Array): Promise<Point[]> {
    const out = await this.run(this.landmark, 'crops', crop, [1, LANDMARKS, LANDMARKS, 3]);
    return landmarkPositions(out.landmarks!.data, 0);
  }

  async descriptors(chips: Float32Array[]): Promise<Float32Array[]> {
    if (chips.length === 0) return [];
    const { data, dims } = this.recogniser.feed(chips);
    const session = this.recognition;
    const out = await this.run(session, session.inputNames[0]!, data, dims);
    const d = out[session.outputNames[0]!]!;
    const width = d.data.length / chips.length;
    const post = this.recogniser.post ?? ((v: Float32Array) => v);
    return chips.map((_, i) => post(d.data.slice(i * width, (i + 1) * width)));
  }

  /** Output tensors not yet released: always 0 between calls unless run() leaks one. */
  allocations(): number {
    return this.live;
  }

  /** One session run; outputs are copied out and their native buffers released at once. */
  private async run(session: InferenceSession, input: string, data: Float32Array, dims: number[]): Promise<Record<string, { data: Float32Array; dims: readonly number[] }>> {
    const feed = new this.ort.Tensor('float32', data, dims);
    let outputs: Record<string, Tensor> | undefined;
    try {
      outputs = (await session.run({ [input]: feed })) as Record<string, Tensor>;
      this.live += Object.keys(outputs).length;
      const copied: Record<string, { data: Float32Array; dims: readonly number[] }> = {};
      for (const [name, t] of Object.entries(outputs)) copied[name] = { data: Float32Array.from(t.data as Float32Array), dims: [...t.dims] };
      return copied;
    } finally {
      feed.dispose();
      for (const t of Object.values(outputs ?? {})) {
        t.dispose();
        this.live--;
      }
    }
  }
}

/** face-api's ResNet: NHWC chips of 150 px, 0..255 (its normalisation is inside the graph). */
export function faceApiRecogniser(bytes: Uint8Array): RecogniserGraph {
  return {
    bytes,
    feed(chips) {
      const data = new Float32Array(chips.length * CHIP * CHIP * 3);
      chips.forEach((c, i) => data.set(c, i * CHIP * CHIP * 3));
      return { data, dims: [chips.length, CHIP, CHIP, 3] };
    },
  };
}
