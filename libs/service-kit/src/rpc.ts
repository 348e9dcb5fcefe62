// Binds async handlers to a generated service definition. Every call gets: a SERVER span joined to the
// caller's trace, an AbortSignal that fires on cancellation or deadline, INVALID_ARGUMENT for bytes that
// do not decode, mapped errors, and stream back-pressure. Methods without a handler answer UNIMPLEMENTED,
// naming the capability that is missing.
import * as grpc from '@grpc/grpc-js';
import { context } from '@opentelemetry/api';
import { FloeError, unimplemented } from '@floe/errors';
import { startServerSpan, endServerSpan } from '@floe/telemetry';
import { toServiceError } from './errors.js';
import type { Logger } from './logger.js';
import type { Peers } from './peers.js';

export interface CallContext {
  /** Aborts when the caller cancels or the deadline passes. */
  signal: AbortSignal;
  metadata: grpc.Metadata;
  /** The full method path, e.g. /floe.trainer.v1.TrainerService/GetRun. */
  method: string;
  log: Logger;
}

type MethodDef = {
  path: string;
  requestStream: boolean;
  responseStream: boolean;
  requestDeserialize: (b: Buffer) => unknown;
  responseSerialize: (v: never) => Buffer;
};
type ReqOf<M> = M extends { requestDeserialize: (b: Buffer) => infer R } ? R : never;
type ResOf<M> = M extends { responseSerialize: (v: infer R) => Buffer } ? R : never;
type HandlerOf<M> = M extends { responseStream: true }
  ? (req: ReqOf<M>, ctx: CallContext) => AsyncIterable<ResOf<M>>
  : (req: ReqOf<M>, ctx: CallContext) => Promise<ResOf<M>>;

/** Handlers of a service, one per method; a missing one answers UNIMPLEMENTED with `pending[method]`. */
export type ServiceHandlers<D> = { [K in keyof D]?: HandlerOf<D[K]> };

export interface HostedService {
  /** Fully qualified name, e.g. floe.trainer.v1.TrainerService. */
  name: string;
  definition: grpc.ServiceDefinition;
  implementation: grpc.UntypedServiceImplementation;
  /** Runs once the server listens and its peers are reachable (e.g. resume interrupted loops). */
  onListening?: () => void;
  /** Runs on shutdown before the server drains (e.g. the trainer checkpoints its runs). */
  onShutdown?: () => Promise<void>;
  /** Runs after the server stopped (close databases). */
  onClose?: () => Promise<void> | void;
  /** The clients of its peers; the server tells them its address once bound and closes them at the end. */
  peers?: Peers;
}

const MALFORMED = Symbol('malformed request');
type Malformed = { [MALFORMED]: string };

function withSafeDeserialize(definition: Record<string, MethodDef>): grpc.ServiceDefinition {
  const out: Record<string, MethodDef> = {};
  for (const [key, m] of Object.entries(definition)) {
    out[key] = {
      ...m,
      requestDeserialize: (b: Buffer) => {
        try {
          return m.requestDeserialize(b);
        } catch (err) {
          return { [MALFORMED]: (err as Error).message } satisfies Malformed;
        }
      },
    };
  }
  return out as unknown as grpc.ServiceDefinition;
}

function callSignal(call: grpc.ServerUnaryCall<unknown, unknown> | grpc.ServerWritableStream<unknown, unknown>): {
  signal: AbortSignal;
  dispose: () => void;
} {
  const controller = new AbortController();
  const onCancel = () => controller.abort(new FloeError('cancelled', 'the caller cancelled the call'));
  call.on('cancelled', onCancel);
  let timer: NodeJS.Timeout | undefined;
  // grpc-js gives the deadline as a Date or as epoch milliseconds (Infinity when there is none).
  const deadline = call.getDeadline();
  const ms = (deadline instanceof Date ? deadline.getTime() : Number(deadline)) - Date.now();
  if (Number.isFinite(ms)) {
    timer = setTimeout(
      () => controller.abort(new FloeError('deadline_exceeded', 'the deadline passed')),
      Math.min(2 ** 31 - 1, Math.max(0, ms)),
    );
  }
  return { signal: controller.signal, dispose: () => timer && clearTimeout(timer) };
}

export function defineService<D extends Record<string, MethodDef>>(
  name: string,
  definition: D,
  handlers: ServiceHandlers<D>,
  opts: {
    log: Logger;
    pending?: Partial<Record<keyof D, string>>;
    onListening?: () => void;
    onShutdown?: () => Promise<void>;
    onClose?: () => Promise<void> | void;
    peers?: Peers;
  },
): HostedService {
  const implementation: grpc.UntypedServiceImplementation = {};
  for (const [key, method] of Object.entries(definition)) {
    const handler = (handlers as Record<string, unknown>)[key] as
      ((req: unknown, ctx: CallContext) => unknown) | undefined;
    const missing = opts.pending?.[key as keyof D] ?? `${method.path}`;
    const run =
      handler ??
      (() => {
        throw unimplemented(missing);
      });
    const log = opts.log.child({ method: method.path });

    if (method.requestStream) throw new Error(`${method.path}: client streaming is not used by floe`);
    if (!method.responseStream) {
      implementation[key] = (call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) => {
        const { span, ctx } = startServerSpan(method.path, call.metadata);
        const { signal, dispose } = callSignal(call);
        context.with(ctx, async () => {
          try {
            const req = call.request as Malformed;
            if (req && typeof req === 'object' && MALFORMED in req)
              throw new FloeError('invalid_argument', `request does not decode: ${req[MALFORMED]}`);
            const res = await (run(call.request, {
              signal,
              metadata: call.metadata,
              method: method.path,
              log,
            }) as Promise<unknown>);
            endServerSpan(span, grpc.status.OK);
            callback(null, res);
          } catch (err) {
            const status = toServiceError(err, log, method.path);
            endServerSpan(span, status.code, status.details);
            callback(status as grpc.ServiceError);
          } finally {
            dispose();
          }
        });
      };
    } else {
      implementation[key] = (call: grpc.ServerWritableStream<unknown, unknown>) => {
        const { span, ctx } = startServerSpan(method.path, call.metadata);
        const { signal, dispose } = callSignal(call);
        context.with(ctx, async () => {
          try {
            const req = call.request as Malformed;
            if (req && typeof req === 'object' && MALFORMED in req)
              throw new FloeError('invalid_argument', `request does not decode: ${req[MALFORMED]}`);
            const stream = run(call.request, {
              signal,
              metadata: call.metadata,
              method: method.path,
              log,
            }) as AsyncIterable<unknown>;
            for await (const message of stream) {
              if (signal.aborted) break;
              if (!call.write(message)) await new Promise((resolve) => call.once('drain', resolve));
            }
            endServerSpan(span, grpc.status.OK);
            call.end();
          } catch (err) {
            const status = toServiceError(err, log, method.path);
            endServerSpan(span, status.code, status.details);
            if (!call.cancelled) call.emit('error', status);
          } finally {
            dispose();
          }
        });
      };
    }
  }
  return {
    name,
    definition: withSafeDeserialize(definition),
    implementation,
    onListening: opts.onListening,
    onShutdown: opts.onShutdown,
    onClose: opts.onClose,
    peers: opts.peers,
  };
}
