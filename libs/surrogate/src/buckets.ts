// Closed forms over a bucket ("Riemann") distribution: N equal-width buckets on [0, 1], uniform density
// inside each. The PFN predicts one such distribution per query; these turn it into the numbers a
// decision needs. Every function reads row `row` of a row-major [rows × N] probability array.

/** Mean of the distribution: Σ p_i · (centre of bucket i). */
export function bucketMean(probs: Float32Array | Float64Array, n: number, row = 0): number {
  let m = 0;
  const o = row * n;
  for (let i = 0; i < n; i++) m += probs[o + i]! * ((i + 0.5) / n);
  return m;
}

/** Variance (bucket centres plus the within-bucket variance of a uniform, width²/12). */
export function bucketVariance(probs: Float32Array | Float64Array, n: number, row = 0): number {
  const mean = bucketMean(probs, n, row);
  let v = 0;
  const o = row * n;
  for (let i = 0; i < n; i++) v += probs[o + i]! * ((i + 0.5) / n - mean) ** 2;
  return v + 1 / (12 * n * n);
}

/** P(y > threshold). */
export function bucketExceedance(probs: Float32Array | Float64Array, n: number, threshold: number, row = 0): number {
  if (threshold <= 0) return 1;
  if (threshold >= 1) return 0;
  const o = row * n;
  const k = Math.min(n - 1, Math.floor(threshold * n));
  let p = probs[o + k]! * ((k + 1) / n - threshold) * n;
  for (let i = k + 1; i < n; i++) p += probs[o + i]!;
  return Math.min(1, Math.max(0, p));
}

/** E[max(y − threshold, 0)]: within a bucket above the threshold, the mean of a uniform's excess. */
export function bucketExpectedImprovement(
  probs: Float32Array | Float64Array,
  n: number,
  threshold: number,
  row = 0,
): number {
  const o = row * n;
  let ei = 0;
  for (let i = 0; i < n; i++) {
    const lo = i / n;
    const hi = (i + 1) / n;
    if (hi <= threshold) continue;
    const p = probs[o + i]!;
    if (lo >= threshold) ei += p * ((lo + hi) / 2 - threshold);
    else {
      // Part of the bucket above the threshold: fraction (hi − t)·n, mean excess (hi − t)/2.
      const frac = (hi - threshold) * n;
      ei += p * frac * ((hi - threshold) / 2);
    }
  }
  return ei;
}

/** The q-quantile: the y at which the cumulative probability reaches q (linear inside a bucket). */
export function bucketQuantile(probs: Float32Array | Float64Array, n: number, q: number, row = 0): number {
  const o = row * n;
  let cum = 0;
  for (let i = 0; i < n; i++) {
    const p = probs[o + i]!;
    if (cum + p >= q && p > 0) return (i + (q - cum) / p) / n;
    cum += p;
  }
  return 1;
}

/** log density of y (per unit of y) under the distribution: ln(p_bucket · N). */
export function bucketLogDensity(probs: Float32Array | Float64Array, n: number, y: number, row = 0): number {
  const k = Math.min(n - 1, Math.max(0, Math.floor(y * n)));
  return Math.log(Math.max(probs[row * n + k]!, 1e-12) * n);
}

/**
 * Row `row` raised to the power 1/temperature and renormalised, into `out` (length n): temperature < 1
 * concentrates the distribution on its likelier buckets, 1 copies it. Probabilities are floored at 1e-12
 * (a bucket the PFN gives nothing keeps a trace) and divided by the row's largest first, so no power underflows
 * to an all-zero row.
 */
export function bucketSharpen(
  probs: Float32Array | Float64Array,
  n: number,
  temperature: number,
  row = 0,
  out = new Float64Array(n),
): Float64Array {
  if (!(temperature > 0)) throw new RangeError(`temperature must be > 0, got ${temperature}`);
  const o = row * n;
  let max = 1e-12;
  for (let i = 0; i < n; i++) max = Math.max(max, probs[o + i]!);
  const power = 1 / temperature;
  // An integer power by repeated squaring: ifBO sharpens ~200 rows of 512 a decision; Math.pow took ~8 ms of it.
  const integer = Number.isInteger(power) && power <= 64;
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const x = Math.max(probs[o + i]!, 1e-12) / max;
    let p = 1;
    if (integer) for (let base = x, e = power; e > 0; e >>= 1, base *= base) p = e & 1 ? p * base : p;
    else p = Math.pow(x, power);
    sum += out[i] = p;
  }
  for (let i = 0; i < n; i++) out[i]! /= sum;
  return out;
}
