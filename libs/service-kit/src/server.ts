// Server bootstrap: limits, grpc.health.v1 (per service and ""), server reflection (v1 and v1alpha) from
// the contracts' descriptor set, bind, SERVING; and the graceful shutdown that reverses it.
import * as grpc from '@grpc/grpc-js';
import { loadFileDescriptorSetFromBuffer } from '@grpc/proto-loader';
import { ReflectionService } from '@grpc/reflection';
import { HealthImplementation, type ServingStatus } from 'grpc-health-check';
import { readFileSync } from 'node:fs';
import { descriptorSetPath } from '@floe/contracts';
import type { FloeConfig } from './config.js';
import type { Logger } from './logger.js';
import type { HostedService } from './rpc.js';
import { NO_SECURITY, authInterceptor, serverCredentials, type SecurityConfig } from './security.js';

export interface FloeServer {
  /** The bound port (useful with port 0). */
  readonly port: number;
  /** host:port that clients dial. */
  readonly address: string;
  setStatus(service: string, status: ServingStatus): void;
  /**
   * NOT_SERVING everywhere, shutdown hooks (checkpoints), drain in-flight calls for the grace period,
   * then force the rest closed. Resolves once the server has stopped; safe to call twice.
   */
  shutdown(reason?: string): Promise<void>;
}

export function serverOptions(
  config: Pick<FloeConfig, 'maxMessageBytes' | 'maxConcurrentStreams'>,
): grpc.ServerOptions {
  return {
    'grpc.max_receive_message_length': config.maxMessageBytes,
    'grpc.max_send_message_length': config.maxMessageBytes,
    'grpc.max_concurrent_streams': config.maxConcurrentStreams,
    'grpc.keepalive_time_ms': 60_000,
    'grpc.keepalive_permit_without_calls': 1,
  };
}

let reflectionPackage: ReturnType<typeof loadFileDescriptorSetFromBuffer> | undefined;

export async function startServer(opts: {
  config: Pick<FloeConfig, 'address' | 'maxMessageBytes' | 'maxConcurrentStreams' | 'shutdownGraceMs'> & {
    security?: SecurityConfig;
    healthAddress?: string;
  };
  services: HostedService[];
  log: Logger;
}): Promise<FloeServer> {
  const { config, services, log } = opts;
  const security = config.security ?? NO_SECURITY;
  // One interceptor checks every RPC's token, when tokens are configured.
  const server = new grpc.Server({
    ...serverOptions(config),
    ...(security.tokens.length && { interceptors: [authInterceptor(security)] }),
  });
  for (const s of services) server.addService(s.definition, s.implementation);

  const health = new HealthImplementation({
    '': 'NOT_SERVING',
    ...Object.fromEntries(services.map((s) => [s.name, 'NOT_SERVING' as const])),
  });
  health.addToServer(server);
  reflectionPackage ??= loadFileDescriptorSetFromBuffer(readFileSync(descriptorSetPath));
  new ReflectionService(reflectionPackage).addToServer(server);

  const { credentials, loaded } = serverCredentials(security);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(config.address, credentials, (err, p) => (err ? reject(err) : resolve(p))),
  );
  // Connections before the certificate files are read are dropped: not serving until then.
  await loaded;
  const host = config.address.slice(0, config.address.lastIndexOf(':'));
  const address = `${host}:${port}`;
  // Probes that speak neither TLS nor tokens (Kubernetes' gRPC probes) ask a listener of their own that
  // answers grpc.health.v1 only, with the same statuses.
  let healthServer: grpc.Server | undefined;
  if (config.healthAddress) {
    healthServer = new grpc.Server(serverOptions(config));
    health.addToServer(healthServer);
    const server = healthServer;
    await new Promise<number>((resolve, reject) =>
      server.bindAsync(config.healthAddress!, grpc.ServerCredentials.createInsecure(), (err, p) =>
        err ? reject(err) : resolve(p),
      ),
    );
  }
  for (const s of services) health.setStatus(s.name, 'SERVING');
  health.setStatus('', 'SERVING');
  log.info('serving', {
    address,
    services: services.map((s) => s.name),
    ...(config.healthAddress && { healthAddress: config.healthAddress }),
    tls: security.tls ? (security.tls.clientAuth ? 'mutual' : 'server') : 'off',
    tokens: security.tokens.length ? `${security.tokens.length} accepted` : 'off',
  });
  const peers = new Set(services.flatMap((s) => (s.peers ? [s.peers] : [])));
  for (const p of peers) p.listening(address);
  for (const s of services) s.onListening?.();

  let stopping: Promise<void> | undefined;
  const shutdown = (reason = 'shutdown') =>
    (stopping ??= (async () => {
      log.info('shutting down', { reason, graceMs: config.shutdownGraceMs });
      health.setStatus('', 'NOT_SERVING');
      for (const s of services) health.setStatus(s.name, 'NOT_SERVING');
      const deadline = Date.now() + config.shutdownGraceMs;
      for (const s of services) {
        if (!s.onShutdown) continue;
        try {
          await withTimeout(s.onShutdown(), Math.max(0, deadline - Date.now()));
        } catch (err) {
          log.error('shutdown hook failed', { service: s.name, err });
        }
      }
      const drained = await new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => resolve(false), Math.max(0, deadline - Date.now()));
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve(true);
        });
      });
      if (!drained) {
        log.warn('drain deadline passed; closing the remaining calls');
        server.forceShutdown();
      }
      healthServer?.forceShutdown();
      for (const p of peers) p.close();
      for (const s of services) {
        try {
          await s.onClose?.();
        } catch (err) {
          log.error('close hook failed', { service: s.name, err });
        }
      }
      log.info('stopped', { drained });
    })());

  return { port, address, setStatus: (s, st) => health.setStatus(s, st), shutdown };
}

async function withTimeout<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), ms)));
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
