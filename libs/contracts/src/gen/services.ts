// Written by scripts/proto-generate.mjs from proto/floe/<service>/v1; never edit by hand.
export * as dataProfilerV1 from './floe/data_profiler/v1/data_profiler_service.js';
export * as evaluatorV1 from './floe/evaluator/v1/evaluator_service.js';
export * as explainerV1 from './floe/explainer/v1/explainer_service.js';
export * as hpoSurrogateV1 from './floe/hpo_surrogate/v1/hpo_surrogate_service.js';
export * as trainerV1 from './floe/trainer/v1/trainer_service.js';

/** Fully qualified name of each service, by its short name (as FLOE_SERVICES names it). */
export const SERVICE_NAMES = {
  'data-profiler': 'floe.data_profiler.v1.DataProfilerService',
  'evaluator': 'floe.evaluator.v1.EvaluatorService',
  'explainer': 'floe.explainer.v1.ExplainerService',
  'hpo-surrogate': 'floe.hpo_surrogate.v1.HpoSurrogateService',
  'trainer': 'floe.trainer.v1.TrainerService',
} as const;

/** The short name of a service: data-profiler, trainer, … */
export type ServiceName = keyof typeof SERVICE_NAMES;
