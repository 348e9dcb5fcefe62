export {
  Optimizer,
  DEFAULT_OPTIMIZER,
  sumsOfSquares,
  type OptimizerConfig,
  type OptimizerKind,
  type OptimizerState,
} from './optimizer.js';
export { learningRateAt, type ScheduleConfig } from './schedule.js';
export {
  LmSource,
  ExampleSource,
  alignClasses,
  builtinShape,
  MAX_ONE_HOT,
  missingIndicatorName,
  OTHER_CATEGORY,
  alignFeatures,
  alignInputs,
  classesBeyond,
  growClasses,
  growCategories,
  growToData,
  fitImages,
  tableRowsAsInputs,
  schemaOf,
  trainedSequenceLength,
  type DataSchema,
  mismatch,
  type BatchSource,
  type ModelDescription,
} from './sources.js';
export {
  requireReadable,
  requireEnough,
  requireEnoughIn,
  bytesPerSequence,
  learnedTargetColumn,
  openByTarget,
} from './data-check.js';
export { TrainingSession, type SessionOptions, type SessionState, type StepMetrics } from './session.js';
export {
  saveCheckpoint,
  loadCheckpoint,
  readCheckpointMeta,
  checkpointBlockIds,
  type CheckpointMeta,
} from './checkpoint.js';
export { startRunWorker } from './worker.js';
export {
  runTask,
  serveTask,
  closeIdleTaskWorkers,
  taskWorkerOptions,
  spawnWorker,
  computeEnv,
  ResidentTask,
  serveRequests,
  type ComputeEnv,
} from './tasks.js';
export type { RunJob, RunEvent, RunCommand, StrategyConfig } from './run-job.js';
export { applyStrategy } from './strategy.js';
export {
  openModel,
  openInitialModel,
  modelArtifactId,
  loadModelArtifact,
  readModelArtifactMeta,
  resolveModelSource,
  noRunResolver,
  type ModelSource,
  type ResolvedModelSource,
  type RunResolver,
} from './open-model.js';
export {
  BCD_RULES,
  BlockSelector,
  fullGradientOptimum,
  leastSquares,
  logisticRegression,
  updatesToTolerance,
  variableBlockMatrix,
  variableBlockProblems,
  type BcdRule,
  type BlockProblem,
  type BlockScores,
} from './bcd.js';
export {
  MASK_METHODS,
  SYNFLOW_ROUNDS,
  GRASP_TEMPERATURE,
  globalMask,
  graspScores,
  hessianVectorProduct,
  magnitudeScores,
  maskableParams,
  snipScores,
  synflowScores,
  type MaskMethod,
  type MaskScope,
  type Scores,
} from './masks.js';
export { riglFraction, riglUpdate, DEFAULT_RIGL, type RigLSchedule } from './rigl.js';
export {
  MaskedTraining,
  BlockCoordinateTraining,
  bcdBlocks,
  maskScores,
  restoreSelective,
  savedMasks,
  type BcdOptions,
  type MaskedTrainingOptions,
  type SelectiveState,
  type SelectiveTraining,
  type StepContext,
} from './selective.js';
export {
  SPARSE_MODEL_KIND,
  NotFromSeedError,
  saveSparseModel,
  loadSparseModel,
  readSparseMeta,
  type SavedSparseModel,
} from './sparse-artifact.js';
export {
  observeValidationLoss,
  stopsEarly,
  earlyStoppingStateOf,
  EARLY_STOPPING_START,
  type EarlyStoppingConfig,
  type EarlyStoppingState,
} from './early-stopping.js';
