// Drift statistics between a reference and a current sample (docs/ALGORITHMS.md §8): PSI, two-sample KS with
// its p-value, Wasserstein-1 (raw and divided by the reference std), Jensen–Shannon divergence (base 2,
// in [0, 1]) and distance (its square root) kept apart, L∞ on frequencies, Cramér's V.
import { quantileSorted, meanStd, sortedFinite } from './stats.js';

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

/** The Kolmogorov distribution's tail Q(λ) = 2 Σ (−1)^(j−1) exp(−2 j² λ²). */
function kolmogorovQ(lambda: number): number {
  if (lambda < 1e-3) return 1;
  let sum = 0;
  let sign = 1;
  for (let j = 1; j <= 200; j++) {
    const term = sign * Math.exp(-2 * j * j * lambda * lambda);
    sum += term;
    if (Math.abs(term) < 1e-12 * Math.abs(sum)) break;
    sign = -sign;
  }
  return Math.min(1, Math.max(0, 2 * sum));
}

/** Two-sample Kolmogorov–Smirnov on sorted samples: D = sup |F_ref − F_cur| and its asymptotic p-value. */
export function ksTwoSample(a: ArrayLike<number>, b: ArrayLike<number>): { statistic: number; pValue: number } {
  const n = a.length;
  const m = b.length;
  if (!n || !m) return { statistic: 0, pValue: 1 };
  let i = 0;
  let j = 0;
  let d = 0;
  while (i < n && j < m) {
    const x = Math.min(a[i]!, b[j]!);
    while (i < n && a[i]! <= x) i++;
    while (j < m && b[j]! <= x) j++;
    d = Math.max(d, Math.abs(i / n - j / m));
  }
  const ne = Math.sqrt((n * m) / (n + m));
  // Stephens' small-sample correction (Numerical Recipes, kstwo).
  return { statistic: d, pValue: kolmogorovQ((ne + 0.12 + 0.11 / ne) * d) };
}

/** Wasserstein-1 between the empirical distributions of two sorted samples: ∫ |F_ref − F_cur| dx. */
export function wasserstein1(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const n = a.length;
  const m = b.length;
  if (!n || !m) return 0;
  let i = 0;
  let j = 0;
  let total = 0;
  let prev = Math.min(a[0]!, b[0]!);
  while (i < n || j < m) {
    const x = j >= m || (i < n && a[i]! <= b[j]!) ? a[i]! : b[j]!;
    total += Math.abs(i / n - j / m) * (x - prev);
    prev = x;
    while (i < n && a[i]! === x) i++;
    while (j < m && b[j]! === x) j++;
  }
  return total;
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

/** Every statistic for one numeric feature; bins are the reference's quantiles (equal-mass bins). */
export function numericDrift(
  feature: string,
  reference: ArrayLike<number>,
  current: ArrayLike<number>,
  opts: { bins?: number; thresholds?: DriftThresholds } = {},
): FeatureDrift {
  const t = opts.thresholds ?? DEFAULT_THRESHOLDS;
  const bins = opts.bins || 10;
  const a = reference instanceof Float64Array && isSorted(reference) ? reference : sortedFinite(reference);
  const b = current instanceof Float64Array && isSorted(current) ? current : sortedFinite(current);
  const edges: number[] = [];
  for (let k = 1; k < bins; k++) {
    const e = quantileSorted(a, k / bins);
    if (!edges.length || e > edges.at(-1)!) edges.push(e);
  }
  const ca = countBins(a, edges);
  const cb = countBins(b, edges);
  const ks = ksTwoSample(a, b);
  const w = wasserstein1(a, b);
  const std = meanStd(a).std;
  const js = jsDivergence(ca, cb);
  const d = {
    feature,
    psi: psi(ca, cb),
    ksStatistic: ks.statistic,
    ksPValue: ks.pValue,
    wasserstein: w,
    wassersteinNormalized: std > 0 ? w / std : w,
    jsDivergence: js,
    jsDistance: Math.sqrt(js),
    linf: linf(ca, cb),
    cramersV: cramersV(ca, cb),
  };
  return { ...d, verdict: verdictOf(d, t) };
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

function countBins(sorted: Float64Array, edges: number[]): Float64Array {
  const counts = new Float64Array(edges.length + 1);
  // Sorted input: walk the edges once instead of a binary search per value.
  let bin = 0;
  for (let i = 0; i < sorted.length; i++) {
    const v = sorted[i]!;
    while (bin < edges.length && v >= edges[bin]!) bin++;
    counts[bin] = counts[bin]! + 1;
  }
  return counts;
}

const ORDER: Verdict[] = ['stable', 'moderate', 'shifted'];
/** The worst of several verdicts. */
export function worstVerdict(vs: Verdict[]): Verdict {
  return vs.reduce<Verdict>((w, v) => (ORDER.indexOf(v) > ORDER.indexOf(w) ? v : w), 'stable');
}
