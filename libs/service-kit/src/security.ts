// The doors: TLS on servers and clients (certificate files watched and reloaded when they change, mutual
// TLS when asked) and bearer tokens with scopes, checked by one server interceptor on every RPC. Answers
// to a refused call say no more than they must: which token or which certificate is never named.
import { createHash, timingSafeEqual } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { experimental } from '@grpc/grpc-js';

/** What a token may do; each scope includes the ones before it (admin ⊃ train ⊃ read). */
export const SCOPES = ['read', 'train', 'admin'] as const;
export type Scope = (typeof SCOPES)[number];

export interface TokenEntry {
  /** Who holds it (for logs; never sent back to a caller). */
  name: string;
  token: string;
  scopes: Scope[];
}

export interface SecurityConfig {
  /** The certificate this process serves with (and presents as a client under mutual TLS). */
  tls?: {
    cert: string;
    key: string;
    /** CA bundle that verifies peers: servers' certificates, and clients' under mutual TLS. */
    ca?: string;
    /** Servers require a client certificate signed by `ca`. */
    clientAuth: boolean;
  };
  /** CA bundle this process verifies servers with when it has no certificate of its own (the CLI). */
  ca?: string;
  /** How often certificate files are re-read (a rotated certificate is used without a restart). */
  reloadMs: number;
  /** Tokens servers accept; empty: no token is asked for. */
  tokens: TokenEntry[];
  /** The token this process presents (to peers, or as the CLI). */
  token?: string;
  /** The health service answers without a token (Kubernetes probes carry none). */
  healthOpen: boolean;
}

export const NO_SECURITY: SecurityConfig = { reloadMs: 60_000, tokens: [], healthOpen: true };

/** Methods that only read; every other RPC (compute and changes) needs `train`. New RPCs default to train. */
const READ_METHODS = new Set([
  'GetRun',
  'ListRuns',
  'WatchRun',
  'GetStudy',
  'ListStudies',
  'ListSuites',
  'ValidateSearchSpace',
]);

/** The scope a method needs, by its full path ("/floe.trainer.v1.TrainerService/StartRun"); 'open' needs none. */
export function requiredScope(path: string, healthOpen: boolean): Scope | 'open' {
  if (path.startsWith('/grpc.health.v1.Health/')) return healthOpen ? 'open' : 'read';
  if (path.startsWith('/grpc.reflection.')) return 'read';
  return READ_METHODS.has(path.slice(path.lastIndexOf('/') + 1)) ? 'read' : 'train';
}

function grants(scopes: Scope[], needed: Scope): boolean {
  const rank = (s: Scope) => SCOPES.indexOf(s);
  return scopes.some((s) => rank(s) >= rank(needed));
}

const digest = (token: string) => createHash('sha256').update(token).digest();

/**
 * The server interceptor that checks `authorization: Bearer <token>` against the accepted tokens:
 * UNAUTHENTICATED without a known token, PERMISSION_DENIED when its scopes do not reach the method.
 */
export function authInterceptor(config: Pick<SecurityConfig, 'tokens' | 'healthOpen'>): grpc.ServerInterceptor {
  // Compared as digests, in constant time, so a caller learns nothing from the time a refusal takes.
  const known = config.tokens.map((t) => ({ digest: digest(t.token), scopes: t.scopes }));
  const lookup = (token: string) => {
    const d = digest(token);
    let found: Scope[] | undefined;
    for (const k of known) if (timingSafeEqual(k.digest, d)) found = k.scopes;
    return found;
  };
  return (method, call) =>
    new grpc.ServerInterceptingCall(call, {
      start: (next) =>
        next({
          onReceiveMetadata: (metadata, mdNext) => {
            const needed = requiredScope(method.path, config.healthOpen);
            if (needed === 'open') return mdNext(metadata);
            const header = String(metadata.get('authorization')[0] ?? '');
            const token = /^Bearer (.+)$/i.exec(header)?.[1];
            const scopes = token ? lookup(token) : undefined;
            if (!scopes)
              return call.sendStatus({
                code: grpc.status.UNAUTHENTICATED,
                details: 'a valid bearer token is required',
                metadata: new grpc.Metadata(),
              });
            if (!grants(scopes, needed))
              return call.sendStatus({
                code: grpc.status.PERMISSION_DENIED,
                details: `this token does not allow ${method.path.slice(method.path.lastIndexOf('/') + 1)}`,
                metadata: new grpc.Metadata(),
              });
            mdNext(metadata);
          },
        }),
    });
}

