// Test helpers: a temporary FLOE_HOME, a real server on 127.0.0.1:0, health and reflection clients, and
// assertions on gRPC status codes and BadRequest field violations.
import * as grpc from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { service as healthService } from 'grpc-health-check';
import assert from 'node:assert/strict';
import { mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './ports.js';
import {
  createLogger,
  fieldViolations,
  loadConfig,
  startServer,
  type FloeConfig,
  type FloeServer,
  type HostedService,
  type Logger,
} from '@floe/service-kit';

export function tempDir(prefix = 'floe-test-'): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

export function testConfig(home: string, env: NodeJS.ProcessEnv = {}): FloeConfig {
  return loadConfig({
    FLOE_HOME: home,
    FLOE_ADDRESS: '127.0.0.1:0',
    FLOE_SHUTDOWN_GRACE_MS: '2000',
    // auto, as floe runs: the native kernels where npm ci built them, else wasm. Tests compare numbers within
    // one backend (a resumed curve against the same run uninterrupted). The heaviest run 2–3x faster on native
    // (the plan search's pilots, floe adapt --demo); a whole npm test's tests took 1,458–1,590 s against
    // 1,672–1,805 s on wasm (two runs each, 2 cores).
    FLOE_TF_BACKEND: 'auto',
    ...env,
  });
}

export const quietLog: Logger = createLogger('error');

export async function startTestServer(services: HostedService[], config: FloeConfig): Promise<FloeServer> {
  return startServer({ config, services, log: quietLog });
}

type HealthClient = grpc.Client & {
  check(req: { service: string }, cb: (err: grpc.ServiceError | null, res: { status: string }) => void): void;
  watch(req: { service: string }): grpc.ClientReadableStream<{ status: string }>;
};

export function healthClient(address: string, credentials = grpc.credentials.createInsecure()): HealthClient {
  const Ctor = grpc.makeGenericClientConstructor(healthService, 'grpc.health.v1.Health') as unknown as new (
    a: string,
    c: grpc.ChannelCredentials,
  ) => HealthClient;
  return new Ctor(address, credentials);
}

export function healthStatus(
  address: string,
  service: string,
  credentials = grpc.credentials.createInsecure(),
): Promise<string> {
  const client = healthClient(address, credentials);
  return new Promise((resolve, reject) =>
    client.check({ service }, (err, res) => {
      client.close();
      if (err) reject(err);
      else resolve(String(res.status));
    }),
  );
}

const require = createRequire(import.meta.url);

/** Lists services through server reflection (v1 or v1alpha). */
export function reflectionServices(address: string, version: 'v1' | 'v1alpha' = 'v1'): Promise<string[]> {
  const protoPath = require.resolve(`@grpc/reflection/build/proto/grpc/reflection/${version}/reflection.proto`);
  const pkg = grpc.loadPackageDefinition(loadSync(protoPath, { keepCase: true })) as unknown as {
    grpc: {
      reflection: Record<
        string,
        {
          ServerReflection: new (
            a: string,
            c: grpc.ChannelCredentials,
          ) => grpc.Client & {
            serverReflectionInfo(): grpc.ClientDuplexStream<
              unknown,
              { list_services_response?: { service: { name: string }[] } }
            >;
          };
        }
      >;
    };
  };
  const client = new pkg.grpc.reflection[version]!.ServerReflection(address, grpc.credentials.createInsecure());
  return new Promise((resolve, reject) => {
    const stream = client.serverReflectionInfo();
    stream.on('data', (res) => {
      resolve((res.list_services_response?.service ?? []).map((s: { name: string }) => s.name));
      stream.end();
      client.close();
    });
    stream.on('error', reject);
    stream.write({ list_services: '' });
  });
}

/** Awaits a call that must fail with `code`; with `field`, a BadRequest violation must name it. */
export async function rejectsWith(
  promise: Promise<unknown>,
  code: grpc.status,
  field?: string,
): Promise<grpc.ServiceError> {
  try {
    await promise;
  } catch (err) {
    const e = err as grpc.ServiceError;
    assert.equal(
      grpc.status[e.code],
      grpc.status[code],
      `expected ${grpc.status[code]}, got ${grpc.status[e.code]}: ${e.details}`,
    );
    if (field) {
      const fields = fieldViolations(e).map((v) => v.field);
      assert.ok(fields.includes(field), `expected a violation of ${field}, got ${JSON.stringify(fields)}`);
    }
    return e;
  }
  assert.fail(`expected ${grpc.status[code]}, but the call succeeded`);
}

/** Waits until the server at `address` reports SERVING; returns how long that took. */
export async function waitServing(address: string, ms: number): Promise<number> {
  const start = Date.now();
  while (Date.now() - start < ms) {
    try {
      if ((await healthStatus(address, '')) === 'SERVING') return Date.now() - start;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`not SERVING within ${ms} ms`);
}

/** A `floe up` in a child process, as an operator runs it. */
export interface FloeProcess {
  child: ChildProcess;
  address: string;
  exited: Promise<number | null>;
}

/**
 * Starts `floe up` in a child process on a free port with FLOE_HOME `home` (backend auto, errors-only
 * logs) and `env` on top; resolves once it is SERVING. Tests kill it (SIGKILL) and start it again on the
 * same home to check what survives.
 */
export async function spawnFloe(home: string, env: NodeJS.ProcessEnv = {}): Promise<FloeProcess> {
  const address = `127.0.0.1:${await freePort()}`;
  const child = spawn(process.execPath, ['apps/cli/bin/floe.js', 'up'], {
    cwd: new URL('../../..', import.meta.url).pathname,
    env: {
      ...process.env,
      FLOE_HOME: home,
      FLOE_ADDRESS: address,
      FLOE_LOG_LEVEL: process.env.FLOE_TEST_LOGS ? 'warn' : 'error',
      FLOE_TF_BACKEND: 'auto',
      ...env,
    },
    // FLOE_TEST_LOGS=DIR keeps each child's log (DIR/<port>.log) to debug a failing test.
    stdio: process.env.FLOE_TEST_LOGS
      ? ['ignore', 'ignore', openSync(join(process.env.FLOE_TEST_LOGS, `${address.split(':')[1]}.log`), 'w')]
      : 'ignore',
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  await waitServing(address, 60_000);
  return { child, address, exited };
}

/** PEM files of a test PKI, made fresh by openssl for each test run (no key is ever committed). */
export interface TestCertificates {
  /** Two unrelated CAs. */
  ca: string;
  otherCa: string;
  /** A server certificate for 127.0.0.1 / localhost signed by `ca`, and one signed by `otherCa`. */
  server: { cert: string; key: string };
  serverByOtherCa: { cert: string; key: string };
  /** A client certificate signed by `ca` (mutual TLS). */
  client: { cert: string; key: string };
}

export function makeCertificates(dir: string): TestCertificates {
  const run = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  const ca = (name: string) => {
    run(
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-days',
      '2',
      '-subj',
      `/CN=${name}`,
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.pem`,
    );
    return join(dir, `${name}.pem`);
  };
  const leaf = (name: string, caName: string, ext: string) => {
    run(
      'req',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-subj',
      `/CN=${name}`,
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.csr`,
    );
    writeFileSync(join(dir, `${name}.ext`), ext);
    run(
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      `${caName}.pem`,
      '-CAkey',
      `${caName}.key`,
      '-CAcreateserial',
      '-days',
      '2',
      '-extfile',
      `${name}.ext`,
      '-out',
      `${name}.pem`,
    );
    return { cert: join(dir, `${name}.pem`), key: join(dir, `${name}.key`) };
  };
  const serverExt = 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n';
  return {
    ca: ca('ca'),
    otherCa: ca('other-ca'),
    server: leaf('server', 'ca', serverExt),
    serverByOtherCa: leaf('server-other', 'other-ca', serverExt),
    client: leaf('client', 'ca', 'extendedKeyUsage=clientAuth\n'),
  };
}

export { writeDigitFolder, type DigitFolderOptions } from './image-folders.js';
export { turnsDuring } from './event-loop.js';
export { startPostgres, postgresBin, type TestPostgres } from './postgres.js';
export { freePort };
export {
  memoryDaemonThreads,
  startCpuStallProbes,
  startStallProbe,
  startThreadRunMonitor,
  stalledWithin,
  type Stall,
  type StallProbe,
  type StallProbes,
} from './stall-probe.js';
