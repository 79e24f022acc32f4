export interface ManifestFile {
  file: string;
  bytes: number;
  sha256: string;
}
export interface Manifest {
  source: { package: string; version: string; dir: string };
  files: ManifestFile[];
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
