// A small OTLP/gRPC receiver: accepts TraceService/Export and appends each span as one JSON line to a file, and
// MetricsService/Export, whose data points it keeps. No collector installs on these machines; tests and local runs
// use this instead.
import * as grpc from '@grpc/grpc-js';
import { BinaryReader, WireType } from '@bufbuild/protobuf/wire';
import { appendFileSync } from 'node:fs';

/** One received span, flattened for assertions and for reading by eye. */
export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  kind: number;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  attributes: Record<string, unknown>;
  resource: Record<string, unknown>;
  statusCode: number;
}

type Fields = Map<number, unknown[]>;

/** Reads one message into field number → raw values (length-delimited fields stay as bytes). */
function readFields(bytes: Uint8Array): Fields {
  const reader = new BinaryReader(bytes);
  const fields: Fields = new Map();
  while (reader.pos < reader.len) {
    const [no, wireType] = reader.tag();
    let value: unknown;
    switch (wireType) {
      case WireType.Varint:
        value = reader.uint64();
        break;
      case WireType.Bit64:
        value = reader.fixed64();
        break;
      case WireType.LengthDelimited:
        value = reader.bytes();
        break;
      case WireType.Bit32:
        value = reader.fixed32();
        break;
      default:
        reader.skip(wireType);
        continue;
    }
    const list = fields.get(no) ?? [];
    list.push(value);
    fields.set(no, list);
  }
  return fields;
}

const text = (v: unknown) => (v instanceof Uint8Array ? Buffer.from(v).toString('utf8') : '');
const hex = (v: unknown) => (v instanceof Uint8Array ? Buffer.from(v).toString('hex') : '');
const all = (f: Fields, no: number) => (f.get(no) ?? []) as Uint8Array[];
const first = (f: Fields, no: number) => f.get(no)?.[0];

/** A fixed64 field's bits (as the reader gives them) as the double they encode. */
const double = (v: unknown) => Buffer.from(new BigUint64Array([BigInt(v as string)]).buffer).readDoubleLE(0);

// opentelemetry.proto.common.v1.AnyValue
function anyValue(bytes: Uint8Array): unknown {
  const f = readFields(bytes);
  if (f.has(1)) return text(first(f, 1));
  if (f.has(2)) return BigInt(first(f, 2) as string) !== 0n;
  if (f.has(3)) return Number(BigInt.asIntN(64, BigInt(first(f, 3) as string)));
  if (f.has(4)) return double(first(f, 4));
  if (f.has(5)) return all(readFields(first(f, 5) as Uint8Array), 1).map(anyValue);
  return null;
}

// repeated opentelemetry.proto.common.v1.KeyValue
function attributes(list: Uint8Array[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const kv of list) {
    const f = readFields(kv);
    out[text(first(f, 1))] = f.has(2) ? anyValue(first(f, 2) as Uint8Array) : null;
  }
  return out;
}

/** Decodes an ExportTraceServiceRequest into flat spans. */
export function decodeExportTraceRequest(bytes: Uint8Array): ReceivedSpan[] {
  const spans: ReceivedSpan[] = [];
  for (const resourceSpans of all(readFields(bytes), 1)) {
    const rs = readFields(resourceSpans);
    const resourceBytes = first(rs, 1) as Uint8Array | undefined;
    const resource = resourceBytes ? attributes(all(readFields(resourceBytes), 1)) : {};
    for (const scopeSpans of all(rs, 2)) {
      for (const spanBytes of all(readFields(scopeSpans), 2)) {
        const s = readFields(spanBytes);
        const status = first(s, 15) as Uint8Array | undefined;
        spans.push({
          traceId: hex(first(s, 1)),
          spanId: hex(first(s, 2)),
          parentSpanId: hex(first(s, 4)),
          name: text(first(s, 5)),
          kind: Number(first(s, 6) ?? 0),
          startTimeUnixNano: String(first(s, 7) ?? '0'),
          endTimeUnixNano: String(first(s, 8) ?? '0'),
          attributes: attributes(all(s, 9)),
          resource,
          statusCode: status ? Number(first(readFields(status), 3) ?? 0) : 0,
        });
      }
    }
  }
  return spans;
}

/** One received data point of a metric: a sum's or gauge's value, or a histogram's count and sum. */
export interface ReceivedMetricPoint {
  name: string;
  unit: string;
  resource: Record<string, unknown>;
  attributes: Record<string, unknown>;
  value?: number;
  count?: number;
  sum?: number;
}

