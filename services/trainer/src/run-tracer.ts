// One OpenTelemetry span per phase of a run. The worker thread has no tracer of its own: it posts the
// start and end of each phase with its timestamps, and the spans are made here, under the context of the
// call that started (or resumed) the run, so a run started by another service joins that service's trace.
// The run's metrics (steps, step durations, runs training and stopped) are recorded here too, for the same
// reason: the worker has no meter.
import { context, SpanStatusCode, trace, type Context, type Span } from '@opentelemetry/api';
import { Attr, EventName, SpanName, floeMetrics, type SpanNameValue } from '@floe/telemetry';
import type { StepMetrics } from '@floe/training';

/** How a run stopped training, as the metric floe.training.runs.stopped counts it. */
export type RunOutcome = 'paused' | 'early_stopped' | 'completed' | 'cancelled' | 'failed';

/** A run's span attributes that metrics carry: the strategy, not the run's id (one series per run is too many). */
function metricAttributes(attributes: Record<string, string | number>): Record<string, string | number> {
  return attributes[Attr.strategy] === undefined ? {} : { [Attr.strategy]: attributes[Attr.strategy] };
}

interface RunSpans {
  parent: Context;
  attributes: Record<string, string | number>;
  open: { phase: SpanNameValue; span: Span }[];
}

export class RunTracer {
  private readonly runs = new Map<string, RunSpans>();

  /** The run's next spans go under the active context (the StartRun or ResumeRun call). */
  bind(runId: string, attributes: Record<string, string | number>): void {
    if (!this.runs.has(runId)) floeMetrics.runStarted(metricAttributes(attributes));
    this.runs.set(runId, { parent: context.active(), attributes: { [Attr.runId]: runId, ...attributes }, open: [] });
  }

  /** Runs `fn` as a phase of the run done here (not in the worker), its calls under the phase's span. */
  async phase<T>(runId: string, phase: SpanNameValue, fn: () => Promise<T>): Promise<T> {
    const r = this.runs.get(runId);
    if (!r) return fn();
    const span = trace
      .getTracer('floe')
      .startSpan(phase, { attributes: { ...r.attributes, [Attr.phase]: phase } }, r.parent);
    try {
      const result = await context.with(trace.setSpan(r.parent, span), fn);
      span.setStatus({ code: SpanStatusCode.OK });
      return result;
    } catch (err) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).message });
      throw err;
    } finally {
      span.end();
    }
  }

  phaseStart(runId: string, phase: SpanNameValue, time: number): void {
    const r = this.runs.get(runId);
    if (!r) return;
    // Nested phases (evaluate and checkpoint inside a train segment) are children of the open one.
    const parent = r.open.length ? trace.setSpan(r.parent, r.open.at(-1)!.span) : r.parent;
    const span = trace
      .getTracer('floe')
      .startSpan(phase, { startTime: time, attributes: { ...r.attributes, [Attr.phase]: phase } }, parent);
    r.open.push({ phase, span });
  }

  phaseEnd(runId: string, phase: SpanNameValue, time: number, attributes?: Record<string, string | number>): void {
    const r = this.runs.get(runId);
    const i = r?.open.findLastIndex((o) => o.phase === phase) ?? -1;
    if (!r || i < 0) return;
    const [{ span }] = r.open.splice(i, 1);
    if (attributes) {
      span.setAttributes(attributes);
      Object.assign(r.attributes, attributes);
    }
    span.setStatus({ code: SpanStatusCode.OK });
    span.end(time);
  }

  /** Steps are events on the open train segment span, not spans of their own. */
  step(runId: string, m: StepMetrics, validationLoss?: number): void {
    const r = this.runs.get(runId);
    if (r) floeMetrics.trainingStep(m.ms / 1000, metricAttributes(r.attributes));
    const span = r?.open.findLast((o) => o.phase === SpanName.trainSegment)?.span;
    span?.addEvent(EventName.step, {
      [Attr.step]: m.step,
      [Attr.loss]: m.loss,
      [Attr.learningRate]: m.learningRate,
      ...(validationLoss === undefined ? {} : { [Attr.validationLoss]: validationLoss }),
    });
  }

  /**
   * The run stopped (`outcome`: paused, completed, cancelled or failed): spans still open (a failure or a killed
   * worker) end with an error.
   */
  finish(runId: string, outcome: RunOutcome, error?: string): void {
    const r = this.runs.get(runId);
    if (!r) return;
    floeMetrics.runStopped(outcome, metricAttributes(r.attributes));
    for (const { span } of r.open.reverse()) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: error ?? 'the run stopped inside this phase' });
      span.end();
    }
    this.runs.delete(runId);
  }
}
