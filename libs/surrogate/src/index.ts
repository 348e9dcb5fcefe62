export * from './search-space.js';
export * from './distributions.js';
export {
  MAX_DIMS,
  MAX_CURVE_ID,
  FtPfnTask,
  curveValue,
  encodeForPfn,
  sampleFtPfnSequence,
  type CurveParams,
  type CurveSequence,
  type PriorOptions,
} from './ftpfn-prior.js';
export { CurvePfn, type PfnConfig, type PfnInput } from './pfn.js';
export { packSequences, priorBatch, type PriorBatch } from './prior-batches.js';
export * from './buckets.js';
export {
  CurveScale,
  TYPICAL_START_Y,
  bestObserved,
  thawable,
  type Decision,
  type PredictedValue,
  type DecisionContext,
  type FreezeThawOptimizer,
  type TrialCurve,
} from './freeze-thaw.js';
export { RandomSearch, SuccessiveHalving, Asha, MedianStopping } from './optimizers/baselines.js';
export { PowerLawEnsemble, powerLawPredict, expectedImprovement, type Gaussian } from './optimizers/power-law.js';
export {
  Ifbo,
  DEFAULT_CONTEXT_MAX,
  DEFAULT_RANKED_NEW_CANDIDATES,
  ACQUISITION_TEMPERATURE,
  MIN_IMPROVEMENT_BUCKETS,
  mfpiThreshold,
  pfnInputDimensions,
  type CurveQueryPoint,
  type PointPrediction,
  type IfboOptions,
} from './optimizers/ifbo.js';
export {
  NEIGHBOURS,
  MIN_RANKED_OBSERVATIONS,
  configObservations,
  dimensionImportance,
  dimensionMask,
  leaveOneOutFit,
  neighbourMean,
  rankCandidates,
  rankCorrelation,
  relevantDimensionOrder,
  relevantDimensions,
  type ConfigObservation,
  type DimensionImportance,
  type ObservedTrial,
} from './config-ranking.js';
export { loadPfn, readPfnMeta, DEFAULT_PFN, type PfnMeta } from './pfn-weights.js';
export { OPTIMIZER_NAMES, createOptimizer, needsSurrogate, type OptimizerName } from './optimizers/index.js';
export { sampleLcPfnCurve, type LcCurve } from './lcpfn-prior.js';
