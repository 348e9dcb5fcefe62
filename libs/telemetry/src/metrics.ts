// floe's metrics: the instruments that record them (names in names.ts; the API side only: the entry point's SDK
// decides where they go — OTLP, a Prometheus endpoint, or nowhere).
import {
  metrics,
  type Attributes,
  type Counter,
  type Histogram,
  type Meter,
  type UpDownCounter,
} from '@opentelemetry/api';
import { MetricAttr, MetricName } from './names.js';

interface Instruments {
  meter: Meter;
  rpcDuration: Histogram;
  steps: Counter;
  stepDuration: Histogram;
  runsActive: UpDownCounter;
  runsStopped: Counter;
  decisions: Counter;
  decisionDuration: Histogram;
}

let cached: Instruments | undefined;

/**
 * The instruments of the meter the process has now: the API has no proxy meter, so instruments made before the
 * SDK started (or under another provider, in tests) would record nowhere; they are made again when it changes.
 */
function instruments(): Instruments {
  const meter = metrics.getMeter('floe');
  if (cached?.meter === meter) return cached;
  // Buckets in seconds (the SDK's default boundaries, 0 … 10,000, suit milliseconds): OpenTelemetry's advice for
  // RPC durations, up to a minute for a training step or a decision on a large study.
  const seconds = {
    unit: 's',
    advice: { explicitBucketBoundaries: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60] },
  };
  cached = {
    meter,
    rpcDuration: meter.createHistogram(MetricName.rpcServerCallDuration, {
      ...seconds,
      description: 'Duration of RPCs served',
    }),
    steps: meter.createCounter(MetricName.trainingSteps, { description: 'Training steps taken' }),
    stepDuration: meter.createHistogram(MetricName.trainingStepDuration, {
      ...seconds,
      description: 'Duration of one training step',
    }),
    runsActive: meter.createUpDownCounter(MetricName.trainingRunsActive, {
      description: 'Runs training in this process',
    }),
    runsStopped: meter.createCounter(MetricName.trainingRunsStopped, { description: 'Runs that stopped training' }),
    decisions: meter.createCounter(MetricName.hpoDecisions, { description: 'Freeze-thaw decisions made' }),
    decisionDuration: meter.createHistogram(MetricName.hpoDecisionDuration, {
      ...seconds,
      description: 'Duration of one freeze-thaw decision',
    }),
  };
  return cached;
}

/** What floe records; each call is cheap and does nothing without an SDK. */
export const floeMetrics = {
  rpcServed: (seconds: number, attributes: Attributes) => instruments().rpcDuration.record(seconds, attributes),
  trainingStep: (seconds: number, attributes: Attributes) => {
    const i = instruments();
    i.steps.add(1, attributes);
    i.stepDuration.record(seconds, attributes);
  },
  runStarted: (attributes: Attributes) => instruments().runsActive.add(1, attributes),
  runStopped: (outcome: string, attributes: Attributes) => {
    const i = instruments();
    i.runsActive.add(-1, attributes);
    i.runsStopped.add(1, { ...attributes, [MetricAttr.outcome]: outcome });
  },
  hpoDecision: (seconds: number, attributes: Attributes) => {
    const i = instruments();
    i.decisions.add(1, attributes);
    i.decisionDuration.record(seconds, attributes);
  },
};
