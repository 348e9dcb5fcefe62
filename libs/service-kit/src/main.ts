// The entry-point sequence every floe process follows: telemetry → config → services → server →
// SERVING; on SIGTERM or SIGINT: NOT_SERVING, shutdown hooks, drain, close, flush telemetry, exit 0.
import { loadConfig, type FloeConfig } from './config.js';
import { createLogger, type Logger } from './logger.js';
import type { HostedService } from './rpc.js';
import { startServer, type FloeServer } from './server.js';

export interface TelemetryStarter {
  (opts: { serviceName: string }): { shutdown(): Promise<void> };
}

export interface ServiceFactoryContext {
  config: FloeConfig;
  log: Logger;
}

export async function serviceMain(opts: {
  serviceName: string;
  startTelemetry: TelemetryStarter;
  create: (ctx: ServiceFactoryContext) => HostedService[] | Promise<HostedService[]>;
  env?: NodeJS.ProcessEnv;
}): Promise<FloeServer> {
  const telemetry = opts.startTelemetry({ serviceName: opts.serviceName });
  let config: FloeConfig;
  try {
    config = loadConfig(opts.env);
  } catch (err) {
    process.stderr.write(`floe: ${(err as Error).message}\n`);
    await telemetry.shutdown();
    process.exit(2);
  }
  const log = createLogger(config.logLevel, { service: opts.serviceName, pid: process.pid });
  const services = await opts.create({ config, log });
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
