import { serviceMain } from '@floe/service-kit';
import { startTelemetry } from '@floe/telemetry/sdk';
import type { Command } from '../args.js';
import { SERVICES } from '../services.js';
import { summaryOf } from './summaries.js';

export const up: Command = {
  name: 'up',
  summary: summaryOf('up'),
  usage:
    'floe up [--address host:port] [--services NAME[,NAME]]\n\n--services: the services this process hosts (FLOE_SERVICES; a pod of the Helm chart hosts one).\nEnvironment: FLOE_ADDRESS, FLOE_HOME, FLOE_SERVICES, FLOE_DATA_ROOTS, … (see the README).\nA bad value stops it with a message naming the variable (exit 2).',
  options: { services: { type: 'string' } },
  async run(args) {
    const env = { ...process.env };
    if (typeof args.values.address === 'string') env.FLOE_ADDRESS = args.values.address;
    if (typeof args.values.services === 'string') env.FLOE_SERVICES = args.values.services;
    const server = await serviceMain({ registry: SERVICES, startTelemetry, env });
    if (args.json) process.stdout.write(JSON.stringify({ address: server.address }) + '\n');
    else process.stderr.write(`floe is serving on ${server.address}; Ctrl-C stops it\n`);
    return new Promise<number>(() => {}); // runs until a signal stops the process
  },
};
