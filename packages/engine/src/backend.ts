/**
 * The one place that picks the runtime the nets run on: face-api on a tfjs backend (`wasm`, `tensorflow`,
 * `cuda`), or the same weights as ONNX graphs on onnxruntime-node (`onnx`). Everything else takes `tf`,
 * `faceapi` and `ort` from here, so a change can never leave two tfjs instances in one process.
 */
import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import type * as TF from '@tensorflow/tfjs';
import type * as FaceApi from '@vladmandic/face-api';
import type { Backend } from '@facematch/contracts';
import { FaceMatchError } from '@facematch/contracts';
import { readVerifiedGraphs, readVerifiedModels } from '@facematch/models';
import { patchWasmConcat, type KernelPatch } from './kernels.ts';
import type { RuntimeNets } from './nets.ts';
import { DEFAULT_ONNX, OnnxNets, faceApiRecogniser, type OnnxSettings, type Ort, type RecogniserGraph } from './onnx/nets.ts';
import { TfjsNets } from './tfjs-nets.ts';

const require = createRequire(import.meta.url);

export type BackendRequest = 'auto' | 'cuda' | 'tensorflow' | 'wasm' | 'onnx';
export type TfjsBackend = 'cuda' | 'tensorflow' | 'wasm';

export interface LoadedBackend {
  backend: TfjsBackend;
  tf: typeof TF;
  faceapi: typeof FaceApi;
  /** Why this backend was chosen, for the startup log. */
  reason: string;
  /** Our kernel fixes; `stock` runs code without them (the reference pipeline is face-api as shipped). */
  kernels: KernelPatch;
}

const NO_PATCH: KernelPatch = { stock: (fn) => fn() };

function installed(pkg: string): boolean {
  try {
    require.resolve(`${pkg}/package.json`);
    return true;
  } catch {
    return false;
  }
}

/** A GPU is "visible" when the NVIDIA driver exposes at least one device to this process. */
export function gpuVisible(): boolean {
  try {
    if (existsSync('/proc/driver/nvidia/gpus') && readdirSync('/proc/driver/nvidia/gpus').length > 0) return true;
  } catch {
    // unreadable /proc: fall through to the device node check
  }
  return existsSync('/dev/nvidia0');
}

/**
 * `auto`: CUDA (tfjs-node-gpu, the GPU path) when the package is installed and a GPU is visible; else
 * onnxruntime-node's CPU provider, which ships inside its npm package; else the embedded WASM backend.
 * tfjs-node (`tensorflow`) is only taken when asked for: on CPU, onnx runs the same weights faster.
 */
export function chooseBackend(
  request: BackendRequest,
  probe: { installed: (pkg: string) => boolean; gpuVisible: () => boolean } = { installed, gpuVisible },
): { backend: Exclude<Backend, 'cpu'>; reason: string } {
  if (request !== 'auto') return { backend: request, reason: `TF_BACKEND=${request}` };
  if (probe.installed('@tensorflow/tfjs-node-gpu') && probe.gpuVisible()) {
    return { backend: 'cuda', reason: 'auto: @tensorflow/tfjs-node-gpu installed and a GPU is visible' };
  }
  if (probe.installed(ONNX_PKG)) return { backend: 'onnx', reason: `auto: ${ONNX_PKG} installed (CPU provider)` };
  return { backend: 'wasm', reason: 'auto: no native runtime installed, using embedded WASM' };
}

const ONNX_PKG = 'onnxruntime-node';
export { DEFAULT_ONNX, type OnnxSettings };

/** onnxruntime-node, or why it cannot load here (a missing package, or a native library that fails to open). */
export function loadOrt(): Ort {
  try {
    return require(ONNX_PKG) as Ort;
  } catch (cause) {
    throw new FaceMatchError('INTERNAL', `TF_BACKEND=onnx needs ${ONNX_PKG}, which failed to load: ${(cause as Error).message}`, { cause });
  }
}

