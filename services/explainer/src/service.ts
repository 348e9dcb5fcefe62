// ExplainerService handlers: requests are validated now; attribution methods come with the explainer issue.
import { SERVICE_NAMES, explainerV1 as ex } from '@floe/contracts';
import { unimplemented } from '@floe/errors';
import {
  checkDatasetRef,
  checkModelRef,
  defineService,
  validate,
  type HostedService,
  type ServiceContext,
  type Validator,
} from '@floe/service-kit';

const PENDING = 'SHAP, gradient attributions and SSM hidden attention (explainer issue)';

function checkOptions(v: Validator, field: string, o: ex.ExplainOptions | undefined): void {
  if (!o) {
    v.add(field, 'is required (at least a method)');
    return;
  }
  v.enumValue(`${field}.method`, o.method, ex.Method);
  v.number(`${field}.instances`, o.instances, { min: 0, max: 10_000, integer: true });
  v.number(`${field}.background`, o.background, { min: 0, max: 10_000, integer: true });
  v.number(`${field}.budget`, o.budget, { min: 0, max: 10_000_000, integer: true });
  v.number(`${field}.output_index`, o.outputIndex, { min: 0, integer: true });
  v.number(`${field}.steps`, o.steps, { min: 0, max: 10_000, integer: true });
}

export function createExplainerService(opts: ServiceContext): HostedService {
  return defineService(
    SERVICE_NAMES.explainer,
    ex.ExplainerServiceService,
    {
      async *explain(req) {
        validate((v) => {
          checkModelRef(v, 'model', req.model);
          checkDatasetRef(v, 'dataset', req.dataset);
          checkOptions(v, 'options', req.options);
        });
        throw unimplemented(PENDING);
      },
      async *compareExplanations(req) {
        validate((v) => {
          checkModelRef(v, 'base_model', req.baseModel);
          checkModelRef(v, 'adapted_model', req.adaptedModel);
          checkDatasetRef(v, 'dataset', req.dataset);
          checkOptions(v, 'options', req.options);
        });
        throw unimplemented(PENDING);
      },
      async *implicitAttention(req) {
        validate((v) => {
          checkModelRef(v, 'model', req.model);
          v.check(req.input.length > 0, 'input', 'is required');
          v.check(req.input.length <= 512, 'input', 'is longer than 512 bytes');
          v.count('layers', req.layers, 256);
          req.layers.forEach((l, i) => v.number(`layers[${i}]`, l, { min: 0, integer: true }));
          v.enumValue('aggregation', req.aggregation, ex.Aggregation, { allowUnspecified: true });
        });
        throw unimplemented(PENDING);
      },
    },
    { log: opts.log },
  );
}
