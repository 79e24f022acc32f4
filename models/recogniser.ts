/**
 * Reads an operator's recogniser descriptor (contracts' RecogniserDescriptorSchema) and its ONNX file,
 * checked against the descriptor's sha256. Here, beside the calibration, because the API names the
 * recogniser in GET /model and binds the calibration to it without loading any runtime.
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { FaceMatchError, RecogniserDescriptorSchema, type RecogniserDescriptor } from '@facematch/contracts';
import { sha256 } from '@facematch/models';

export interface LoadedRecogniser {
  descriptor: RecogniserDescriptor;
  /** The descriptor file and the ONNX file it names, resolved. */
  path: string;
  onnxPath: string;
  /** Its calibration file, when the descriptor names one. */
  calibrationPath: string | undefined;
  bytes: Buffer;
}

export function loadRecogniser(path: string): LoadedRecogniser {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (cause) {
    throw new FaceMatchError('MODELS_INVALID', `recogniser descriptor ${path} could not be read: ${(cause as Error).message}`, { cause });
  }
  const parsed = RecogniserDescriptorSchema.safeParse(raw);
  if (!parsed.success) {
    throw new FaceMatchError('MODELS_INVALID', `recogniser descriptor ${path} is malformed: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  }
  const descriptor = parsed.data;
  const base = dirname(resolve(path));
  const onnxPath = resolve(base, descriptor.onnx);
  let bytes: Buffer;
  try {
    bytes = readFileSync(onnxPath);
  } catch (cause) {
    throw new FaceMatchError('MODELS_INVALID', `recogniser ${descriptor.name}: ${onnxPath} could not be read: ${(cause as Error).message}`, { cause });
  }
  const actual = sha256(bytes);
  if (actual !== descriptor.sha256) {
    throw new FaceMatchError('MODELS_INVALID', `recogniser ${descriptor.name}: ${onnxPath} has sha256 ${actual}, the descriptor pins ${descriptor.sha256}`);
  }
  return { descriptor, path: resolve(path), onnxPath, calibrationPath: descriptor.calibration ? resolve(base, descriptor.calibration) : undefined, bytes };
}
