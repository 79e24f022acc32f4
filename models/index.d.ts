export interface ManifestFile {
  file: string;
  bytes: number;
  sha256: string;
}
export interface ManifestGraph extends ManifestFile {
  /** The face-api net it is converted from. */
  from: string;
}
export interface Manifest {
  source: { package: string; version: string; dir: string };
  files: ManifestFile[];
  /** ONNX graphs converted from `files` by models/onnx (not part of weightsSha256: same weights, same calibration). */
  graphs: ManifestGraph[];
}
export declare const defaultModelsDir: string;
export declare const manifest: Manifest;
export declare const calibrationPath: string;
export declare function weightsSha256(): string;
export declare function sourceDir(): string;
export declare function sha256(buf: Uint8Array): string;
export declare function stageModels(dir?: string): string;
/** Throws an Error with `code: 'MODELS_INVALID'` and a `problems` list. */
export declare function readVerifiedModels(dir?: string): Map<string, Buffer>;
/** The verified ONNX graphs, face-api net name → bytes; missing files are converted in memory. */
export declare function readVerifiedGraphs(dir?: string, weights?: Map<string, Buffer>): Map<string, Buffer>;
export declare function buildGraphs(files: Map<string, Buffer>): (ManifestGraph & { data: Uint8Array })[];
