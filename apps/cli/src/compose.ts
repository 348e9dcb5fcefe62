// Which factory builds which service. `floe up` hosts any subset on one port (FLOE_SERVICES).
import type { HostedService, ServiceFactoryContext } from '@floe/service-kit';
import { createDataProfilerService } from '@floe/data-profiler';
import { createTrainerService } from '@floe/trainer';
import { createHpoSurrogateService } from '@floe/hpo-surrogate';
import { createExplainerService } from '@floe/explainer';
import { createEvaluatorService } from '@floe/evaluator';

const FACTORIES: Record<string, (ctx: ServiceFactoryContext) => HostedService> = {
  'data-profiler': createDataProfilerService,
  trainer: createTrainerService,
  'hpo-surrogate': createHpoSurrogateService,
  explainer: createExplainerService,
  evaluator: createEvaluatorService,
};

export function createServices(ctx: ServiceFactoryContext): HostedService[] {
  return ctx.config.services.map((name) => FACTORIES[name]!(ctx));
}
