// Bootstrap standard errors (Efron): resample the evaluated examples with replacement, recompute the
// statistic, take the standard deviation over resamples. Seeded, so a result is reproducible.
import { Rng } from '@floe/random';

export type Statistic = (indices: Uint32Array) => number;

/** Standard error of `stat` over `n` examples from `samples` bootstrap resamples. */
export function bootstrapStderr(n: number, stat: Statistic, samples: number, seed: number): number {
  if (n < 2 || samples < 2) return 0;
  const rng = new Rng(seed);
  const idx = new Uint32Array(n);
  let mean = 0;
  let m2 = 0;
  let counted = 0;
  for (let b = 1; b <= samples; b++) {
    for (let i = 0; i < n; i++) idx[i] = Math.floor(rng.next() * n);
    const v = stat(idx);
    // A resample on which the statistic is undefined (an AUC that drew one class only) does not count.
    if (!Number.isFinite(v)) continue;
    counted++;
    const d = v - mean;
    mean += d / counted;
    m2 += d * (v - mean);
  }
  return counted < 2 ? 0 : Math.sqrt(m2 / (counted - 1));
}

/** The mean of `values` at `indices`. */
export function meanAt(values: ArrayLike<number>, indices: Uint32Array): number {
  let s = 0;
  for (let i = 0; i < indices.length; i++) s += values[indices[i]!]!;
  return s / indices.length;
}

export function mean(values: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < values.length; i++) s += values[i]!;
  return values.length ? s / values.length : NaN;
}

/** The mean of `values` and its standard error (sample standard deviation ÷ √n; 0 for one value). */
export function meanWithStandardError(values: ArrayLike<number>): { mean: number; se: number } {
  const m = mean(values);
  const n = values.length;
  if (n < 2) return { mean: m, se: 0 };
  let ss = 0;
  for (let i = 0; i < n; i++) ss += (values[i]! - m) ** 2;
  return { mean: m, se: Math.sqrt(ss / (n - 1) / n) };
}
