// One model on one suite: the per-example values behind each metric (per-sequence bits per byte, per-
// example correctness and log loss, per-example squared error) and the metrics with bootstrap errors.
import * as tf from '@tensorflow/tfjs';
import { exampleCount, type Dataset, type TextDataset } from '@floe/data';
import type { BlockModel } from '@floe/models';
import { ExampleSource, LmSource, classesBeyond, schemaOf } from '@floe/training';
import {
  classificationMetrics,
  classificationOutcomes,
  languageModelMetrics,
  regressionMetrics,
  regressionErrors,
  type MetricValue,
} from '@floe/metrics';
import type { SuiteDef } from './suites.js';

export interface SuiteOutcome {
  metrics: MetricValue[];
  /** Per-example values of the metrics that are means of them (for paired comparisons). */
  perExample: Record<string, Float64Array>;
  count: number;
}

/** Per-sequence mean cross-entropy (nats per byte) of a language model. */
function sequenceNats(model: BlockModel, x: tf.Tensor, y: tf.Tensor): Float64Array {
  // The tidy returns the tensor, not its values: tidy walks what it returns.
  const perSequence = tf.tidy(() => {
    const logits = model.forward(x, { training: false });
    const logp = tf.logSoftmax(logits);
    const picked = tf.sum(tf.mul(logp, tf.oneHot(y as tf.Tensor2D, logits.shape.at(-1)!)), -1);
    return tf.neg(tf.mean(picked, -1));
  });
  const values = Float64Array.from(perSequence.dataSync());
  perSequence.dispose();
  return values;
}

export async function evaluateSuite(
  model: BlockModel,
  suite: SuiteDef,
  data: Dataset,
  opts: { bootstrap: number; seed: number; onBatch?: (done: number, total: number) => Promise<void> },
): Promise<SuiteOutcome> {
  if (suite.task === 'language-model') {
    const n = suite.samples || 256;
    const context = Number(model.spec.config.context ?? suite.sequenceLength);
    // The same seeded windows for every model: comparisons are paired.
    const source = new LmSource(
      data as TextDataset,
      suite.batchSize,
      Math.min(suite.sequenceLength, context),
      opts.seed,
    );
    const nats = new Float64Array(n);
    const batches = Math.ceil(n / suite.batchSize);
    for (let b = 0; b < batches; b++) {
      const batch = source.next();
      const v = sequenceNats(model, batch.x, batch.y);
      tf.dispose([batch.x, batch.y]);
      nats.set(v.subarray(0, Math.min(v.length, n - b * suite.batchSize)), b * suite.batchSize);
      await opts.onBatch?.(b + 1, batches);
    }
    return {
      metrics: languageModelMetrics(nats, suite.metrics, opts.bootstrap, opts.seed),
      perExample: { bits_per_byte: nats.map((x) => x / Math.LN2) },
      count: n,
    };
  }
  const d = data as Exclude<Dataset, TextDataset>;
  const available = exampleCount(d);
  const n = suite.samples ? Math.min(suite.samples, available) : available;
  // Classes the model never predicted (new data brought them) are scored with probability 0: their examples are
  // wrong, and their log loss is the floor's (−ln 1e-12).
  const schema = schemaOf(model);
  const beyond = schema.classNames ? classesBeyond(schema.classNames, [d]) : [];
  const source = new ExampleSource(d, suite.batchSize, opts.seed, {
    schema: beyond.length ? { ...schema, classNames: [...schema.classNames!, ...beyond] } : schema,
  });
  const batches = Math.ceil(n / suite.batchSize);
  if (suite.task === 'classification') {
    let k = 0;
    const probs: number[] = [];
    const labels: number[] = [];
    for (let b = 0; b < batches; b++) {
      const batch = source.next(Math.min(suite.batchSize, n - b * suite.batchSize));
      const p = tf.tidy(() => tf.softmax(model.forward(batch.x, { training: false })));
      const own = p.shape[1]!;
      k = own + beyond.length;
      const values = p.dataSync();
      for (let i = 0; i < p.shape[0]!; i++) {
        for (let j = 0; j < own; j++) probs.push(values[i * own + j]!);
        for (let j = 0; j < beyond.length; j++) probs.push(0);
      }
      labels.push(...batch.y.dataSync());
      tf.dispose([p, batch.x, batch.y]);
      await opts.onBatch?.(b + 1, batches);
    }
    const P = Float64Array.from(probs);
    const metrics = classificationMetrics(P, labels, k, suite.metrics, opts.bootstrap, opts.seed);
    const { correct, nll } = classificationOutcomes(P, labels, k);
    return { metrics, perExample: { accuracy: correct, loss: nll }, count: labels.length };
  }
  const predictions: number[] = [];
  const targets: number[] = [];
  let outputs = 1;
  for (let b = 0; b < batches; b++) {
    const batch = source.next(Math.min(suite.batchSize, n - b * suite.batchSize));
    const predicted = tf.tidy(() => model.forward(batch.x, { training: false }));
    outputs = predicted.shape[1] ?? 1;
    predictions.push(...predicted.dataSync());
    targets.push(...batch.y.dataSync());
    tf.dispose([predicted, batch.x, batch.y]);
    await opts.onBatch?.(b + 1, batches);
  }
  const { squared, absolute } = regressionErrors(predictions, targets, outputs);
  return {
    metrics: regressionMetrics(predictions, targets, outputs, suite.metrics, opts.bootstrap, opts.seed),
    perExample: { mse: squared, mae: absolute },
    count: squared.length,
  };
}
