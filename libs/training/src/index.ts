export {
  Optimizer,
  DEFAULT_OPTIMIZER,
  type OptimizerConfig,
  type OptimizerKind,
  type OptimizerState,
} from './optimizer.js';
export { learningRateAt, type ScheduleConfig } from './schedule.js';
export { LmSource, ExampleSource, mismatch, type BatchSource } from './sources.js';
export { TrainingSession, type SessionOptions, type SessionState, type StepMetrics } from './session.js';
export {
  saveCheckpoint,
  loadCheckpoint,
  readCheckpointMeta,
  checkpointBlockIds,
  type CheckpointMeta,
} from './checkpoint.js';
export { runTrainingWorker, type WorkerJob, type WorkerMessage } from './worker.js';
export { startRunWorker } from './worker.js';
export type { RunJob, RunEvent, RunCommand, StrategyConfig } from './run-job.js';
export { applyStrategy } from './strategy.js';
export { openModel, openInitialModel, checkpointArtifactId, type ModelSource, type RunResolver } from './open-model.js';
