// Clients for floe's services: the generated constructor plus the interceptor that carries the trace.
import * as grpc from '@grpc/grpc-js';
import { tracingClientInterceptor } from '@floe/telemetry';
import { channelCredentials, tokenInterceptor, type SecurityConfig } from './security.js';

export type ClientConstructor<C> = new (
  address: string,
  credentials: grpc.ChannelCredentials,
  options?: Partial<grpc.ClientOptions>,
) => C;

/**
 * A client with the trace-carrying interceptor, and with `security`: TLS when it names a CA, the bearer
 * token when it has one. Services reach peers through Peers (one channel per peer); this is for callers of
 * floe (the CLI, tests, platform code).
 */
export function createClient<C>(
  Ctor: ClientConstructor<C>,
  address: string,
  options: Partial<grpc.ClientOptions> = {},
  security?: SecurityConfig,
): C {
  return new Ctor(address, security ? channelCredentials(security) : grpc.credentials.createInsecure(), {
    'grpc.max_receive_message_length': 64 * 1024 * 1024,
    ...options,
    interceptors: [
      tracingClientInterceptor,
      ...(security?.token ? [tokenInterceptor(security.token)] : []),
      ...(options.interceptors ?? []),
    ],
  });
}

/** Promise form of a unary client call. */
export function call<Req, Res>(
  fn: (
    req: Req,
    metadata: grpc.Metadata,
    options: Partial<grpc.CallOptions>,
    cb: (err: grpc.ServiceError | null, res: Res) => void,
  ) => unknown,
  req: Req,
  options: Partial<grpc.CallOptions> = {},
): Promise<Res> {
  return new Promise((resolve, reject) =>
    fn(req, new grpc.Metadata(), options, (err, res) => (err ? reject(err) : resolve(res))),
  );
}

/** Collects a server stream; resolves with every message once it ends. */
export function collect<Res>(stream: grpc.ClientReadableStream<Res>): Promise<Res[]> {
  return new Promise((resolve, reject) => {
    const out: Res[] = [];
    stream.on('data', (m: Res) => out.push(m));
    stream.on('error', reject);
    stream.on('end', () => resolve(out));
  });
}
