// floe's configuration: one typed object, read once from the environment, failing fast on a bad value.
// The README's configuration table is this list.
import { resolve, isAbsolute } from 'node:path';
import { accessSync, constants, readFileSync } from 'node:fs';
import { availableParallelism, hostname } from 'node:os';
import { SERVICE_NAMES, type ServiceName } from '@floe/contracts';
import {
  BACKEND_CHOICES,
  COMPUTE_PRIORITIES,
  type BackendChoice,
  type ComputePriority,
} from '@floe/ml-runtime/choices';
import { parseTokens, type SecurityConfig } from './security.js';

export interface FloeConfig {
  /** host:port that `floe up` (or a single service) listens on. */
  address: string;
  /** host:port of a plaintext listener that serves only grpc.health.v1 (probes that cannot speak TLS or
   * present a token: Kubernetes' gRPC probes); unset: none. */
  healthAddress?: string;
  /** host:port of the Prometheus /metrics listener (FLOE_METRICS_ADDRESS); unset: none. */
  metricsAddress?: string;
  /** Root folder of the metadata database and the artifact store. */
  home: string;
  /** Folders that `file:` dataset references may read from. */
  dataRoots: string[];
  /** Folder of user evaluation suites. */
  suitesDir: string;
  /** Services this process hosts. */
  services: ServiceName[];
  /** Log level: debug, info, warn, error. */
  logLevel: LogLevel;
  /** Largest request or response message in bytes. */
  maxMessageBytes: number;
  /** Concurrent streams per HTTP/2 connection. */
  maxConcurrentStreams: number;
  /** How long shutdown drains in-flight calls before it forces them closed. */
  shutdownGraceMs: number;
  /** Largest dataset loaded, in bytes. */
  maxDatasetBytes: number;
  /** Training runs at once; more wait QUEUED. */
  maxConcurrentRuns: number;
  /** The newest checkpoints a run keeps when its spec sets no retention (FLOE_CHECKPOINT_KEEP_LAST); 0: all. */
  checkpointKeepLast: number;
  /** FLOE_CHECKPOINT_GRACE_MS: how long a checkpoint a retention dropped stays on disk for a reader that resolved it. */
  checkpointGraceMs: number;
  /** Threads of native kernels. */
  threads: number;
  /** TF.js backend of every model pass (training, scoring, evaluation). */
  tfBackend: BackendChoice;
  /** How compute threads yield the CPU (FLOE_COMPUTE_PRIORITY). */
  computePriority: ComputePriority;
  /** How long a model task's worker thread waits, idle, for the next call of its kind (0: a worker per call). */
  taskWorkerIdleMs: number;
  /** Addresses of peer services in other processes (FLOE_<SERVICE>_ADDRESS); a missing one is reached in this process. */
  peers: Partial<Record<ServiceName, string>>;
  /** TLS and bearer tokens (FLOE_TLS_*, FLOE_TOKENS*, FLOE_TOKEN*); all off by default. */
  security: SecurityConfig;
  /** Metadata in PostgreSQL (cluster mode) instead of SQLite files under home; unset: SQLite. */
  databaseUrl?: string;
  /** How long a PostgreSQL query keeps retrying on new connections (a server restart). */
  databaseRetryMs: number;
  /** Cluster mode: this replica's name in leases, a lease's length, and takeovers allowed per run. */
  cluster: { replicaId: string; leaseMs: number; maxTakeovers: number };
}

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** Every service floe has, from the contracts (one per proto/floe/<service>/v1 folder). */
export const ALL_SERVICES = Object.keys(SERVICE_NAMES) as ServiceName[];

/** The variable that points at a peer service in another process: FLOE_DATA_PROFILER_ADDRESS, … */
export function peerAddressVariable(service: ServiceName): string {
  return `FLOE_${service.toUpperCase().replace(/-/g, '_')}_ADDRESS`;
}

