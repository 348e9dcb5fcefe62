// Drift statistics between a reference and a current sample (docs/ALGORITHMS.md §8): PSI, two-sample KS with
// its p-value, Wasserstein-1 (raw and divided by the reference std), Jensen–Shannon divergence (base 2,
// in [0, 1]) and distance (its square root) kept apart, L∞ on frequencies, Cramér's V.
import {
  binCounts,
  ecdfDistances,
  ksPValue,
  meanStdOfCounts,
  quantilesOfCounts,
  runLengths,
  valueCounts,
  type ValueCounts,
} from './value-counts.js';

/** Proportions below this count as this, so that empty bins do not make PSI infinite. */
export const PSI_EPSILON = 1e-4;

export type Verdict = 'stable' | 'moderate' | 'shifted';

export interface DriftThresholds {
  /** PSI at or above this is moderate drift (0.1). */
  psiModerate: number;
  /** PSI at or above this is a shift (0.25). */
  psiShifted: number;
  /** A KS p-value below this (with PSI under psiModerate) marks moderate drift. */
  ksPValue: number;
  /** A Jensen–Shannon distance at or above this is a shift. */
  jsDistance: number;
}

export const DEFAULT_THRESHOLDS: DriftThresholds = {
  psiModerate: 0.1,
  psiShifted: 0.25,
  ksPValue: 1e-3,
  jsDistance: 0.3,
};

function proportions(counts: ArrayLike<number>): Float64Array {
  let total = 0;
  for (let i = 0; i < counts.length; i++) total += counts[i]!;
  const p = new Float64Array(counts.length);
  if (total > 0) for (let i = 0; i < counts.length; i++) p[i] = counts[i]! / total;
  return p;
}

/** Population stability index Σ (q − p)·ln(q / p) over bins, from counts (reference p, current q). */
export function psi(
  referenceCounts: ArrayLike<number>,
  currentCounts: ArrayLike<number>,
  epsilon = PSI_EPSILON,
): number {
  const p = proportions(referenceCounts);
  const q = proportions(currentCounts);
  let s = 0;
  for (let i = 0; i < p.length; i++) {
    const a = Math.max(p[i]!, epsilon);
    const b = Math.max(q[i]!, epsilon);
    s += (b - a) * Math.log(b / a);
  }
  return s;
}

/** Jensen–Shannon divergence in bits (in [0, 1]) between two count vectors. */
export function jsDivergence(referenceCounts: ArrayLike<number>, currentCounts: ArrayLike<number>): number {
  const p = proportions(referenceCounts);
  const q = proportions(currentCounts);
  let s = 0;
  for (let i = 0; i < p.length; i++) {
    const m = (p[i]! + q[i]!) / 2;
    if (p[i]! > 0) s += 0.5 * p[i]! * Math.log2(p[i]! / m);
    if (q[i]! > 0) s += 0.5 * q[i]! * Math.log2(q[i]! / m);
  }
  // Rounding can leave a hair below zero for identical inputs.
  return Math.min(1, Math.max(0, s));
}

/** L∞ distance between the frequency vectors (TFDV's categorical drift). */
export function linf(referenceCounts: ArrayLike<number>, currentCounts: ArrayLike<number>): number {
  const p = proportions(referenceCounts);
  const q = proportions(currentCounts);
  let m = 0;
  for (let i = 0; i < p.length; i++) m = Math.max(m, Math.abs(p[i]! - q[i]!));
  return m;
}

/**
 * Cramér's V of the 2 × k table (reference, current) × category: the association between "which sample"
 * and the category, 0 when both have the same frequencies, 1 when no category is shared.
 */
export function cramersV(referenceCounts: ArrayLike<number>, currentCounts: ArrayLike<number>): number {
  let nr = 0;
  let nc = 0;
  for (let i = 0; i < referenceCounts.length; i++) {
    nr += referenceCounts[i]!;
    nc += currentCounts[i]!;
  }
  const n = nr + nc;
  if (!nr || !nc) return 0;
  let chi2 = 0;
  let used = 0;
  for (let i = 0; i < referenceCounts.length; i++) {
    const col = referenceCounts[i]! + currentCounts[i]!;
    if (!col) continue;
    used++;
    const er = (nr * col) / n;
    const ec = (nc * col) / n;
    chi2 += (referenceCounts[i]! - er) ** 2 / er + (currentCounts[i]! - ec) ** 2 / ec;
  }
  // min(rows, columns) − 1 with two rows is 1 (and a single used category means no association).
  return used < 2 ? 0 : Math.sqrt(chi2 / n);
}

