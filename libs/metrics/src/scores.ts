// Metrics of one model on one suite, each with a bootstrap standard error over examples.
import { bootstrapStderr, mean, meanAt } from './bootstrap.js';

export interface MetricValue {
  name: string;
  value: number;
  stderr: number;
}

/** Metrics where a smaller value is better; the others are better larger. */
export const LOWER_IS_BETTER = new Set(['bits_per_byte', 'perplexity', 'ece', 'mse', 'rmse', 'mae', 'loss']);

/** The metrics each kind of task reports (the evaluator accepts these names). */
export const CLASSIFICATION_METRICS = ['accuracy', 'ece', 'loss', 'f1_macro', 'balanced_accuracy', 'auc'];
export const REGRESSION_METRICS = ['mse', 'rmse', 'mae', 'r2'];

/**
 * Language models: per-sequence mean negative log-likelihood in nats per byte (one token is one byte).
 * bits_per_byte = mean / ln 2; perplexity = 2^bits_per_byte (per byte).
 */
export function languageModelMetrics(
  natsPerSequence: Float64Array,
  wanted: string[],
  samples: number,
  seed: number,
): MetricValue[] {
  const bits = natsPerSequence.map((x) => x / Math.LN2);
  const out: MetricValue[] = [];
  for (const name of wanted) {
    if (name === 'bits_per_byte')
      out.push({
        name,
        value: mean(bits),
        stderr: bootstrapStderr(bits.length, (i) => meanAt(bits, i), samples, seed),
      });
    else if (name === 'perplexity')
      out.push({
        name,
        value: 2 ** mean(bits),
        stderr: bootstrapStderr(bits.length, (i) => 2 ** meanAt(bits, i), samples, seed),
      });
    else throw new Error(`metric ${name} does not apply to a language model (bits_per_byte, perplexity)`);
  }
  return out;
}

/** Expected calibration error: Σ_bins (n_b / n)·|accuracy_b − confidence_b| over equal-width confidence bins. */
export function expectedCalibrationError(
  confidence: ArrayLike<number>,
  correct: ArrayLike<number>,
  indices?: Uint32Array,
  bins = 15,
): number {
  const count = new Float64Array(bins);
  const conf = new Float64Array(bins);
  const acc = new Float64Array(bins);
  const n = indices ? indices.length : confidence.length;
  for (let k = 0; k < n; k++) {
    const i = indices ? indices[k]! : k;
    const c = confidence[i]!;
    const b = Math.min(bins - 1, Math.floor(c * bins));
    count[b]++;
    conf[b] += c;
    acc[b] += correct[i]!;
  }
  let e = 0;
  for (let b = 0; b < bins; b++)
    if (count[b]) e += (count[b]! / n) * Math.abs(acc[b]! / count[b]! - conf[b]! / count[b]!);
  return e;
}

/** Per example of a classifier: the top class's probability, whether it is right, −ln p(label), and the top class. */
export function classificationOutcomes(
  probabilities: Float32Array | Float64Array,
  labels: ArrayLike<number>,
  k: number,
): { confidence: Float64Array; correct: Float64Array; nll: Float64Array; predicted: Int32Array } {
  const n = labels.length;
  const confidence = new Float64Array(n);
  const correct = new Float64Array(n);
  const nll = new Float64Array(n);
  const predicted = argmaxRows(probabilities, k, n);
  for (let i = 0; i < n; i++) {
    const best = predicted[i]!;
    confidence[i] = probabilities[i * k + best]!;
    correct[i] = best === labels[i] ? 1 : 0;
    nll[i] = -Math.log(Math.max(probabilities[i * k + labels[i]!]!, 1e-12));
  }
  return { confidence, correct, nll, predicted };
}

/**
 * A statistic over example indices as a metric: its value on all `n` examples (indices 0 … n − 1, in order),
 * with a bootstrap standard error.
 */
function metricOver(
  name: string,
  n: number,
  stat: (indices: Uint32Array) => number,
  samples: number,
  seed: number,
): MetricValue {
  return {
    name,
    value: stat(Uint32Array.from({ length: n }, (_, i) => i)),
    stderr: bootstrapStderr(n, stat, samples, seed),
  };
}