/** Every variable floe reads, with its default and meaning (the README's table). */
export const CONFIG_VARIABLES = [
  ['FLOE_ADDRESS', '127.0.0.1:50051', 'host:port the server listens on'],
  [
    'FLOE_HEALTH_ADDRESS',
    'unset',
    "host:port of a plaintext listener serving only grpc.health.v1, without TLS or tokens (Kubernetes' gRPC probes)",
  ],
  ['FLOE_HOME', './.floe', 'root of the SQLite metadata database and the artifact store'],
  [
    'FLOE_DATA_ROOTS',
    '$FLOE_HOME/data',
    'folders (":"-separated) that file: dataset references may read; anything else is PERMISSION_DENIED',
  ],
  ['FLOE_SERVICES', 'all five', 'comma-separated services this process hosts'],
  [
    'FLOE_METRICS_ADDRESS',
    'unset',
    "host:port of an HTTP listener serving the process's metrics at /metrics for Prometheus to scrape (OTLP export follows OTEL_EXPORTER_OTLP_ENDPOINT)",
  ],
  ['FLOE_SUITES_DIR', '$FLOE_HOME/suites', 'folder of user evaluation suites (*.yaml) besides the builtin ones'],
  ['FLOE_LOG_LEVEL', 'info', 'debug, info, warn or error (JSON lines on stderr)'],
  ['FLOE_MAX_MESSAGE_BYTES', '16777216', 'largest gRPC message accepted or sent'],
  ['FLOE_MAX_CONCURRENT_STREAMS', '100', 'concurrent streams per HTTP/2 connection'],
  ['FLOE_SHUTDOWN_GRACE_MS', '5000', 'drain time on SIGTERM before calls are forced closed'],
  ['FLOE_MAX_DATASET_BYTES', '536870912', 'largest dataset a service loads; larger is RESOURCE_EXHAUSTED'],
  ['FLOE_MAX_CONCURRENT_RUNS', '1', 'training runs at once; the rest wait QUEUED'],
  [
    'FLOE_CHECKPOINT_KEEP_LAST',
    '0',
    "checkpoints a run keeps when its spec sets no checkpoint_retention: the newest N and, when it evaluates, its best (besides its latest, exported ones and other runs' bases); 0 keeps every one",
  ],
  [
    'FLOE_CHECKPOINT_GRACE_MS',
    '60000',
    'how long a checkpoint a retention dropped stays on disk, so that a service which resolved it just before (the evaluator reading a run still training) can open it; pending deletions survive a restart',
  ],
  ['FLOE_THREADS', 'all cores', 'threads of the native kernels'],
  ['FLOE_TF_BACKEND', 'auto', 'TF.js backend: auto, tensorflow, native, wasm or cpu'],
  [
    'FLOE_COMPUTE_PRIORITY',
    'idle',
    'how training and other compute threads yield the CPU: idle (SCHED_IDLE — the gRPC event loop never waits for them, but a busy process beside floe in the same cgroup, as on a shared host outside containers, starves them), low (nice 10) or normal',
  ],
  [
    'FLOE_TASK_WORKER_IDLE_MS',
    '60000',
    'how long the worker thread of a model call (Evaluate, Predict, Generate, Explain, drift scoring, Export) stays up after it answers, to serve the next call of its kind without loading TF.js again (~0.6 s; at most two idle per kind); 0 starts a worker per call',
  ],
  [
    'FLOE_TRAINER_ADDRESS',
    'this server',
    'where other services reach the trainer (host:port, dns:///headless-service:port or ipv4:h:p,h:p for replicas, balanced round-robin); unset: the process hosting them',
  ],
  [
    'FLOE_DATA_PROFILER_ADDRESS',
    'this server',
    'where the trainer reaches the data-profiler (ADE plans); unset: the process hosting it',
  ],
  [
    'FLOE_DATABASE_URL',
    'unset',
    'postgres://user:password@host:5432/db: metadata in PostgreSQL (cluster mode, a schema per service); unset: SQLite under FLOE_HOME',
  ],
  ['FLOE_DATABASE_RETRY_MS', '10000', 'how long a PostgreSQL query retries on new connections (a server restart)'],
  ['FLOE_REPLICA_ID', 'host-pid', "cluster mode: this replica's name in the run leases (a pod's name)"],
  [
    'FLOE_LEASE_MS',
    '15000',
    "cluster mode: a run's lease; a replica that stops renewing loses its runs to another after this long",
  ],
  ['FLOE_MAX_TAKEOVERS', '3', 'cluster mode: how often a run is taken over after its replica died before it FAILS'],
  ['FLOE_TLS_CERT', 'unset', 'PEM certificate the servers present (with FLOE_TLS_KEY); unset: plaintext'],
  ['FLOE_TLS_KEY', 'unset', 'PEM private key of FLOE_TLS_CERT'],
  [
    'FLOE_TLS_CA',
    'unset',
    'PEM CA bundle that verifies servers (clients use TLS when set) and, under mutual TLS, clients',
  ],
  ['FLOE_TLS_CLIENT_AUTH', 'none', 'require: servers accept only clients with a certificate signed by FLOE_TLS_CA'],
  ['FLOE_TLS_RELOAD_MS', '60000', 'how often certificate files are re-read (rotation without a restart)'],
  [
    'FLOE_TOKENS_FILE',
    'unset',
    'JSON [{"name","token","scopes":["read"|"train"|"admin"]}] of accepted bearer tokens; unset (and no FLOE_TOKENS): no token asked',
  ],
  ['FLOE_TOKENS', 'unset', 'the same JSON inline (e.g. from a Kubernetes Secret)'],
  ['FLOE_TOKEN_FILE', 'unset', 'file holding the bearer token this process presents (to peers; the CLI)'],
  ['FLOE_TOKEN', 'unset', 'the bearer token this process presents, inline'],
  ['FLOE_HEALTH_OPEN', 'true', 'false: the health service asks for a token too'],
  ['OTEL_EXPORTER_OTLP_ENDPOINT', 'unset', 'export traces over OTLP/gRPC to this endpoint; unset exports nothing'],
  ['OTEL_SERVICE_NAME', 'floe or the service', 'service.name of exported spans'],
] as const;

