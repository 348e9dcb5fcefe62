// The one entry point to floe's generated contracts. Everything under ./gen is written by
// `npm run proto:generate` from proto/; edit the .proto files, never the generated code.
import { fileURLToPath } from 'node:url';

export * as commonV1 from './common.js';
export * as dataProfilerV1 from './gen/floe/data_profiler/v1/data_profiler_service.js';
export * as trainerV1 from './gen/floe/trainer/v1/trainer_service.js';
export * as hpoSurrogateV1 from './gen/floe/hpo_surrogate/v1/hpo_surrogate_service.js';
export * as explainerV1 from './gen/floe/explainer/v1/explainer_service.js';
export * as evaluatorV1 from './gen/floe/evaluator/v1/evaluator_service.js';
export * as googleRpc from './google-rpc.js';

/** The binary FileDescriptorSet of every contract (and its imports), served by server reflection. */
export const descriptorSetPath = fileURLToPath(new URL('./descriptor.binpb', import.meta.url));

/** Fully qualified names of floe's five services, as health checks and reflection know them. */
export const SERVICE_NAMES = {
  dataProfiler: 'floe.data_profiler.v1.DataProfilerService',
  trainer: 'floe.trainer.v1.TrainerService',
  hpoSurrogate: 'floe.hpo_surrogate.v1.HpoSurrogateService',
  explainer: 'floe.explainer.v1.ExplainerService',
  evaluator: 'floe.evaluator.v1.EvaluatorService',
} as const;

export type ServiceKey = keyof typeof SERVICE_NAMES;