/** Per class over `indices`: examples (support), examples predicted it, and examples right. */
function classCounts(predicted: Int32Array, labels: ArrayLike<number>, k: number, indices: Uint32Array) {
  const support = new Float64Array(k);
  const claimed = new Float64Array(k);
  const right = new Float64Array(k);
  for (const i of indices) {
    const y = labels[i]!;
    support[y]!++;
    claimed[predicted[i]!]!++;
    if (predicted[i] === y) right[y]!++;
  }
  return { support, claimed, right };
}

/**
 * Macro-averaged F1 over the classes present in `indices` (as labels or predictions; sklearn's average='macro'
 * over the labels seen): a class with no right prediction scores 0.
 */
export function macroF1(predicted: Int32Array, labels: ArrayLike<number>, k: number, indices: Uint32Array): number {
  const { support, claimed, right } = classCounts(predicted, labels, k, indices);
  let sum = 0;
  let classes = 0;
  for (let c = 0; c < k; c++) {
    if (support[c] === 0 && claimed[c] === 0) continue;
    classes++;
    sum += (2 * right[c]!) / (support[c]! + claimed[c]!);
  }
  return classes ? sum / classes : NaN;
}

/** The mean over classes present in `indices` of each class's recall: accuracy as if the classes were balanced. */
export function balancedAccuracy(
  predicted: Int32Array,
  labels: ArrayLike<number>,
  k: number,
  indices: Uint32Array,
): number {
  const { support, right } = classCounts(predicted, labels, k, indices);
  let sum = 0;
  let classes = 0;
  for (let c = 0; c < k; c++)
    if (support[c]! > 0) {
      classes++;
      sum += right[c]! / support[c]!;
    }
  return classes ? sum / classes : NaN;
}

/**
 * ROC AUC of a classifier over `indices`: with two classes, of the second class's probability; with more, the
 * mean of each class's one-vs-rest AUC over the classes that have both positives and negatives there (sklearn's
 * multi_class='ovr', average='macro'). NaN when no class has both.
 */
export function classifierAuc(
  probabilities: ArrayLike<number>,
  labels: ArrayLike<number>,
  k: number,
  indices: Uint32Array,
): number {
  const scores = new Float64Array(indices.length);
  const positive = new Uint8Array(indices.length);
  const aucOf = (c: number) => {
    indices.forEach((i, j) => {
      scores[j] = probabilities[i * k + c]!;
      positive[j] = labels[i] === c ? 1 : 0;
    });
    return rocAuc(scores, positive);
  };
  if (k === 2) return aucOf(1);
  let sum = 0;
  let classes = 0;
  for (let c = 0; c < k; c++) {
    const a = aucOf(c);
    if (Number.isNaN(a)) continue;
    sum += a;
    classes++;
  }
  return classes ? sum / classes : NaN;
}

/** Classification: `probabilities` n × k row-major, `labels` n. Accuracy, ECE, mean log loss. */
export function classificationMetrics(
  probabilities: Float32Array | Float64Array,
  labels: ArrayLike<number>,
  k: number,
  wanted: string[],
  samples: number,
  seed: number,
): MetricValue[] {
  const n = labels.length;
  const { confidence, correct, nll, predicted } = classificationOutcomes(probabilities, labels, k);
  const over = (name: string, stat: (indices: Uint32Array) => number) => metricOver(name, n, stat, samples, seed);
  return wanted.map((name) => {
    if (name === 'accuracy') return over(name, (i) => meanAt(correct, i));
    if (name === 'ece') return over(name, (i) => expectedCalibrationError(confidence, correct, i));
    if (name === 'loss') return over(name, (i) => meanAt(nll, i));
    if (name === 'f1_macro') return over(name, (i) => macroF1(predicted, labels, k, i));
    if (name === 'balanced_accuracy') return over(name, (i) => balancedAccuracy(predicted, labels, k, i));
    if (name === 'auc') return over(name, (i) => classifierAuc(probabilities, labels, k, i));
    throw new Error(`metric ${name} does not apply to classification (${CLASSIFICATION_METRICS.join(', ')})`);
  });
}

/** Per example, the index of its largest probability (the first on a tie). */
export function argmaxRows(probabilities: ArrayLike<number>, k: number, n: number): Int32Array {
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let j = 1; j < k; j++) if (probabilities[i * k + j]! > probabilities[i * k + best]!) best = j;
    out[i] = best;
  }
  return out;
}

