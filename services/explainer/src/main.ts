// Runs the explainer service alone (one Deployment per service in Kubernetes).
import { startTelemetry } from '@floe/telemetry/sdk';
import { serviceMain } from '@floe/service-kit';
import { createExplainerService } from './service.js';

await serviceMain({
  serviceName: 'floe-explainer',
  startTelemetry,
  create: ({ config, log }) => [createExplainerService({ config, log })],
});