/** Two-sample Kolmogorov–Smirnov on sorted samples: D = sup |F_ref − F_cur| and its asymptotic p-value. */
export function ksTwoSample(a: ArrayLike<number>, b: ArrayLike<number>): { statistic: number; pValue: number } {
  const d = ecdfDistances(runLengths(a), runLengths(b)).supremum;
  return { statistic: d, pValue: ksPValue(d, a.length, b.length) };
}

/** Wasserstein-1 between the empirical distributions of two sorted samples: ∫ |F_ref − F_cur| dx. */
export function wasserstein1(a: ArrayLike<number>, b: ArrayLike<number>): number {
  return ecdfDistances(runLengths(a), runLengths(b)).area;
}

export interface FeatureDrift {
  feature: string;
  psi: number;
  ksStatistic: number;
  ksPValue: number;
  wasserstein: number;
  wassersteinNormalized: number;
  jsDivergence: number;
  jsDistance: number;
  linf: number;
  cramersV: number;
  verdict: Verdict;
}

export function verdictOf(d: Pick<FeatureDrift, 'psi' | 'ksPValue' | 'jsDistance'>, t: DriftThresholds): Verdict {
  if (d.psi >= t.psiShifted || d.jsDistance >= t.jsDistance) return 'shifted';
  if (d.psi >= t.psiModerate || d.ksPValue < t.ksPValue) return 'moderate';
  return 'stable';
}

/**
 * Every statistic for one numeric feature; bins are the reference's quantiles (equal-mass bins). A sample is
 * its values (NaN dropped; a sorted Float64Array is taken as sorted) or their counts (`valueCounts`).
 */
export function numericDrift(
  feature: string,
  reference: ArrayLike<number> | ValueCounts,
  current: ArrayLike<number> | ValueCounts,
  opts: { bins?: number; thresholds?: DriftThresholds } = {},
): FeatureDrift {
  const t = opts.thresholds ?? DEFAULT_THRESHOLDS;
  const bins = opts.bins || 10;
  const a = countsOf(reference);
  const b = countsOf(current);
  const edges: number[] = [];
  for (const e of quantilesOfCounts(
    a,
    Array.from({ length: bins - 1 }, (_, k) => (k + 1) / bins),
  ))
    if (!edges.length || e > edges.at(-1)!) edges.push(e);
  const ca = binCounts(a, edges);
  const cb = binCounts(b, edges);
  const { supremum: ks, area: w } = ecdfDistances(a, b);
  const std = meanStdOfCounts(a).std;
  const js = jsDivergence(ca, cb);
  const d = {
    feature,
    psi: psi(ca, cb),
    ksStatistic: ks,
    ksPValue: ksPValue(ks, a.total, b.total),
    wasserstein: w,
    wassersteinNormalized: std > 0 ? w / std : w,
    jsDivergence: js,
    jsDistance: Math.sqrt(js),
    linf: linf(ca, cb),
    cramersV: cramersV(ca, cb),
  };
  return { ...d, verdict: verdictOf(d, t) };
}

function countsOf(sample: ArrayLike<number> | ValueCounts): ValueCounts {
  if ('total' in sample) return sample;
  return sample instanceof Float64Array && isSorted(sample) ? runLengths(sample) : valueCounts(sample);
}

/** Every statistic that applies to one categorical feature (counts per category, aligned). */
export function categoricalDrift(
  feature: string,
  referenceCounts: ArrayLike<number>,
  currentCounts: ArrayLike<number>,
  opts: { thresholds?: DriftThresholds } = {},
): FeatureDrift {
  const t = opts.thresholds ?? DEFAULT_THRESHOLDS;
  const js = jsDivergence(referenceCounts, currentCounts);
  // KS and Wasserstein need an order; categories have none, so they are left at 0 (p-value 1).
  const d = {
    feature,
    psi: psi(referenceCounts, currentCounts),
    ksStatistic: 0,
    ksPValue: 1,
    wasserstein: 0,
    wassersteinNormalized: 0,
    jsDivergence: js,
    jsDistance: Math.sqrt(js),
    linf: linf(referenceCounts, currentCounts),
    cramersV: cramersV(referenceCounts, currentCounts),
  };
  return { ...d, verdict: verdictOf(d, t) };
}

function isSorted(xs: Float64Array): boolean {
  for (let i = 1; i < xs.length; i++) if (!(xs[i - 1]! <= xs[i]!)) return false;
  return true;
}

const ORDER: Verdict[] = ['stable', 'moderate', 'shifted'];
/** The worst of several verdicts. */
export function worstVerdict(vs: Verdict[]): Verdict {
  return vs.reduce<Verdict>((w, v) => (ORDER.indexOf(v) > ORDER.indexOf(w) ? v : w), 'stable');
}
