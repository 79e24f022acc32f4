export { FaceEngine, engineOptionsFromEnv, chooseSubject, SUBJECT_SCORE_RATIO, type SubjectRule, REFERENCE_THRESHOLD, MIN_FACE_PX, euclidean, type EngineOptions, type FaceEmbedding, type Described, type DetectorName } from './engine.ts';
export { chooseBackend, gpuVisible, type BackendRequest } from './backend.ts';
export { decodeImage, type ImageInput, type DecodedImage } from './decode.ts';
export { PIPELINE_VERSION, RECOGNIZER, MIRROR_WINDOW, Policies, decide, inMirrorWindow, loadCalibration, modelBinding, type DecisionPolicy } from '@facematch/models/calibration';
export { embedReference, gflopsPerPass } from './yardsticks.ts';
export { loadRecogniser, type LoadedRecogniser } from '@facematch/models/recogniser';
export { FACE_API_RESNET, feedChips, unitLength, type Recogniser } from './recogniser.ts';
export { openRuntime, type OpenedRuntime } from './backend.ts';
export type { Nets, RuntimeNets, Detection } from './nets.ts';
