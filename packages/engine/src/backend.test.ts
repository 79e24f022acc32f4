import { describe, expect, it } from 'vitest';
import { chooseBackend } from './backend.ts';

const probe = (pkgs: string[], gpu: boolean) => ({ installed: (p: string) => pkgs.includes(p), gpuVisible: () => gpu });

describe('chooseBackend', () => {
  it('auto prefers CUDA when tfjs-node-gpu is installed and a GPU is visible', () => {
    expect(chooseBackend('auto', probe(['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node'], true)).backend).toBe('cuda');
  });

  it('auto skips CUDA without a visible GPU', () => {
    expect(chooseBackend('auto', probe(['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node'], false)).backend).toBe('tensorflow');
    expect(chooseBackend('auto', probe(['@tensorflow/tfjs-node-gpu'], false)).backend).toBe('wasm');
  });

  it('auto falls back to the embedded WASM backend', () => {
    expect(chooseBackend('auto', probe([], true))).toEqual({ backend: 'wasm', reason: expect.stringContaining('WASM') });
  });

  it('honours an explicit request', () => {
    expect(chooseBackend('wasm', probe(['@tensorflow/tfjs-node'], true)).backend).toBe('wasm');
    expect(chooseBackend('cuda', probe([], false)).backend).toBe('cuda');
  });
});
