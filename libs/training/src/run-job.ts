// One trainer run's work, as the run worker executes it: build (or restore) the model, apply the
// strategy, train until the budget or a pause, checkpoint at an interval and at the end.
import type { BackendChoice, ComputePriority } from '@floe/ml-runtime/choices';
import type { Split } from '@floe/data';
import type { SpanNameValue } from '@floe/telemetry/names';
import type { OptimizerConfig } from './optimizer.js';
import type { ScheduleConfig } from './schedule.js';
import type { StepMetrics } from './session.js';
import type { MaskMethod } from './masks.js';
import type { RigLSchedule } from './rigl.js';
import type { BcdOptions } from './selective.js';
import type { EarlyStoppingConfig, EarlyStoppingState } from './early-stopping.js';

export interface StrategyConfig {
  kind: 'full' | 'freeze' | 'expand' | 'ade' | 'freezenet' | 'prune' | 'rigl' | 'bcd';
  /** FREEZE and ADE: blocks that stay fixed. */
  freeze: string[];
  /** EXPAND and ADE: insert a copy after each of these. */
  expandAfter: string[];
  /** EXPAND: copies spread evenly when expandAfter is empty. */
  expandCount: number;
  /** ADE: blocks that train besides the new ones (all others freeze). */
  tune: string[];
  /** FREEZENET, PRUNE_AT_INIT, RIGL: the mask, scored on one batch of `scoreExamples` when the run starts. */
  sparse?: {
    rest: 'frozen' | 'pruned';
    method: MaskMethod;
    /** The fraction of the masked entries that train. */
    keep: number;
    /** FREEZENET: every parameter; the others: weight matrices and filters. */
    scope: 'weights' | 'all';
    scoreExamples: number;
    /** RIGL: the schedule in absolute steps (fixed when the run starts). */
    rigl?: RigLSchedule;
  };
  /** BCD. */
  bcd?: BcdOptions;
}

export interface RunJob {
  runId: string;
  /** A builtin model freshly initialised, or the weights of a checkpoint (its expansions included). */
  model:
    | { architecture: 'transformer-lm' | 'mamba-lm' | 'lenet5' | 'mlp'; size: string; seed: number }
    | { checkpoint: string };
  /** The training data: its split and at most this many examples (0: all). */
  dataset: { uri: string; split: Split; maxExamples: number; targetColumn: string; ignoreColumns: string[] };
  replay?: { uri: string; split: Split; fraction: number; targetColumn: string; ignoreColumns: string[] };
  strategy: StrategyConfig;
  optimizer: OptimizerConfig;
  schedule: ScheduleConfig;
  /** The schedule's length in steps; 0: the budget. */
  horizonSteps: number;
  batchSize: number;
  sequenceLength: number;
  /** Train up to this step (the budget). */
  budgetSteps: number;
  checkpointEvery: number;
  /** Validation loss every this many steps (0: never), on a fixed sample of the validation split. */
  evalEvery: number;
  /** The validation data, already resolved (a validation dataset's split, or the dataset's validation split). */
  validation?: { uri: string; split: Split; maxExamples: number; targetColumn: string; ignoreColumns: string[] };
  /**
   * Early stopping on the validation loss, with where it stands at the step the run resumes from (computed from
   * the run's recorded evaluations up to that step, so a resumed run stops where it would have).
   */
  earlyStopping?: EarlyStoppingConfig & { state: EarlyStoppingState };
  /** Classifiers: every class as often in the training batches (RunSpec.balance_classes). */
  balanceClasses?: boolean;
  /** Old-domain validation data, evaluated whenever the validation data is (what the run forgets). */
  referenceValidation?: {
    uri: string;
    split: Split;
    maxExamples: number;
    targetColumn: string;
    ignoreColumns: string[];
  };
  seed: number;
  backend: BackendChoice;
  /** Threads of the native kernels (FLOE_THREADS). */
  threads: number;
  /** How the run's worker yields the CPU (FLOE_COMPUTE_PRIORITY); default idle. */
  priority?: ComputePriority;
  artifactsDir: string;
  dataRoots: string[];
  /** Largest dataset loaded (FLOE_MAX_DATASET_BYTES); default the data lib's. */
  maxDatasetBytes?: number;
  /** Continue from this checkpoint artifact. */
  resumeFrom?: string;
}

/** Fixed validation batches a run evaluates at each evaluation step (the same batches in every run). */
export const VALIDATION_BATCHES = 4;

/** One evaluation: mean losses, and each fixed batch's loss for paired comparisons between runs. */
export interface Evaluation {
  validationLoss: number;
  validationBatchLosses: number[];
  referenceValidationLoss?: number;
  referenceValidationBatchLosses?: number[];
}

export type RunEvent =
  | {
      type: 'ready';
      step: number;
      trainableParams: number;
      totalParams: number;
      blocks: string[];
      initialValidationLoss?: number;
      initialReferenceValidationLoss?: number;
    }
  /** A phase starts or ends; `time` is epoch milliseconds (sub-millisecond precision) in the worker. */
  | {
      type: 'phase';
      phase: SpanNameValue;
      edge: 'start' | 'end';
      time: number;
      attributes?: Record<string, string | number>;
    }
  | ({ type: 'step'; metrics: StepMetrics } & Partial<Evaluation>)
  | { type: 'checkpoint'; step: number; artifactId: string }
  | { type: 'stopped'; step: number; reason: 'budget' | 'paused' | 'early_stopped' }
  | { type: 'error'; message: string };

export type RunCommand = { type: 'pause' };

/**
 * Why a step ends its run, if it does. A loss that is not finite means the run diverged (usually a learning
 * rate too large) and further steps only make NaN weights: like Keras's TerminateOnNaN, the run stops there,
 * FAILED with this message, and its last checkpoint (written before the divergence) stays resumable.
 */
export function divergence(step: number, trainingLoss: number, validationLoss?: number): string | undefined {
  if (!Number.isFinite(trainingLoss)) return `diverged: the training loss is ${trainingLoss} at step ${step}`;
  if (validationLoss !== undefined && !Number.isFinite(validationLoss))
    return `diverged: the validation loss is ${validationLoss} at step ${step}`;
  return undefined;
}
