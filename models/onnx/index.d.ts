export interface DecodedWeight {
  shape: number[];
  dtype: string;
  data: Float32Array | Int32Array;
}
export declare function decodeWeights(manifestJson: string, shard: (path: string) => Uint8Array): Map<string, DecodedWeight>;
export declare const GRAPHS: { file: string; from: string; build: (weights: Map<string, DecodedWeight>) => Uint8Array }[];
/** The ONNX graph of one face-api net (e.g. 'face_recognition_model') from its weight files. */
export declare function buildGraph(from: string, read: (file: string) => Uint8Array): Uint8Array;
/** The graph builder the converters use (see graph.mjs); tests make small models with it. */
export declare class Graph {
  constructor(name: string, docString?: string);
  input(name: string, dims: (number | string)[]): string;
  output(value: string, name: string, dims: (number | string)[]): string;
  init(name: string, data: Float32Array | number[], dims: number[]): string;
  ints(values: number[]): string;
  floats(values: number[], dims?: number[]): string;
  node(op: string, inputs: string[], attrs?: Record<string, unknown>, outputs?: number): string;
  toBytes(metadata?: Record<string, string>): Uint8Array;
}
