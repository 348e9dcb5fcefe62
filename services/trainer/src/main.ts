// Runs the trainer service alone (one Deployment per service in Kubernetes).
import { startTelemetry } from '@floe/telemetry/sdk';
import { serviceMain } from '@floe/service-kit';
import { createTrainerService } from './service.js';

await serviceMain({
  serviceName: 'floe-trainer',
  startTelemetry,
  create: ({ config, log }) => [createTrainerService({ config, log })],
});