/**
 * R² over `indices`, per output 1 − SSE/SST (SST about that output's mean there), averaged over outputs
 * (sklearn's 'uniform_average'); an output constant there scores 1 when predicted exactly, else 0, as sklearn.
 */
export function rSquared(
  predictions: ArrayLike<number>,
  targets: ArrayLike<number>,
  outputs: number,
  indices: Uint32Array,
): number {
  let sum = 0;
  for (let o = 0; o < outputs; o++) {
    let mean = 0;
    for (const i of indices) mean += targets[i * outputs + o]! / indices.length;
    let sse = 0;
    let sst = 0;
    for (const i of indices) {
      const y = targets[i * outputs + o]!;
      sse += (y - predictions[i * outputs + o]!) ** 2;
      sst += (y - mean) ** 2;
    }
    sum += sst > 0 ? 1 - sse / sst : sse === 0 ? 1 : 0;
  }
  return sum / outputs;
}

/**
 * Regression: `predictions` and `targets` n × outputs row-major. MSE, RMSE and MAE over all outputs (per example
 * averaged over its outputs), R² averaged over outputs.
 */
export function regressionMetrics(
  predictions: ArrayLike<number>,
  targets: ArrayLike<number>,
  outputs: number,
  wanted: string[],
  samples: number,
  seed: number,
): MetricValue[] {
  const n = targets.length / outputs;
  const { squared, absolute } = regressionErrors(predictions, targets, outputs);
  const over = (name: string, stat: (indices: Uint32Array) => number) => metricOver(name, n, stat, samples, seed);
  return wanted.map((name) => {
    if (name === 'mse') return over(name, (i) => meanAt(squared, i));
    if (name === 'rmse') return over(name, (i) => Math.sqrt(meanAt(squared, i)));
    if (name === 'mae') return over(name, (i) => meanAt(absolute, i));
    if (name === 'r2') return over(name, (i) => rSquared(predictions, targets, outputs, i));
    throw new Error(`metric ${name} does not apply to regression (${REGRESSION_METRICS.join(', ')})`);
  });
}

/** Per example, its squared and absolute errors, each averaged over its outputs. */
export function regressionErrors(
  predictions: ArrayLike<number>,
  targets: ArrayLike<number>,
  outputs: number,
): { squared: Float64Array; absolute: Float64Array } {
  const n = targets.length / outputs;
  const squared = new Float64Array(n);
  const absolute = new Float64Array(n);
  for (let i = 0; i < n; i++)
    for (let o = 0; o < outputs; o++) {
      const e = predictions[i * outputs + o]! - targets[i * outputs + o]!;
      squared[i]! += (e * e) / outputs;
      absolute[i]! += Math.abs(e) / outputs;
    }
  return { squared, absolute };
}

/**
 * ROC AUC: the probability that a random positive scores above a random negative (ties count half),
 * by ranks (Mann–Whitney U). NaN when one class is absent.
 */
export function rocAuc(scores: ArrayLike<number>, positive: ArrayLike<boolean | number>): number {
  const n = scores.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => scores[a]! - scores[b]!);
  const rank = new Float64Array(n);
  for (let k = 0; k < n;) {
    let e = k;
    while (e + 1 < n && scores[order[e + 1]!] === scores[order[k]!]) e++;
    for (let q = k; q <= e; q++) rank[order[q]!] = (k + e) / 2 + 1;
    k = e + 1;
  }
  let pos = 0;
  let rankSum = 0;
  for (let i = 0; i < n; i++)
    if (positive[i]) {
      pos++;
      rankSum += rank[i]!;
    }
  const neg = n - pos;
  return pos && neg ? (rankSum - (pos * (pos + 1)) / 2) / (pos * neg) : NaN;
}

/** Brier skill score against always forecasting the base rate `climatology`: 1 − BS/BS_ref. */
export function brierSkillScore(
  probabilities: ArrayLike<number>,
  outcome: ArrayLike<boolean | number>,
  climatology: number,
): number {
  let bs = 0;
  let ref = 0;
  for (let i = 0; i < probabilities.length; i++) {
    const o = outcome[i] ? 1 : 0;
    bs += (probabilities[i]! - o) ** 2;
    ref += (climatology - o) ** 2;
  }
  return 1 - bs / ref;
}