const NATIVE_PKG = { cuda: '@tensorflow/tfjs-node-gpu', tensorflow: '@tensorflow/tfjs-node' } as const;
const FACEAPI_DIST = {
  cuda: '@vladmandic/face-api/dist/face-api.node-gpu.js',
  tensorflow: '@vladmandic/face-api/dist/face-api.node.js',
  wasm: '@vladmandic/face-api/dist/face-api.node-wasm.js',
} as const;

let loaded: LoadedBackend | undefined;

/** Loads face-api on one tfjs backend; one per process. */
export async function loadBackend(backend: TfjsBackend, reason = `TF_BACKEND=${backend}`): Promise<LoadedBackend> {
  if (loaded) {
    if (loaded.backend !== backend) {
      throw new FaceMatchError('INTERNAL', `backend ${loaded.backend} is already loaded; cannot switch to ${backend} in one process`);
    }
    return loaded;
  }
  if (backend !== 'wasm' && !installed(NATIVE_PKG[backend])) {
    throw new FaceMatchError(
      'INTERNAL',
      `TF_BACKEND=${backend} needs ${NATIVE_PKG[backend]}, which is not installed (it downloads libtensorflow at install time; the Docker images install it)`,
    );
  }
  const faceapi = require(FACEAPI_DIST[backend]) as typeof FaceApi;
  const tf = faceapi.tf as unknown as typeof TF;
  if (backend === 'wasm') {
    const wasm = require('@tensorflow/tfjs-backend-wasm') as typeof import('@tensorflow/tfjs-backend-wasm');
    // Local files only: the package's default would fetch the .wasm binaries from a CDN.
    wasm.setWasmPaths(`${dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm'))}/`);
    await tf.setBackend('wasm');
  } else {
    await tf.setBackend('tensorflow');
  }
  await tf.ready();
  const kernels = backend === 'wasm' ? patchWasmConcat(tf) : NO_PATCH;
  loaded = { backend, tf, faceapi, reason, kernels };
  return loaded;
}

/** The nets on the chosen runtime, with what the engine reports about it. */
export interface OpenedRuntime {
  backend: Exclude<Backend, 'cpu'>;
  reason: string;
  nets: RuntimeNets;
  /** The tfjs side, for the tfjs runtimes only (yardsticks and kernel fixes need it). */
  tfjs?: LoadedBackend;
}

export interface RuntimeOptions {
  modelsDir: string;
  onnx?: OnnxSettings;
  /** A recogniser other than face-api's ResNet (onnx runtime only). */
  recogniser?: RecogniserGraph;
}

/**
 * Opens the nets on the requested runtime. Under `auto`, an onnxruntime-node that is installed but
 * fails to open (a foreign libc, a broken install) falls back to WASM, saying why; an explicit
 * request fails instead.
 */
export async function openRuntime(request: BackendRequest, opts: RuntimeOptions): Promise<OpenedRuntime> {
  const chosen = chooseBackend(request);
  const weights = verified(() => readVerifiedModels(opts.modelsDir));
  if (chosen.backend === 'onnx') {
    try {
      const ort = loadOrt();
      const graphs = verified(() => readVerifiedGraphs(opts.modelsDir, weights));
      const recogniser = opts.recogniser ?? faceApiRecogniser(graphs.get('face_recognition_model')!);
      return { ...chosen, nets: await OnnxNets.create(ort, graphs, recogniser, opts.onnx) };
    } catch (err) {
      if (request !== 'auto' || (err as FaceMatchError).code === 'MODELS_INVALID') throw err;
      const tfjs = await loadBackend('wasm', `auto: ${ONNX_PKG} failed to open (${(err as Error).message}), using embedded WASM`);
      return { backend: 'wasm', reason: tfjs.reason, nets: new TfjsNets(tfjs, weights), tfjs };
    }
  }
  if (opts.recogniser) throw new FaceMatchError('INTERNAL', `a custom recogniser runs on the onnx runtime only, not on ${chosen.backend}`);
  const tfjs = await loadBackend(chosen.backend, chosen.reason);
  return { ...chosen, nets: new TfjsNets(tfjs, weights), tfjs };
}

function verified<T>(read: () => T): T {
  try {
    return read();
  } catch (cause) {
    throw new FaceMatchError('MODELS_INVALID', (cause as Error).message, { cause });
  }
}
