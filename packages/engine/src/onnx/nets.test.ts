import { describe, expect, it } from 'vitest';
import { FaceMatchError } from '@facematch/contracts';
import { OnnxNets, type Ort } from './nets.ts';

// onnxruntime as it answers when a provider's libraries are missing: session creation rejects.
const failingOrt = (message: string) => ({ InferenceSession: { create: () => Promise.reject(new Error(`${message}\n    at native`)) } }) as unknown as Ort;
const graphs = new Map(['tiny_face_detector_model', 'ssd_mobilenetv1_model', 'face_landmark_68_model'].map((n) => [n, new Uint8Array(1)]));
const recogniser = { bytes: new Uint8Array(1), feed: () => ({ data: new Float32Array(0), dims: [0] }) };

describe('OnnxNets.create', () => {
  it('says which providers failed and how to get the cuda one, without the native stack', async () => {
    const err = await OnnxNets.create(failingOrt('Failed to load shared library'), graphs, recogniser, { threads: 1, providers: ['cuda', 'cpu'] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FaceMatchError);
    const { code, message } = err as FaceMatchError;
    expect(code).toBe('INTERNAL');
    expect(message).toContain('ONNX_PROVIDERS=cuda,cpu: Failed to load shared library');
    expect(message).toContain('ONNXRUNTIME_NODE_INSTALL=cuda12');
    expect(message).toContain('or set ONNX_PROVIDERS=cpu');
    expect(message).not.toContain('at native');
  });

  it('adds no provider advice when the CPU provider alone fails', async () => {
    const err = (await OnnxNets.create(failingOrt('bad model'), graphs, recogniser).catch((e: unknown) => e)) as FaceMatchError;
    expect(err.message).toBe('onnxruntime could not open a session with ONNX_PROVIDERS=cpu: bad model');
  });
});
