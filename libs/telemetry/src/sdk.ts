// Starts the OpenTelemetry SDK. Only entry points (a service's main, the CLI, tests) call this.
import { NodeSDK } from '@opentelemetry/sdk-node';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  BatchSpanProcessor,
  InMemorySpanExporter,
  SimpleSpanProcessor,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from '@opentelemetry/semantic-conventions';

export type TelemetryExporter = 'auto' | 'otlp' | 'memory' | 'none';

export interface TelemetryHandle {
  /** Spans finished so far, when the exporter is `memory` (tests). */
  readonly memory?: InMemorySpanExporter;
  /** Exports everything buffered. */
  flush(): Promise<void>;
  /** Flushes and stops the SDK; safe to call twice. */
  shutdown(): Promise<void>;
}

/**
 * `auto` exports over OTLP/gRPC when OTEL_EXPORTER_OTLP_ENDPOINT (or the traces-specific variable) is
 * set and does nothing otherwise; `memory` keeps spans for tests.
 */
export function startTelemetry(opts: {
  serviceName: string;
  exporter?: TelemetryExporter;
  version?: string;
}): TelemetryHandle {
  const endpoint = process.env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ?? process.env.OTEL_EXPORTER_OTLP_ENDPOINT;
  let mode = opts.exporter ?? 'auto';
  if (mode === 'auto') mode = endpoint ? 'otlp' : 'none';

  // NodeSDK turns on OTLP metrics and logs by default; floe only exports traces unless told otherwise.
  process.env.OTEL_METRICS_EXPORTER ??= 'none';
  process.env.OTEL_LOGS_EXPORTER ??= 'none';

  const processors: SpanProcessor[] = [];
  let memory: InMemorySpanExporter | undefined;
  if (mode === 'otlp') processors.push(new BatchSpanProcessor(new OTLPTraceExporter(), { scheduledDelayMillis: 500 }));
  if (mode === 'memory') {
    memory = new InMemorySpanExporter();
    processors.push(new SimpleSpanProcessor(memory));
  }

  const sdk = new NodeSDK({
    resource: resourceFromAttributes({
      [ATTR_SERVICE_NAME]: process.env.OTEL_SERVICE_NAME ?? opts.serviceName,
      [ATTR_SERVICE_VERSION]: opts.version ?? '0.1.0',
    }),
    spanProcessors: processors,
    instrumentations: [],
  });
  sdk.start();

  let stopped: Promise<void> | undefined;
  return {
    memory,
    flush: async () => {
      await Promise.all(processors.map((p) => p.forceFlush()));
    },
    shutdown: () => (stopped ??= sdk.shutdown()),
  };
}
