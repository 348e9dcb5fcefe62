// Runs the hpo-surrogate service alone (one Deployment per service in Kubernetes).
import { startTelemetry } from '@floe/telemetry/sdk';
import { serviceMain } from '@floe/service-kit';
import { createHpoSurrogateService } from './service.js';

await serviceMain({
  serviceName: 'floe-hpo-surrogate',
  startTelemetry,
  create: ({ config, log }) => [createHpoSurrogateService({ config, log })],
});
