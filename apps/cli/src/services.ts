// The one registration of floe's services: how each is built and which peers it calls. A new service is
// its folder (proto/floe/<name>/v1 and services/<name>) plus one entry here; the contracts, FLOE_SERVICES,
// FLOE_<NAME>_ADDRESS, health, reflection and the lint scopes follow from the folders.
import type { ServiceName } from '@floe/contracts';
import type { ServiceEntry } from '@floe/service-kit';
import { createDataProfilerService } from '@floe/data-profiler';
import { createTrainerService } from '@floe/trainer';
import { createHpoSurrogateService } from '@floe/hpo-surrogate';
import { createExplainerService } from '@floe/explainer';
import { createEvaluatorService } from '@floe/evaluator';

export const SERVICES: Record<ServiceName, ServiceEntry> = {
  // Models from trainer runs (ExportModel).
  'data-profiler': { create: createDataProfilerService, peers: ['trainer'] },
  // ADE plans (PlanAdaptation).
  trainer: { create: createTrainerService, peers: ['data-profiler'] },
  // RunStudy trains trials as trainer runs (StartRun, ResumeRun, WatchRun).
  'hpo-surrogate': { create: createHpoSurrogateService, peers: ['trainer'] },
  // Models from trainer runs (ExportModel).
  explainer: { create: createExplainerService, peers: ['trainer'] },
  // Models from trainer runs (ExportModel).
  evaluator: { create: createEvaluatorService, peers: ['trainer'] },
};