// opentelemetry.proto.metrics.v1.NumberDataPoint: as_double 4, as_int 6, attributes 7.
function numberPoint(bytes: Uint8Array): Pick<ReceivedMetricPoint, 'attributes' | 'value'> {
  const f = readFields(bytes);
  const value = f.has(4) ? double(first(f, 4)) : Number(BigInt.asIntN(64, BigInt((first(f, 6) as string) ?? 0)));
  return { attributes: attributes(all(f, 7)), value };
}

// opentelemetry.proto.metrics.v1.HistogramDataPoint: count 4, sum 5, attributes 9.
function histogramPoint(bytes: Uint8Array): Pick<ReceivedMetricPoint, 'attributes' | 'count' | 'sum'> {
  const f = readFields(bytes);
  return {
    attributes: attributes(all(f, 9)),
    count: Number(BigInt((first(f, 4) as string) ?? 0)),
    ...(f.has(5) && { sum: double(first(f, 5)) }),
  };
}

/** Decodes an ExportMetricsServiceRequest into its data points (gauges, sums and histograms). */
export function decodeExportMetricsRequest(bytes: Uint8Array): ReceivedMetricPoint[] {
  const out: ReceivedMetricPoint[] = [];
  for (const resourceMetrics of all(readFields(bytes), 1)) {
    const rm = readFields(resourceMetrics);
    const resourceBytes = first(rm, 1) as Uint8Array | undefined;
    const resource = resourceBytes ? attributes(all(readFields(resourceBytes), 1)) : {};
    for (const scopeMetrics of all(rm, 2))
      for (const metricBytes of all(readFields(scopeMetrics), 2)) {
        const m = readFields(metricBytes);
        const head = { name: text(first(m, 1)), unit: text(first(m, 3)), resource };
        // Metric: gauge 5, sum 7, histogram 9 — each a message whose field 1 is its data points.
        for (const [no, point] of [
          [5, numberPoint],
          [7, numberPoint],
          [9, histogramPoint],
        ] as const)
          for (const data of all(m, no)) for (const p of all(readFields(data), 1)) out.push({ ...head, ...point(p) });
      }
  }
  return out;
}

/** A service of one unary Export method that takes and gives raw bytes (the response: the empty message). */
const exportService = (path: string): grpc.ServiceDefinition => ({
  export: {
    path,
    requestStream: false,
    responseStream: false,
    requestSerialize: (v: Buffer) => v,
    requestDeserialize: (b: Buffer) => b,
    responseSerialize: () => Buffer.alloc(0),
    responseDeserialize: (b: Buffer) => b,
  },
});

const traceService = exportService('/opentelemetry.proto.collector.trace.v1.TraceService/Export');

export interface OtlpReceiver {
  /** host:port it listens on. */
  readonly address: string;
  /** Every span received so far. */
  readonly spans: ReceivedSpan[];
  /** Every metric data point received so far (each export's, cumulative: a later point supersedes earlier ones). */
  readonly metrics: ReceivedMetricPoint[];
  close(): Promise<void>;
}

/** Starts a receiver on `address` (port 0 picks a free port); with `file`, appends spans as JSON lines. */
export async function startOtlpReceiver(opts: { address?: string; file?: string } = {}): Promise<OtlpReceiver> {
  const server = new grpc.Server();
  const spans: ReceivedSpan[] = [];
  const metrics: ReceivedMetricPoint[] = [];
  server.addService(exportService('/opentelemetry.proto.collector.metrics.v1.MetricsService/Export'), {
    export: (call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => {
      try {
        metrics.push(...decodeExportMetricsRequest(call.request));
        callback(null, Buffer.alloc(0));
      } catch (err) {
        callback({
          code: grpc.status.INVALID_ARGUMENT,
          details: `malformed ExportMetricsServiceRequest: ${(err as Error).message}`,
        });
      }
    },
  });
  server.addService(traceService, {
    export: (call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => {
      try {
        const received = decodeExportTraceRequest(call.request);
        spans.push(...received);
        if (opts.file && received.length)
          appendFileSync(opts.file, received.map((s) => JSON.stringify(s)).join('\n') + '\n');
        callback(null, Buffer.alloc(0));
      } catch (err) {
        callback({
          code: grpc.status.INVALID_ARGUMENT,
          details: `malformed ExportTraceServiceRequest: ${(err as Error).message}`,
        });
      }
    },
  });
  const host = opts.address ?? '127.0.0.1:0';
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(host, grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  const address = `${host.slice(0, host.lastIndexOf(':'))}:${port}`;
  return {
    address,
    spans,
    metrics,
    close: () => new Promise<void>((resolve) => server.tryShutdown(() => resolve())),
  };
}
