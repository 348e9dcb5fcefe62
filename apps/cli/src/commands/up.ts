import { serviceMain } from '@floe/service-kit';
import { startTelemetry } from '@floe/telemetry/sdk';
import type { Command } from '../args.js';
import { createServices } from '../compose.js';

export const up: Command = {
  name: 'up',
  summary: 'host the services in one process (all five by default)',
  usage:
    'floe up [--address host:port]\n\nEnvironment: FLOE_ADDRESS, FLOE_HOME, FLOE_SERVICES, FLOE_DATA_ROOTS (see the README).',
  async run(args) {
    const env = { ...process.env };
    if (typeof args.values.address === 'string') env.FLOE_ADDRESS = args.values.address;
    const server = await serviceMain({ serviceName: 'floe', startTelemetry, create: createServices, env });
    if (args.json) process.stdout.write(JSON.stringify({ address: server.address }) + '\n');
    else process.stderr.write(`floe is serving on ${server.address}; Ctrl-C stops it\n`);
    return new Promise<number>(() => {}); // runs until a signal stops the process
  },
};
