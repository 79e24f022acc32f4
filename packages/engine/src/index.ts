export { FaceEngine, engineOptionsFromEnv, DEFAULT_THRESHOLD, REFERENCE_THRESHOLD, MIN_FACE_PX, MIRROR_WINDOW, euclidean, type EngineOptions, type FaceEmbedding, type Described, type DetectorName } from './engine.ts';
export { chooseBackend, gpuVisible, type BackendRequest } from './backend.ts';
export { decodeImage, type ImageInput, type DecodedImage } from './decode.ts';
