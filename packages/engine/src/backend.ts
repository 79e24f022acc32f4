/**
 * The one place that picks the tfjs backend. Everything else takes `tf` and `faceapi` from here,
 * so a backend change can never leave two tfjs instances in one process.
 */
import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import type * as TF from '@tensorflow/tfjs';
import type * as FaceApi from '@vladmandic/face-api';
import type { Backend } from '@facematch/contracts';
import { FaceMatchError } from '@facematch/contracts';
import { patchWasmConcat, type KernelPatch } from './kernels.ts';

const require = createRequire(import.meta.url);

export type BackendRequest = 'auto' | 'cuda' | 'tensorflow' | 'wasm';

export interface LoadedBackend {
  backend: Backend;
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

export function chooseBackend(
  request: BackendRequest,
  probe: { installed: (pkg: string) => boolean; gpuVisible: () => boolean } = { installed, gpuVisible },
): { backend: Exclude<Backend, 'cpu'>; reason: string } {
  if (request === 'cuda' || request === 'tensorflow' || request === 'wasm') {
    return { backend: request, reason: `TF_BACKEND=${request}` };
  }
  if (probe.installed('@tensorflow/tfjs-node-gpu') && probe.gpuVisible()) {
    return { backend: 'cuda', reason: 'auto: @tensorflow/tfjs-node-gpu installed and a GPU is visible' };
  }
  if (probe.installed('@tensorflow/tfjs-node')) {
    return { backend: 'tensorflow', reason: 'auto: @tensorflow/tfjs-node installed' };
  }
  return { backend: 'wasm', reason: 'auto: no native tfjs package installed, using embedded WASM' };
}

const NATIVE_PKG = { cuda: '@tensorflow/tfjs-node-gpu', tensorflow: '@tensorflow/tfjs-node' } as const;
const FACEAPI_DIST = {
  cuda: '@vladmandic/face-api/dist/face-api.node-gpu.js',
  tensorflow: '@vladmandic/face-api/dist/face-api.node.js',
  wasm: '@vladmandic/face-api/dist/face-api.node-wasm.js',
} as const;

let loaded: LoadedBackend | undefined;

export async function loadBackend(request: BackendRequest): Promise<LoadedBackend> {
  const { backend, reason } = chooseBackend(request);
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
