// Runs the data-profiler service alone (one Deployment per service in Kubernetes).
import { startTelemetry } from '@floe/telemetry/sdk';
import { serviceMain } from '@floe/service-kit';
import { createDataProfilerService } from './service.js';

await serviceMain({
  serviceName: 'floe-data-profiler',
  startTelemetry,
  create: ({ config, log }) => [createDataProfilerService({ config, log })],
});
