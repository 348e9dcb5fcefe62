// Continual-learning metrics (docs/ALGORITHMS.md §7; GEM, Lopez-Paz & Ranzato 2017; RWalk, Chaudhry et al.
// 2018) on R[i][j] = the metric on task j after stage i, where stage j learned task j (stage 0 = the base
// model, which learned task 0). Everything is computed on scores oriented so that larger is better (a
// lower-is-better metric such as bits per byte is negated), then reported in the metric's units:
//   ACC = mean_j R[T][j] (metric units, as measured);
//   BWT = mean_{j<T} (s[T][j] − s[j][j])          negative = forgetting;
//   FWT = mean_{1≤j≤T} (s[j−1][j] − b_j)          with b_j the score of a random initialisation;
//   forgetting_j = max_{l<T} s[l][j] − s[T][j]    for j < T, ≥ 0 means lost (metric units);
//   gains[i][j] = s[i][j] − s[0][j]              improvement over the base, positive = better.

export interface ContinualReport {
  acc: number;
  bwt: number;
  fwt: number;
  forgetting: number[];
  gains: number[][];
}

export function continualMetrics(
  R: number[][],
  opts: { higherIsBetter: boolean; randomInit?: number[] },
): ContinualReport {
  const sign = opts.higherIsBetter ? 1 : -1;
  const s = R.map((row) => row.map((v) => sign * v));
  const T = R.length - 1;
  const tasks = R[0]?.length ?? 0;
  const last = R[T] ?? [];
  const acc = last.reduce((a, b) => a + b, 0) / Math.max(1, tasks);
  const bwtTerms: number[] = [];
  for (let j = 0; j < Math.min(T, tasks); j++) bwtTerms.push(s[T]![j]! - s[j]![j]!);
  const fwtTerms: number[] = [];
  if (opts.randomInit)
    for (let j = 1; j <= Math.min(T, tasks - 1); j++) fwtTerms.push(s[j - 1]![j]! - sign * opts.randomInit[j]!);
  const forgetting: number[] = [];
  for (let j = 0; j < Math.min(T, tasks); j++) {
    let best = -Infinity;
    for (let l = 0; l < T; l++) best = Math.max(best, s[l]![j]!);
    forgetting.push(best - s[T]![j]!);
  }
  const meanOf = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN);
  return {
    acc,
    bwt: meanOf(bwtTerms),
    fwt: meanOf(fwtTerms),
    forgetting,
    gains: s.map((row) => row.map((v, j) => v - s[0]![j]!)),
  };
}