/**
 * The server's credentials: TLS from watched files when it has a certificate, else plaintext; `loaded` settles
 * once the files were first read. Until then grpc-js drops every connection ("unloaded credentials"), so a
 * server is not ready before it: under load a first call could fail UNAVAILABLE.
 */
export function serverCredentials(config: SecurityConfig): {
  credentials: grpc.ServerCredentials;
  loaded: Promise<void>;
} {
  const tls = config.tls;
  if (!tls) return { credentials: grpc.ServerCredentials.createInsecure(), loaded: Promise.resolve() };
  const identity = new experimental.FileWatcherCertificateProvider({
    certificateFile: tls.cert,
    privateKeyFile: tls.key,
    refreshIntervalMs: config.reloadMs,
  });
  const ca =
    tls.clientAuth && tls.ca
      ? new experimental.FileWatcherCertificateProvider({
          caCertificateFile: tls.ca,
          refreshIntervalMs: config.reloadMs,
        })
      : null;
  const loaded = Promise.all([
    firstRead(
      (l) => identity.addIdentityCertificateListener(l),
      (l) => identity.removeIdentityCertificateListener(l),
    ),
    ca
      ? firstRead(
          (l) => ca.addCaCertificateListener(l),
          (l) => ca.removeCaCertificateListener(l),
        )
      : undefined,
  ]).then(() => undefined);
  // grpc-js passes its first argument on as the identity provider, the second as the CA.
  return { credentials: experimental.createCertificateProviderServerCredentials(identity, ca, tls.clientAuth), loaded };
}

/**
 * Settles when a certificate provider first delivers its files (read or not: a file that cannot be read was
 * refused when the configuration was loaded, and a later failure is the provider's to report), listening only
 * for that long.
 */
function firstRead(add: (listener: () => void) => void, remove: (listener: () => void) => void): Promise<void> {
  return new Promise((resolve) => {
    const listener = () => {
      remove(listener);
      resolve();
    };
    add(listener);
  });
}

/** The credentials this process dials with: TLS when it knows a CA (and presents its certificate under mutual TLS). */
export function channelCredentials(config: SecurityConfig): grpc.ChannelCredentials {
  const caFile = config.tls?.ca ?? config.ca;
  if (!caFile) return grpc.credentials.createInsecure();
  const ca = new experimental.FileWatcherCertificateProvider({
    caCertificateFile: caFile,
    refreshIntervalMs: config.reloadMs,
  });
  const identity = config.tls
    ? new experimental.FileWatcherCertificateProvider({
        certificateFile: config.tls.cert,
        privateKeyFile: config.tls.key,
        refreshIntervalMs: config.reloadMs,
      })
    : null;
  return experimental.createCertificateProviderChannelCredentials(ca, identity);
}

/** A client interceptor that presents `token` on every call (works over plaintext too, unlike call credentials). */
export function tokenInterceptor(token: string): grpc.Interceptor {
  return (options, nextCall) =>
    new grpc.InterceptingCall(nextCall(options), {
      start: (metadata, listener, next) => {
        metadata.set('authorization', `Bearer ${token}`);
        next(metadata, listener);
      },
    });
}

/** Parses accepted tokens: a JSON array of {name, token, scopes}; `source` names the variable for errors. */
export function parseTokens(text: string, source: string): TokenEntry[] {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new Error(`${source}: not JSON (expected [{"name": …, "token": …, "scopes": ["read"|"train"|"admin", …]}])`);
  }
  if (!Array.isArray(raw)) throw new Error(`${source}: expected a JSON array of tokens`);
  return raw.map((e: unknown, i) => {
    const t = e as Partial<TokenEntry>;
    if (typeof t?.name !== 'string' || !t.name) throw new Error(`${source}[${i}].name: a name is required`);
    if (typeof t.token !== 'string' || t.token.length < 16)
      throw new Error(`${source}[${i}].token: at least 16 characters`);
    if (
      !Array.isArray(t.scopes) ||
      !t.scopes.length ||
      !t.scopes.every((s) => (SCOPES as readonly string[]).includes(s))
    )
      throw new Error(`${source}[${i}].scopes: one or more of ${SCOPES.join(', ')}`);
    return { name: t.name, token: t.token, scopes: t.scopes };
  });
}
