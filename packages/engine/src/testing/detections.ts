/** For the per-net tests in onnx/: one graph's session, and the bound its detections are held to. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { expect } from 'vitest';
import { defaultModelsDir } from '@facematch/models';
import { buildGraph } from '@facematch/models/onnx';
import type { Detection } from '../nets.ts';

export const readModelFile = (f: string) => readFileSync(join(defaultModelsDir, f));

/** A session of one converted net, as the engine opens it (one thread). */
export function graphSession(name: string): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(buildGraph(name, readModelFile), { intraOpNumThreads: 1, interOpNumThreads: 1, graphOptimizationLevel: 'all' });
}

/** The same faces in the same order: scores within 1e-4, every box side within 1 px. */
export function expectSameDetections(ref: Detection[], got: Detection[]): void {
  expect(got.length).toBe(ref.length);
  ref.forEach((r, i) => {
    const g = got[i]!;
    expect(Math.abs(g.score - r.score)).toBeLessThan(1e-4);
    for (const k of ['x', 'y', 'width', 'height'] as const) expect(Math.abs(g.box[k] - r.box[k])).toBeLessThan(1);
  });
}
