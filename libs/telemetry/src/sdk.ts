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
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-grpc';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import {
  MetricReader,
  PeriodicExportingMetricReader,
  type IMetricReader,
  type ResourceMetrics,
} from '@opentelemetry/sdk-metrics';

/** OTEL_METRICS_EXPORTER as the process was given it (startTelemetry sets it for NodeSDK's sake). */
const METRICS_EXPORTER_AS_GIVEN = process.env.OTEL_METRICS_EXPORTER;

/** A reader that exports nothing by itself: tests collect from it when they look. */
class CollectingMetricReader extends MetricReader {
  protected async onForceFlush(): Promise<void> {}
  protected async onShutdown(): Promise<void> {}
}

export type TelemetryExporter = 'auto' | 'otlp' | 'memory' | 'none';

export interface TelemetryHandle {
  /** Spans finished so far, when the exporter is `memory` (tests). */
  readonly memory?: InMemorySpanExporter;
  /** The metrics recorded so far, when the exporter is `memory` (tests). */
  collectMetrics?(): Promise<ResourceMetrics>;
  /** Where the Prometheus endpoint listens, when `metricsAddress` asked for one. */
  readonly metricsUrl?: string;
  /** Exports everything buffered. */
  flush(): Promise<void>;
  /** Flushes and stops the SDK; safe to call twice. */
  shutdown(): Promise<void>;
}

/**
 * `auto` exports traces and metrics over OTLP/gRPC when OTEL_EXPORTER_OTLP_ENDPOINT (or the signal's own
 * variable) is set and does nothing otherwise; `memory` keeps spans and metrics for tests. `metricsAddress`
 * (host:port, FLOE_METRICS_ADDRESS) also serves the metrics for Prometheus to scrape at /metrics there.
 */
export function startTelemetry(opts: {
  serviceName: string;
  exporter?: TelemetryExporter;
  version?: string;
  metricsAddress?: string;
}): TelemetryHandle {
  const env = process.env;
  const tracesEndpoint = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ?? env.OTEL_EXPORTER_OTLP_ENDPOINT;
  const metricsEndpoint = env.OTEL_EXPORTER_OTLP_METRICS_ENDPOINT ?? env.OTEL_EXPORTER_OTLP_ENDPOINT;
  let mode = opts.exporter ?? 'auto';
  // OTEL_METRICS_EXPORTER=none (the specification's switch) keeps metrics home whatever the endpoint.
  const metricsOff = METRICS_EXPORTER_AS_GIVEN === 'none';
  const metricsMode = mode === 'auto' ? (metricsEndpoint && !metricsOff ? 'otlp' : 'none') : mode;
  if (mode === 'auto') mode = tracesEndpoint ? 'otlp' : 'none';

  // NodeSDK would configure OTLP metrics and logs from the environment by itself: floe builds its readers here,
  // and exports no logs.
  env.OTEL_METRICS_EXPORTER ??= 'none';
  env.OTEL_LOGS_EXPORTER ??= 'none';

  const processors: SpanProcessor[] = [];
  let memory: InMemorySpanExporter | undefined;
  if (mode === 'otlp') processors.push(new BatchSpanProcessor(new OTLPTraceExporter(), { scheduledDelayMillis: 500 }));
  if (mode === 'memory') {
    memory = new InMemorySpanExporter();
    processors.push(new SimpleSpanProcessor(memory));
  }
  const readers: IMetricReader[] = [];
  if (metricsMode === 'otlp')
    readers.push(
      new PeriodicExportingMetricReader({
        exporter: new OTLPMetricExporter(),
        exportIntervalMillis: Number(env.OTEL_METRIC_EXPORT_INTERVAL) || 60_000,
      }),
    );
  const collecting = metricsMode === 'memory' ? new CollectingMetricReader() : undefined;
  if (collecting) readers.push(collecting);
  let metricsUrl: string | undefined;
  if (opts.metricsAddress) {
    const at = opts.metricsAddress.lastIndexOf(':');
    const host = opts.metricsAddress.slice(0, at).replace(/^\[|\]$/g, '');
    const port = Number(opts.metricsAddress.slice(at + 1));
    readers.push(new PrometheusExporter({ host, port }));
    metricsUrl = `http://${opts.metricsAddress}/metrics`;
  }

  const sdk = new NodeSDK({
    resource: resourceFromAttributes({
      [ATTR_SERVICE_NAME]: env.OTEL_SERVICE_NAME ?? opts.serviceName,
      [ATTR_SERVICE_VERSION]: opts.version ?? '0.1.0',
    }),
    spanProcessors: processors,
    ...(readers.length > 0 && { metricReaders: readers }),
    instrumentations: [],
  });
  sdk.start();

  let stopped: Promise<void> | undefined;
  return {
    memory,
    ...(collecting && {
      collectMetrics: async () => {
        const { resourceMetrics, errors } = await collecting.collect();
        if (errors.length) throw errors[0];
        return resourceMetrics;
      },
    }),
    metricsUrl,
    flush: async () => {
      await Promise.all([...processors.map((p) => p.forceFlush()), ...readers.map((r) => r.forceFlush())]);
    },
    shutdown: () => (stopped ??= sdk.shutdown()),
  };
}
