// Metrics of one model on one suite, each with a bootstrap standard error over examples.
import { bootstrapStderr, mean, meanAt } from './bootstrap.js';

export interface MetricValue {
  name: string;
  value: number;
  stderr: number;
}

/** Metrics where a smaller value is better; the others are better larger. */
export const LOWER_IS_BETTER = new Set(['bits_per_byte', 'perplexity', 'ece', 'mse', 'loss']);

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

/** Per example of a classifier: the top class's probability, whether it is right, and −ln p(label). */
export function classificationOutcomes(
  probabilities: Float32Array | Float64Array,
  labels: ArrayLike<number>,
  k: number,
): { confidence: Float64Array; correct: Float64Array; nll: Float64Array } {
  const n = labels.length;
  const confidence = new Float64Array(n);
  const correct = new Float64Array(n);
  const nll = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let j = 1; j < k; j++) if (probabilities[i * k + j]! > probabilities[i * k + best]!) best = j;
    confidence[i] = probabilities[i * k + best]!;
    correct[i] = best === labels[i] ? 1 : 0;
    nll[i] = -Math.log(Math.max(probabilities[i * k + labels[i]!]!, 1e-12));
  }
  return { confidence, correct, nll };
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
  const { confidence, correct, nll } = classificationOutcomes(probabilities, labels, k);
  return wanted.map((name) => {
    if (name === 'accuracy')
      return { name, value: mean(correct), stderr: bootstrapStderr(n, (i) => meanAt(correct, i), samples, seed) };
    if (name === 'ece')
      return {
        name,
        value: expectedCalibrationError(confidence, correct),
        stderr: bootstrapStderr(n, (i) => expectedCalibrationError(confidence, correct, i), samples, seed),
      };
    if (name === 'loss')
      return { name, value: mean(nll), stderr: bootstrapStderr(n, (i) => meanAt(nll, i), samples, seed) };
    throw new Error(`metric ${name} does not apply to classification (accuracy, ece, loss)`);
  });
}

/** Regression: mean squared error over all outputs, per example averaged over its outputs. */
export function regressionMetrics(
  squaredErrorPerExample: Float64Array,
  wanted: string[],
  samples: number,
  seed: number,
): MetricValue[] {
  return wanted.map((name) => {
    if (name !== 'mse') throw new Error(`metric ${name} does not apply to regression (mse)`);
    return {
      name,
      value: mean(squaredErrorPerExample),
      stderr: bootstrapStderr(squaredErrorPerExample.length, (i) => meanAt(squaredErrorPerExample, i), samples, seed),
    };
  });
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
