// Trace context across gRPC calls. The OpenTelemetry gRPC instrumentation only patches grpc-js when it
// is loaded first under CommonJS; floe runs as ESM (tsx), so context travels through explicit
// interceptors: the client injects W3C traceparent into metadata, the server side extracts it.
import {
  context,
  propagation,
  SpanKind,
  SpanStatusCode,
  trace,
  type Context,
  type Span,
  type TextMapGetter,
  type TextMapSetter,
} from '@opentelemetry/api';
import * as grpc from '@grpc/grpc-js';
import { Attr } from './names.js';
import { floeMetrics } from './metrics.js';

const metadataSetter: TextMapSetter<grpc.Metadata> = {
  set: (carrier, key, value) => carrier.set(key, value),
};

const metadataGetter: TextMapGetter<grpc.Metadata> = {
  keys: (carrier) => Object.keys(carrier.getMap()),
  get: (carrier, key) => {
    const values = carrier.get(key);
    if (values.length === 0) return undefined;
    return values.map((v) => v.toString());
  },
};

function splitPath(path: string): { service: string; method: string } {
  const [, service = '', method = ''] = path.split('/');
  return { service, method };
}

/** Client interceptor: one CLIENT span per call, its context injected into the request metadata. */
export const tracingClientInterceptor: grpc.Interceptor = (options, nextCall) => {
  const path = options.method_definition.path;
  const { service, method } = splitPath(path);
  const parent = context.active();
  const span = trace.getTracer('floe').startSpan(
    path.slice(1),
    {
      kind: SpanKind.CLIENT,
      attributes: { [Attr.rpcSystem]: 'grpc', [Attr.rpcService]: service, [Attr.rpcMethod]: method },
    },
    parent,
  );
  const spanContext = trace.setSpan(parent, span);
  return new grpc.InterceptingCall(nextCall(options), {
    start(metadata, listener, next) {
      propagation.inject(spanContext, metadata, metadataSetter);
      next(metadata, {
        onReceiveStatus(status, nextStatus) {
          span.setAttribute(Attr.rpcStatusCode, status.code);
          if (status.code !== grpc.status.OK) span.setStatus({ code: SpanStatusCode.ERROR, message: status.details });
          span.end();
          nextStatus(status);
        },
      });
    },
  });
};

/** When each server span started (performance.now()), for the call's duration metric. */
const serverStarts = new WeakMap<Span, { start: number; service: string; method: string }>();

/** Server side: the context a caller sent, and a SERVER span under it for the handler to run in. */
export function startServerSpan(path: string, metadata: grpc.Metadata): { span: Span; ctx: Context } {
  const { service, method } = splitPath(path);
  const start = performance.now();
  const parent = propagation.extract(context.active(), metadata, metadataGetter);
  const span = trace.getTracer('floe').startSpan(
    path.slice(1),
    {
      kind: SpanKind.SERVER,
      attributes: { [Attr.rpcSystem]: 'grpc', [Attr.rpcService]: service, [Attr.rpcMethod]: method },
    },
    parent,
  );
  serverStarts.set(span, { start, service, method });
  return { span, ctx: trace.setSpan(parent, span) };
}

/** Ends a server span with the call's status code, and records the call's duration (rpc.server.call.duration). */
export function endServerSpan(span: Span, code: grpc.status, message?: string): void {
  const started = serverStarts.get(span);
  if (started)
    floeMetrics.rpcServed((performance.now() - started.start) / 1000, {
      [Attr.rpcSystem]: 'grpc',
      [Attr.rpcService]: started.service,
      [Attr.rpcMethod]: started.method,
      [Attr.rpcStatusCode]: code,
    });
  span.setAttribute(Attr.rpcStatusCode, code);
  if (code !== grpc.status.OK) span.setStatus({ code: SpanStatusCode.ERROR, message });
  span.end();
}
