// Telemetry for libs and services: the API side only. Entry points start the SDK with
// `@floe/telemetry/sdk`; libs never import the SDK.
export { SpanName, Attr, EventName, MetricName, MetricAttr, type SpanNameValue, type AttrKey } from './names.js';
export { instrument, activeSpan } from './instrument.js';
export { tracingClientInterceptor, startServerSpan, endServerSpan } from './grpc-context.js';
export { floeMetrics } from './metrics.js';
