/**
 * The four inference steps the engine needs, behind one interface so that a runtime is a choice of
 * implementation: face-api on tfjs (tfjs-nets.ts) or the same weights as ONNX graphs on
 * onnxruntime-node (onnx/nets.ts). Everything around them (decoding, letterboxing, subject choice,
 * alignment, decisions) is shared, so the runtimes differ only in arithmetic.
 */

/** A face box in the detector input's pixels, with its score. */
export interface Detection {
  box: { x: number; y: number; width: number; height: number };
  score: number;
}

export interface Point {
  x: number;
  y: number;
}

export interface Nets {
  /** tiny_face_detector on a size×size RGB image (size a multiple of 32), after non-maximum suppression. */
  tinyFaces(rgb: Uint8Array, size: number, minScore: number): Promise<Detection[]>;
  /** ssd_mobilenetv1 on a 512×512 RGB image, after non-maximum suppression. */
  ssdFaces(rgb: Uint8Array, minScore: number, maxResults: number): Promise<Detection[]>;
  /** face_landmark_68 on a 112×112 RGB crop (0..255): the 68 points relative to the crop (0..1). */
  landmarks(crop: Float32Array): Promise<Point[]>;
  /** The recogniser on aligned chips (RGB, 0..255), one descriptor each. */
  descriptors(chips: Float32Array[]): Promise<Float32Array[]>;
}

export interface RuntimeNets extends Nets {
  /** What the runtime holds that a leak would grow: live tensors for tfjs, live output buffers for onnx. */
  allocations(): number;
}
