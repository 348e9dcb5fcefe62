// Runs the evaluator service alone (one Deployment per service in Kubernetes).
import { startTelemetry } from '@floe/telemetry/sdk';
import { serviceMain } from '@floe/service-kit';
import { createEvaluatorService } from './service.js';

await serviceMain({
  serviceName: 'floe-evaluator',
  startTelemetry,
  create: ({ config, log }) => [createEvaluatorService({ config, log })],
});
