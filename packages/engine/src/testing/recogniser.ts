/** A stand-in operator recogniser for tests of the plug-in path, here and in test/. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RecogniserDescriptor } from '@facematch/contracts';
import { sha256 } from '@facematch/models';
import { Graph } from '@facematch/models/onnx';

export const TINY_RECOGNISER = 'tiny_test_recogniser';

/**
 * Made here because no licensed embedding model installs from the npm registry: 112 px BGR NCHW in,
 * scaled to -1..1 (an ArcFace-class input), 8×8 average pooled and flattened to 588 values. A crude
 * recogniser, but every descriptor field changes what it sees.
 */
export function tinyRecogniserModel(): Uint8Array {
  const g = new Graph(TINY_RECOGNISER);
  const x = g.input('x', ['N', 3, 112, 112]);
  const pooled = g.node('AveragePool', [x], { kernel_shape: [8, 8], strides: [8, 8] });
  g.output(g.node('Flatten', [pooled], { axis: 1 }), 'embedding', ['N', 588]);
  return g.toBytes();
}

export const ARCFACE_FIVE: [number, number][] = [[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655], [70.7299, 92.2041]];

/** Writes `tiny.onnx` and a descriptor of it (`name`, with `overrides`) into `dir`; returns the descriptor's path. */
export function installTinyRecogniser(dir: string, overrides: Partial<RecogniserDescriptor> = {}, name = 'tiny.json'): string {
  const bytes = tinyRecogniserModel();
  writeFileSync(join(dir, 'tiny.onnx'), bytes);
  const descriptor: RecogniserDescriptor = {
    schema: 1,
    name: TINY_RECOGNISER,
    onnx: 'tiny.onnx',
    sha256: sha256(bytes),
    licence: 'test fixture, made by the test suite',
    input: { size: 112, layout: 'nchw', colour: 'bgr', mean: [127.5, 127.5, 127.5], scale: [1 / 127.5, 1 / 127.5, 1 / 127.5] },
    alignment: { five: ARCFACE_FIVE },
    embedding: 588,
    distance: 'cosine',
    ...overrides,
  };
  const path = join(dir, name);
  writeFileSync(path, JSON.stringify(descriptor));
  return path;
}
