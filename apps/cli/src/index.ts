export { main } from './main.ts';
export { evaluate, formatReport, type EvalReport, type PipelineReport } from './eval.ts';
export { readPairs, type LabelledPair } from './pairs.ts';
export { bestThreshold, metricsAt, type Metrics, type ScoredPair } from './metrics.ts';
