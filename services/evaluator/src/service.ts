// EvaluatorService handlers: requests are validated now; suites, metrics and the double-descent detector
// come with the evaluator issue.
import { SERVICE_NAMES, evaluatorV1 as ev } from '@floe/contracts';
import { unimplemented } from '@floe/errors';
import { checkModelRef, checkPage, defineService, validate, type FloeConfig, type HostedService, type Logger } from '@floe/service-kit';

const PENDING = 'evaluation suites, metrics and forgetting reports (evaluator issue)';

export function createEvaluatorService(opts: { config: FloeConfig; log: Logger }): HostedService {
  return defineService(
    SERVICE_NAMES.evaluator,
    ev.EvaluatorServiceService,
    {
      async listSuites(req) {
        validate((v) => checkPage(v, 'page', req.page));
        throw unimplemented(PENDING);
      },
      async *evaluate(req) {
        validate((v) => {
          checkModelRef(v, 'model', req.model);
          v.count('suites', req.suites, 256, 1);
          req.suites.forEach((s, i) => v.string(`suites[${i}]`, s, { required: true, max: 128 }));
          v.number('bootstrap_samples', req.bootstrapSamples, { min: 0, max: 100_000, integer: true });
        });
        throw unimplemented(PENDING);
      },
      async *compareModels(req) {
        validate((v) => {
          v.count('stages', req.stages, 64, 2);
          req.stages.forEach((m, i) => checkModelRef(v, `stages[${i}]`, m));
          v.count('suites', req.suites, 256, 1);
          req.suites.forEach((s, i) => v.string(`suites[${i}]`, s, { required: true, max: 128 }));
          v.string('metric', req.metric, { max: 128 });
          v.number('bootstrap_samples', req.bootstrapSamples, { min: 0, max: 100_000, integer: true });
        });
        throw unimplemented(PENDING);
      },
      async detectDoubleDescent(req) {
        validate((v) => {
          v.count('points', req.points, 1_000_000, 5);
          req.points.forEach((p, i) => {
            v.number(`points[${i}].x`, p.x);
            v.number(`points[${i}].y`, p.y);
            if (i > 0) v.check(p.x > req.points[i - 1]!.x, `points[${i}].x`, 'must increase');
          });
          v.number('smoothing_window', req.smoothingWindow, { min: 0, max: 10_000, integer: true });
          v.number('noise_multiple', req.noiseMultiple, { min: 0, max: 1000 });
        });
        throw unimplemented('double-descent detection (evaluator issue)');
      },
    },
    { log: opts.log },
  );
}