export class ConfigError extends Error {
  constructor(variable: string, value: string, expected: string) {
    super(`invalid ${variable}=${JSON.stringify(value)}: expected ${expected}`);
    this.name = 'ConfigError';
  }
}

function int(
  env: NodeJS.ProcessEnv,
  name: string,
  fallback: number,
  min: number,
  max = Number.MAX_SAFE_INTEGER,
): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) throw new ConfigError(name, raw, `an integer in [${min}, ${max}]`);
  return n;
}

function checkAddress(name: string, raw: string): string {
  const m = /^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(raw);
  if (!m || Number(m[2]) > 65535) throw new ConfigError(name, raw, 'host:port, e.g. 127.0.0.1:50051');
  return raw;
}

function address(env: NodeJS.ProcessEnv): string {
  return checkAddress('FLOE_ADDRESS', env.FLOE_ADDRESS ?? '127.0.0.1:50051');
}

/**
 * A peer's address: host:port, or several replicas behind one name — `dns:///host:port` (a headless
 * Kubernetes Service: every endpoint it resolves to) or `ipv4:h:p,h:p,…` — which clients balance round-robin.
 */
function peer(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const raw = env[name];
  if (!raw) return undefined;
  if (raw.startsWith('dns:///')) return (checkAddress(name, raw.slice(7)), raw);
  if (raw.startsWith('ipv4:')) {
    for (const a of raw.slice(5).split(',')) checkAddress(name, a);
    return raw;
  }
  return checkAddress(name, raw);
}

function backend(env: NodeJS.ProcessEnv): BackendChoice {
  const raw = env.FLOE_TF_BACKEND || 'auto';
  if (!(BACKEND_CHOICES as readonly string[]).includes(raw))
    throw new ConfigError('FLOE_TF_BACKEND', raw, `one of ${BACKEND_CHOICES.join(', ')}`);
  return raw as BackendChoice;
}

