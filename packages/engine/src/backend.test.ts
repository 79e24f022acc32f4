import { describe, expect, it } from 'vitest';
import { chooseBackend } from './backend.ts';

const probe = (pkgs: string[], gpu: boolean) => ({ installed: (p: string) => pkgs.includes(p), gpuVisible: () => gpu });
const ALL = ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node', 'onnxruntime-node'];

describe('chooseBackend', () => {
  it('auto prefers CUDA when tfjs-node-gpu is installed and a GPU is visible', () => {
    expect(chooseBackend('auto', probe(ALL, true)).backend).toBe('cuda');
  });

  it('auto takes onnxruntime-node next, without a visible GPU or without tfjs-node-gpu', () => {
    expect(chooseBackend('auto', probe(ALL, false))).toEqual({ backend: 'onnx', reason: expect.stringContaining('onnxruntime-node') });
    expect(chooseBackend('auto', probe(['onnxruntime-node'], true)).backend).toBe('onnx');
  });

  it('auto never picks tfjs-node by itself, and falls back to the embedded WASM backend', () => {
    expect(chooseBackend('auto', probe(['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node'], false)).backend).toBe('wasm');
    expect(chooseBackend('auto', probe([], true))).toEqual({ backend: 'wasm', reason: expect.stringContaining('WASM') });
  });

  it('honours an explicit request', () => {
    expect(chooseBackend('wasm', probe(ALL, true)).backend).toBe('wasm');
    expect(chooseBackend('tensorflow', probe(ALL, true)).backend).toBe('tensorflow');
    expect(chooseBackend('onnx', probe([], false)).backend).toBe('onnx');
    expect(chooseBackend('cuda', probe([], false)).backend).toBe('cuda');
  });
});
