import { context, SpanStatusCode, trace, type Attributes, type Span } from '@opentelemetry/api';
import type { SpanNameValue } from './names.js';

const tracer = () => trace.getTracer('floe');

/**
 * Runs `fn` inside a span named after one of floe's phases. The span ends when `fn` settles; an error
 * marks it failed and is rethrown. Nested calls become child spans through the active context.
 */
export async function instrument<T>(
  opts: { name: SpanNameValue; attributes?: Attributes },
  fn: (span: Span) => Promise<T> | T,
): Promise<T> {
  return tracer().startActiveSpan(opts.name, { attributes: opts.attributes }, async (span) => {
    try {
      const result = await fn(span);
      span.setStatus({ code: SpanStatusCode.OK });
      return result;
    } catch (err) {
      span.recordException(err as Error);
      span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error)?.message });
      throw err;
    } finally {
      span.end();
    }
  });
}

/** The active span, for adding events (e.g. one per training step) without opening a new span. */
export function activeSpan(): Span | undefined {
  return trace.getSpan(context.active());
}