function computePriority(env: NodeJS.ProcessEnv): ComputePriority {
  const raw = env.FLOE_COMPUTE_PRIORITY || 'idle';
  if (!(COMPUTE_PRIORITIES as readonly string[]).includes(raw))
    throw new ConfigError('FLOE_COMPUTE_PRIORITY', raw, `one of ${COMPUTE_PRIORITIES.join(', ')}`);
  return raw as ComputePriority;
}

function readableFile(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const raw = env[name];
  if (!raw) return undefined;
  const path = resolve(raw);
  try {
    accessSync(path, constants.R_OK);
  } catch {
    throw new ConfigError(name, raw, 'a readable file');
  }
  return path;
}

function security(env: NodeJS.ProcessEnv): SecurityConfig {
  const cert = readableFile(env, 'FLOE_TLS_CERT');
  const key = readableFile(env, 'FLOE_TLS_KEY');
  const ca = readableFile(env, 'FLOE_TLS_CA');
  if (!!cert !== !!key)
    throw new ConfigError(cert ? 'FLOE_TLS_KEY' : 'FLOE_TLS_CERT', '', 'FLOE_TLS_CERT and FLOE_TLS_KEY together');
  const clientAuthRaw = env.FLOE_TLS_CLIENT_AUTH || 'none';
  if (clientAuthRaw !== 'none' && clientAuthRaw !== 'require')
    throw new ConfigError('FLOE_TLS_CLIENT_AUTH', clientAuthRaw, 'none or require');
  const clientAuth = clientAuthRaw === 'require';
  if (clientAuth && !(cert && ca))
    throw new ConfigError(
      'FLOE_TLS_CLIENT_AUTH',
      clientAuthRaw,
      'FLOE_TLS_CERT, FLOE_TLS_KEY and FLOE_TLS_CA with require',
    );
  const tokensFile = readableFile(env, 'FLOE_TOKENS_FILE');
  const tokens = [
    ...(tokensFile ? tokensFrom(readFileSync(tokensFile, 'utf8'), 'FLOE_TOKENS_FILE') : []),
    ...(env.FLOE_TOKENS ? tokensFrom(env.FLOE_TOKENS, 'FLOE_TOKENS') : []),
  ];
  const tokenFile = readableFile(env, 'FLOE_TOKEN_FILE');
  const token = env.FLOE_TOKEN || (tokenFile ? readFileSync(tokenFile, 'utf8').trim() : undefined);
  const healthOpen = env.FLOE_HEALTH_OPEN || 'true';
  if (healthOpen !== 'true' && healthOpen !== 'false')
    throw new ConfigError('FLOE_HEALTH_OPEN', healthOpen, 'true or false');
  return {
    tls: cert && key ? { cert, key, ca, clientAuth } : undefined,
    ca,
    reloadMs: int(env, 'FLOE_TLS_RELOAD_MS', 60_000, 100, 86_400_000),
    tokens,
    token: token || undefined,
    healthOpen: healthOpen === 'true',
  };
}

function tokensFrom(text: string, variable: string) {
  try {
    return parseTokens(text, variable);
  } catch (err) {
    // The message names the entry and the field, never a token's value.
    throw new ConfigError(variable, '…', (err as Error).message);
  }
}

