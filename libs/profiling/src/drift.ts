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
  /** Share of the reference's values that are missing (NaN, or ±∞ in a numeric feature). */
  missingShareReference: number;
  /** Share of the current sample's values that are missing. */
  missingShareCurrent: number;
  verdict: Verdict;
  /** A datetime column: reported, kept out of the report's verdict and overall PSI (later data is later). */
  datetime?: boolean;
  /** An identifier column (either side's; TabularDataset.identifiers): reported, kept out of the verdict and PSI. */
  identifier?: boolean;
}

export function verdictOf(d: Pick<FeatureDrift, 'psi' | 'ksPValue' | 'jsDistance'>, t: DriftThresholds): Verdict {
  if (d.psi >= t.psiShifted || d.jsDistance >= t.jsDistance) return 'shifted';
  if (d.psi >= t.psiModerate || d.ksPValue < t.ksPValue) return 'moderate';
  return 'stable';
}

/**
 * Every statistic for one numeric feature; bins are the reference's quantiles (equal-mass bins). A sample is
 * its values (a sorted finite Float64Array is taken as sorted) or their counts (`valueCounts`). Missing values
 * (NaN, ±∞) are a bin of their own for PSI, Jensen–Shannon, L∞ and Cramér's V — a column that starts arriving
 * empty has shifted — while KS and Wasserstein compare the finite values (0 when a side has none).
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
  // A reference with no finite value has no quantiles: one bin then holds every finite value.
  if (a.total > 0)
    for (const e of quantilesOfCounts(
      a,
      Array.from({ length: bins - 1 }, (_, k) => (k + 1) / bins),
    ))
      if (!edges.length || e > edges.at(-1)!) edges.push(e);
  const ca = withMissingBin(binCounts(a, edges), a.nonFinite ?? 0);
  const cb = withMissingBin(binCounts(b, edges), b.nonFinite ?? 0);
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
    missingShareReference: missingShare(a),
    missingShareCurrent: missingShare(b),
  };
  return { ...d, verdict: verdictOf(d, t) };
}

/** Bin counts followed by the missing values' count (a bin both samples leave empty changes no statistic). */
function withMissingBin(counts: ArrayLike<number>, missing: number): Float64Array {
  const out = new Float64Array(counts.length + 1);
  out.set(counts);
  out[counts.length] = missing;
  return out;
}

function missingShare(vc: ValueCounts): number {
  const missing = vc.nonFinite ?? 0;
  return missing ? missing / (missing + vc.total) : 0;
}

function countsOf(sample: ArrayLike<number> | ValueCounts): ValueCounts {
  if ('total' in sample) return sample;
  return sample instanceof Float64Array && isSortedFinite(sample) ? runLengths(sample) : valueCounts(sample);
}

/**
 * Every statistic that applies to one categorical feature (counts per category, aligned; missing values, when
 * counted, are one of the categories and their shares are given in `missingShares`).
 */
export function categoricalDrift(
  feature: string,
  referenceCounts: ArrayLike<number>,
  currentCounts: ArrayLike<number>,
  opts: { thresholds?: DriftThresholds; missingShares?: { reference: number; current: number } } = {},
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
    missingShareReference: opts.missingShares?.reference ?? 0,
    missingShareCurrent: opts.missingShares?.current ?? 0,
  };
  return { ...d, verdict: verdictOf(d, t) };
}

function isSortedFinite(xs: Float64Array): boolean {
  // Sorted, the values are all finite when the ends are.
  if (xs.length && !(Number.isFinite(xs[0]!) && Number.isFinite(xs[xs.length - 1]!))) return false;
  for (let i = 1; i < xs.length; i++) if (!(xs[i - 1]! <= xs[i]!)) return false;
  return true;
}

const ORDER: Verdict[] = ['stable', 'moderate', 'shifted'];
/** The worst of several verdicts. */
export function worstVerdict(vs: Verdict[]): Verdict {
  return vs.reduce<Verdict>((w, v) => (ORDER.indexOf(v) > ORDER.indexOf(w) ? v : w), 'stable');
}
