// floe's typed client: one object per service with one method per RPC, made from the generated service
// definitions (so a new RPC appears without an edit here). Unary calls return promises, server streams
// are async iterators; requests may be partial (the contract's defaults fill the rest); a call that finds
// the service UNAVAILABLE is retried with the very same request — its request_id makes that safe.
import { readFileSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import {
  SERVICE_NAMES,
  dataProfilerV1,
  evaluatorV1,
  explainerV1,
  hpoSurrogateV1,
  trainerV1,
  type ServiceName,
} from '@floe/contracts';
import { FloeApiError } from './errors.js';

/** How to reach floe. */
export interface ClientOptions {
  /** host:port of floe (all five services, as `floe up` serves them); default 127.0.0.1:50051. */
  address?: string;
  /** A service that runs elsewhere (Kubernetes: its Service), by name. */
  addresses?: Partial<Record<ServiceName, string>>;
  /** TLS: the CA that signs the servers' certificates (PEM text or a file path); with cert and key under mutual TLS. */
  tls?: { ca: string; cert?: string; key?: string };
  /** Bearer token presented on every call. */
  token?: string;
  /** Attempts of a call that finds the service UNAVAILABLE (same request); default 5. */
  attempts?: number;
  /** First wait between attempts in ms, doubling; default 200. */
  backoffMs?: number;
  /** More interceptors (e.g. the one that carries a trace). */
  interceptors?: grpc.Interceptor[];
}

export interface CallOptions {
  /** Deadline of this call in ms from now. */
  timeoutMs?: number;
  /** Cancels the call. */
  signal?: AbortSignal;
}

interface MethodDefinition {
  path: string;
  requestStream: boolean;
  responseStream: boolean;
  requestSerialize(value: never): Buffer;
  responseDeserialize(bytes: Buffer): unknown;
}

type RequestOf<M> = M extends { requestSerialize(value: infer R): Buffer } ? R : never;
type ResponseOf<M> = M extends { responseDeserialize(bytes: Buffer): infer R } ? R : never;
type DeepPartial<T> = T extends Buffer | Date
  ? T
  : T extends (infer U)[]
    ? DeepPartial<U>[]
    : T extends { $case: string }
      ? T
      : T extends object
        ? { [K in keyof T]?: DeepPartial<T[K]> }
        : T;

/** The methods of one service: unary ones answer a promise, streaming ones an async iterator. */
export type ServiceApi<D> = {
  [K in keyof D]: D[K] extends { responseStream: true }
    ? (request?: DeepPartial<RequestOf<D[K]>>, options?: CallOptions) => AsyncIterable<ResponseOf<D[K]>>
    : (request?: DeepPartial<RequestOf<D[K]>>, options?: CallOptions) => Promise<ResponseOf<D[K]>>;
};

/** Each service's definition and the module holding its messages (for fromPartial). */
const SERVICES = {
  'data-profiler': { definition: dataProfilerV1.DataProfilerServiceService, messages: dataProfilerV1 },
  trainer: { definition: trainerV1.TrainerServiceService, messages: trainerV1 },
  'hpo-surrogate': { definition: hpoSurrogateV1.HpoSurrogateServiceService, messages: hpoSurrogateV1 },
  explainer: { definition: explainerV1.ExplainerServiceService, messages: explainerV1 },
  evaluator: { definition: evaluatorV1.EvaluatorServiceService, messages: evaluatorV1 },
} as const;

const pem = (textOrPath: string) =>
  Buffer.from(textOrPath.includes('-----BEGIN') ? textOrPath : readFileSync(textOrPath, 'utf8'));

export class FloeClient {
  readonly dataProfiler: ServiceApi<typeof dataProfilerV1.DataProfilerServiceService>;
  readonly trainer: ServiceApi<typeof trainerV1.TrainerServiceService>;
  readonly hpoSurrogate: ServiceApi<typeof hpoSurrogateV1.HpoSurrogateServiceService>;
  readonly explainer: ServiceApi<typeof explainerV1.ExplainerServiceService>;
  readonly evaluator: ServiceApi<typeof evaluatorV1.EvaluatorServiceService>;
  /** One channel per distinct address, shared by the services behind it. */
  private readonly channels = new Map<string, grpc.Client>();

  constructor(private readonly options: ClientOptions = {}) {
    this.dataProfiler = this.service('data-profiler');
    this.trainer = this.service('trainer');
    this.hpoSurrogate = this.service('hpo-surrogate');
    this.explainer = this.service('explainer');
    this.evaluator = this.service('evaluator');
  }

  /** Closes every channel. */
  close(): void {
    for (const c of this.channels.values()) c.close();
    this.channels.clear();
  }

  private channel(service: ServiceName): grpc.Client {
    const address = this.options.addresses?.[service] ?? this.options.address ?? '127.0.0.1:50051';
    let c = this.channels.get(address);
    if (!c) {
      const tls = this.options.tls;
      const credentials = tls
        ? grpc.credentials.createSsl(pem(tls.ca), tls.key ? pem(tls.key) : null, tls.cert ? pem(tls.cert) : null)
        : grpc.credentials.createInsecure();
      const token = this.options.token;
      const bearer: grpc.Interceptor = (options, next) =>
        new grpc.InterceptingCall(next(options), {
          start: (metadata, listener, nextStart) => {
            metadata.set('authorization', `Bearer ${token}`);
            nextStart(metadata, listener);
          },
        });
      c = new grpc.Client(address, credentials, {
        'grpc.max_receive_message_length': 64 * 1024 * 1024,
        interceptors: [...(this.options.interceptors ?? []), ...(token ? [bearer] : [])],
      });
      this.channels.set(address, c);
    }
    return c;
  }

  private service<N extends ServiceName>(name: N) {
    const { definition, messages } = SERVICES[name];
    const api: Record<string, unknown> = {};
    for (const [method, d] of Object.entries(definition) as [string, MethodDefinition][]) {
      const rpc = d.path.slice(d.path.lastIndexOf('/') + 1);
      const type = (messages as unknown as Record<string, { fromPartial(o: unknown): unknown }>)[`${rpc}Request`]!;
      api[method] = d.responseStream
        ? (request: unknown = {}, options: CallOptions = {}) => this.stream(name, d, type.fromPartial(request), options)
        : (request: unknown = {}, options: CallOptions = {}) => this.unary(name, d, type.fromPartial(request), options);
    }
    return api as never;
  }

  private callOptions(options: CallOptions): grpc.CallOptions {
    return options.timeoutMs ? { deadline: Date.now() + options.timeoutMs } : {};
  }

  /** The wait before attempt i + 1 of a call that failed with `err`; undefined when it is not retried. */
  private retryWait(i: number, err: unknown, signal?: AbortSignal): number | undefined {
    const retryable = err instanceof FloeApiError && err.code === grpc.status.UNAVAILABLE;
    if (!retryable || i >= (this.options.attempts ?? 5) || signal?.aborted) return undefined;
    return (this.options.backoffMs ?? 200) * 2 ** (i - 1);
  }

  private async retrying<T>(attempt: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    for (let i = 1; ; i++) {
      try {
        return await attempt();
      } catch (err) {
        const wait = this.retryWait(i, err, signal);
        if (wait === undefined) throw err;
        await new Promise((r) => setTimeout(r, wait));
      }
    }
  }

  private unary(service: ServiceName, d: MethodDefinition, request: unknown, options: CallOptions) {
    const channel = this.channel(service);
    return this.retrying(
      () =>
        new Promise((resolve, reject) => {
          const call = channel.makeUnaryRequest(
            d.path,
            (v: never) => d.requestSerialize(v),
            (b: Buffer) => d.responseDeserialize(b),
            request as never,
            new grpc.Metadata(),
            this.callOptions(options),
            (err, res) => (err ? reject(FloeApiError.from(err, SERVICE_NAMES[service])) : resolve(res)),
          );
          options.signal?.addEventListener('abort', () => call.cancel(), { once: true });
        }),
      options.signal,
    );
  }

  /** A server stream as an async iterator; retried while nothing has arrived yet. */
  private async *stream(
    service: ServiceName,
    d: MethodDefinition,
    request: unknown,
    options: CallOptions,
  ): AsyncGenerator<unknown> {
    const channel = this.channel(service);
    for (let i = 1; ; i++) {
      const call = channel.makeServerStreamRequest(
        d.path,
        (v: never) => d.requestSerialize(v),
        (b: Buffer) => d.responseDeserialize(b),
        request as never,
        new grpc.Metadata(),
        this.callOptions(options),
      );
      const abort = () => call.cancel();
      options.signal?.addEventListener('abort', abort, { once: true });
      let received = false;
      try {
        for await (const message of call) {
          received = true;
          yield message;
        }
        return;
      } catch (err) {
        const e = FloeApiError.from(err as grpc.ServiceError, SERVICE_NAMES[service]);
        const wait = received ? undefined : this.retryWait(i, e, options.signal);
        if (wait === undefined) throw e;
        await new Promise((r) => setTimeout(r, wait));
      } finally {
        options.signal?.removeEventListener('abort', abort);
        call.cancel();
      }
    }
  }
}