/** Resolves the configuration from `env` (default: process.env); throws ConfigError on any bad value. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): FloeConfig {
  const home = resolve(env.FLOE_HOME || './.floe');
  const roots = (env.FLOE_DATA_ROOTS || resolve(home, 'data')).split(':').filter(Boolean);
  for (const r of roots)
    if (!isAbsolute(r) && r.startsWith('~')) throw new ConfigError('FLOE_DATA_ROOTS', r, 'paths without ~');
  const services = (env.FLOE_SERVICES || ALL_SERVICES.join(','))
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean) as ServiceName[];
  for (const s of services) {
    if (!(ALL_SERVICES as string[]).includes(s))
      throw new ConfigError('FLOE_SERVICES', s, `one of ${ALL_SERVICES.join(', ')}`);
  }
  const logLevel = (env.FLOE_LOG_LEVEL || 'info') as LogLevel;
  if (!['debug', 'info', 'warn', 'error'].includes(logLevel))
    throw new ConfigError('FLOE_LOG_LEVEL', logLevel, 'debug, info, warn or error');
  return {
    address: address(env),
    healthAddress: env.FLOE_HEALTH_ADDRESS ? checkAddress('FLOE_HEALTH_ADDRESS', env.FLOE_HEALTH_ADDRESS) : undefined,
    metricsAddress: env.FLOE_METRICS_ADDRESS
      ? checkAddress('FLOE_METRICS_ADDRESS', env.FLOE_METRICS_ADDRESS)
      : undefined,
    home,
    dataRoots: roots.map((r) => resolve(r)),
    suitesDir: resolve(env.FLOE_SUITES_DIR || resolve(home, 'suites')),
    services,
    logLevel,
    maxMessageBytes: int(env, 'FLOE_MAX_MESSAGE_BYTES', 16 * 1024 * 1024, 1024, 1024 * 1024 * 1024),
    maxConcurrentStreams: int(env, 'FLOE_MAX_CONCURRENT_STREAMS', 100, 1, 100000),
    shutdownGraceMs: int(env, 'FLOE_SHUTDOWN_GRACE_MS', 5000, 0, 600000),
    maxDatasetBytes: int(env, 'FLOE_MAX_DATASET_BYTES', 512 * 1024 * 1024, 1),
    maxConcurrentRuns: int(env, 'FLOE_MAX_CONCURRENT_RUNS', 1, 1, 64),
    checkpointKeepLast: int(env, 'FLOE_CHECKPOINT_KEEP_LAST', 0, 0, 1_000_000),
    checkpointGraceMs: int(env, 'FLOE_CHECKPOINT_GRACE_MS', 60_000, 0, 86_400_000),
    threads: int(env, 'FLOE_THREADS', availableParallelism(), 1, 256),
    tfBackend: backend(env),
    computePriority: computePriority(env),
    taskWorkerIdleMs: int(env, 'FLOE_TASK_WORKER_IDLE_MS', 60_000, 0, 86_400_000),
    peers: Object.fromEntries(
      ALL_SERVICES.flatMap((name) => {
        const a = peer(env, peerAddressVariable(name));
        return a ? [[name, a]] : [];
      }),
    ),
    security: security(env),
    databaseUrl: databaseUrl(env),
    databaseRetryMs: int(env, 'FLOE_DATABASE_RETRY_MS', 10_000, 0, 3_600_000),
    cluster: {
      replicaId: replicaId(env),
      leaseMs: int(env, 'FLOE_LEASE_MS', 15_000, 250, 3_600_000),
      maxTakeovers: int(env, 'FLOE_MAX_TAKEOVERS', 3, 0, 1000),
    },
  };
}

function replicaId(env: NodeJS.ProcessEnv): string {
  const raw = env.FLOE_REPLICA_ID || `${hostname()}-${process.pid}`;
  if (!/^[A-Za-z0-9._-]{1,128}$/.test(raw)) throw new ConfigError('FLOE_REPLICA_ID', raw, '1–128 of A-Z a-z 0-9 . _ -');
  return raw;
}

function databaseUrl(env: NodeJS.ProcessEnv): string | undefined {
  const raw = env.FLOE_DATABASE_URL;
  if (!raw) return undefined;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError('FLOE_DATABASE_URL', raw.replace(/:[^:@/]*@/, ':***@'), 'a postgres:// URL');
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:')
    throw new ConfigError('FLOE_DATABASE_URL', `${url.protocol}//…`, 'a postgres:// URL');
  return raw;
}
