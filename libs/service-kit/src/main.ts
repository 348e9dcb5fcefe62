// The entry-point sequence every floe process follows: telemetry → config → services → server →
// SERVING; on SIGTERM or SIGINT: NOT_SERVING, shutdown hooks, drain, close, flush telemetry, exit 0.
// One process hosts any subset of the services (FLOE_SERVICES); a Kubernetes Deployment hosts one.
import type { ServiceName } from '@floe/contracts';
import { loadConfig, peerAddressVariable, type FloeConfig } from './config.js';
import { createLogger, type Logger } from './logger.js';
import { Peers } from './peers.js';
import type { HostedService } from './rpc.js';
import { startServer, type FloeServer } from './server.js';

export interface TelemetryStarter {
  (opts: { serviceName: string; metricsAddress?: string }): { shutdown(): Promise<void> };
}

/** What every service factory receives: the parsed configuration, a logger and the clients of its peers. */
export interface ServiceContext {
  config: FloeConfig;
  log: Logger;
  /** Shared by every service of the process: one channel per peer. */
  peers?: Peers;
}

/** How the process builds one service, and which others it calls (checked at start). */
export interface ServiceEntry {
  create: (ctx: ServiceContext) => HostedService;
  /** Services it calls through their clients; each must be hosted here or have FLOE_<SERVICE>_ADDRESS. */
  peers: readonly ServiceName[];
}

/** The process's OpenTelemetry service.name: floe for several services, floe-<service> for one. */
export function processServiceName(services: readonly string[]): string {
  return services.length === 1 ? `floe-${services[0]}` : 'floe';
}

/** The services `config.services` names, built from the registry with one set of peer clients. */
export function composeServices(
  registry: Record<ServiceName, ServiceEntry>,
  ctx: { config: FloeConfig; log: Logger },
): HostedService[] {
  const peers = new Peers(ctx.config);
  return ctx.config.services.map((name) => registry[name].create({ ...ctx, peers }));
}

export async function serviceMain(opts: {
  registry: Record<ServiceName, ServiceEntry>;
  startTelemetry: TelemetryStarter;
  env?: NodeJS.ProcessEnv;
}): Promise<FloeServer> {
  let config: FloeConfig;
  try {
    config = loadConfig(opts.env);
  } catch (err) {
    // Before telemetry: a process that cannot read its configuration exports nothing.
    process.stderr.write(`floe: ${(err as Error).message}\n`);
    process.exit(2);
  }
  const telemetry = opts.startTelemetry({
    serviceName: processServiceName(config.services),
    metricsAddress: config.metricsAddress,
  });
  const log = createLogger(config.logLevel, { service: processServiceName(config.services), pid: process.pid });
  for (const name of config.services) {
    for (const peer of opts.registry[name].peers) {
      if (!config.services.includes(peer) && !config.peers[peer])
        log.warn('a peer is neither hosted here nor addressed', {
          service: name,
          peer,
          set: peerAddressVariable(peer),
        });
    }
  }
  if (config.security.tokens.length && !config.security.token)
    log.warn('tokens are required but this process has none to present: calls to its peers will be refused', {
      set: 'FLOE_TOKEN or FLOE_TOKEN_FILE',
    });
  const services = composeServices(opts.registry, { config, log });
  const server = await startServer({ config, services, log });

  // A signal to the process group also reaches npm, which forwards it: the same stop can arrive twice
  // at once. Only a signal well after the first one (a second Ctrl-C) forces an immediate exit.
  let firstSignalAt = 0;
  const stop = async (signal: NodeJS.Signals) => {
    if (firstSignalAt) {
      if (Date.now() - firstSignalAt < 2000) return;
      log.warn('second signal; exiting now', { signal });
      process.exit(1);
    }
    firstSignalAt = Date.now();
    await server.shutdown(signal);
    await telemetry.shutdown().catch((err) => log.error('telemetry flush failed', { err }));
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  return server;
}
