import * as grpc from '@grpc/grpc-js';
import { service as healthService } from 'grpc-health-check';
import { SERVICE_NAMES } from '@floe/contracts';
import { createClient, loadConfig } from '@floe/service-kit';
import { output, type Command } from '../args.js';
import { summaryOf } from './summaries.js';

type HealthClient = grpc.Client & {
  check(
    req: { service: string },
    opts: grpc.CallOptions,
    cb: (err: grpc.ServiceError | null, res: { status: string | number }) => void,
  ): void;
};
const HealthClientCtor = grpc.makeGenericClientConstructor(healthService, 'grpc.health.v1.Health') as unknown as new (
  address: string,
  creds: grpc.ChannelCredentials,
) => HealthClient;

const STATUS = ['UNKNOWN', 'SERVING', 'NOT_SERVING', 'SERVICE_UNKNOWN'];

export const health: Command = {
  name: 'health',
  summary: summaryOf('health'),
  usage: 'floe health [--address host:port] [--json]\n\nExit status 0 when every service is SERVING.',
  async run(args) {
    const address = typeof args.values.address === 'string' ? args.values.address : loadConfig().address;
    const client = createClient(HealthClientCtor, address, {}, loadConfig().security);
    const names = ['', ...Object.values(SERVICE_NAMES)];
    const results = await Promise.all(
      names.map(
        (service) =>
          new Promise<{ service: string; status: string }>((resolve) =>
            client.check({ service }, { deadline: Date.now() + 5000 }, (err, res) =>
              resolve({
                service: service || '(server)',
                status: err
                  ? err.code === grpc.status.NOT_FOUND
                    ? 'NOT_HOSTED'
                    : `UNREACHABLE: ${err.details}`
                  : typeof res.status === 'number'
                    ? STATUS[res.status]!
                    : String(res.status),
              }),
            ),
          ),
      ),
    );
    client.close();
    output(args, { address, services: results }, () =>
      results.map((r) => `${r.status.padEnd(12)} ${r.service}`).join('\n'),
    );
    return results.every((r) => r.status === 'SERVING') ? 0 : 1;
  },
};
