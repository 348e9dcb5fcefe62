// An empirical distribution held as its distinct values and how often each occurs. The drift statistics
// (KS, Wasserstein, quantile bins) need a sample in order; an image channel or a table column of levels holds
// few distinct values (8-bit pixels: at most 256) among millions, where counting them is one linear pass and
// sorting them took seconds (400 photos of 224×224: 20 M values a channel). Every statistic here is exact: it
// equals the same statistic on the sorted sample.
import { finish, type Steps } from '@floe/data';
import { distinctSorted, sortedFinite } from './stats.js';

export interface ValueCounts {
  /** The distinct finite values, ascending. */
  values: Float64Array;
  /** How often each value occurs; absent when each occurs once (a sample without ties stays as sorted). */
  counts?: Float64Array;
  /** Σ counts: the sample's size. */
  total: number;
  /** Values dropped as NaN or ±∞ (counted by `valueCounts`; absent: none, or not counted). */
  nonFinite?: number;
}

/** Grids values are tried on: integers (levels, counts), and 8-bit levels scaled to [0, 1] (pixels). */
const GRID_SCALES = [1, 255];
/** A grid wider than this many cells is not tried (the counting arrays stay small). */
const MAX_GRID_CELLS = 1 << 16;
/** Values read between two yields of `valueCountSteps` (a few ms here). */
const VALUES_PER_STEP = 1 << 19;

/**
 * The distinct finite values of xs[start], xs[start + step], … with their counts (NaN and ±∞ are dropped, as
 * `sortedFinite` drops them). Values on a small grid are counted in one pass; any other sample is sorted.
 */
export function valueCounts(xs: ArrayLike<number>, start = 0, step = 1): ValueCounts {
  return finish(valueCountSteps(xs, start, step));
}

/** `valueCounts` in slices: it yields every VALUES_PER_STEP values read (a sort, when needed, is one slice). */
export function* valueCountSteps(xs: ArrayLike<number>, start = 0, step = 1): Steps<ValueCounts> {
  // The loops over values live in plain functions, one slice a call: inside a generator they ran 1.5x slower.
  const range = { min: Infinity, max: -Infinity };
  for (let from = start; from < xs.length; from += VALUES_PER_STEP * step) {
    widenRange(xs, from, Math.min(xs.length, from + VALUES_PER_STEP * step), step, range);
    yield;
  }
  const visited = Math.max(0, Math.ceil((xs.length - start) / step));
  const withDropped = (vc: ValueCounts): ValueCounts => ({ ...vc, nonFinite: visited - vc.total });
  if (!(range.min <= range.max)) return withDropped({ values: new Float64Array(0), total: 0 });
  for (const scale of GRID_SCALES) {
    const grid = GridCounter.over(range.min, range.max, scale);
    let onGrid = grid !== undefined;
    for (let from = start; onGrid && from < xs.length; from += VALUES_PER_STEP * step) {
      onGrid = grid!.add(xs, from, Math.min(xs.length, from + VALUES_PER_STEP * step), step);
      yield;
    }
    if (onGrid) return withDropped(grid!.counts());
  }
  return withDropped(runLengths(sortedFinite(xs, start, step)));
}

function widenRange(
  xs: ArrayLike<number>,
  from: number,
  to: number,
  step: number,
  range: { min: number; max: number },
): void {
  let { min, max } = range;
  for (let i = from; i < to; i += step) {
    const v = xs[i]!;
    if (!Number.isFinite(v)) continue;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  range.min = min;
  range.max = max;
}

/**
 * Counts per cell round(v·scale). A sample is on the grid while no cell holds two different values; cells are
 * monotone in v, so the occupied cells are then the distinct values in order.
 */
class GridCounter {
  private readonly seen: Float64Array;
  private readonly perCell: Float64Array;
  private total = 0;

  private constructor(
    private readonly lo: number,
    cells: number,
    private readonly scale: number,
  ) {
    this.seen = new Float64Array(cells).fill(NaN);
    this.perCell = new Float64Array(cells);
  }

  /** A counter for values in [min, max]; undefined when the grid would have more than MAX_GRID_CELLS cells. */
  static over(min: number, max: number, scale: number): GridCounter | undefined {
    const lo = Math.round(min * scale);
    const cells = Math.round(max * scale) - lo + 1;
    return cells <= MAX_GRID_CELLS ? new GridCounter(lo, cells, scale) : undefined;
  }

  /** Counts xs[from], xs[from + step], … below `to`; false as soon as a value is off the grid. */
  add(xs: ArrayLike<number>, from: number, to: number, step: number): boolean {
    const { seen, perCell, lo, scale } = this;
    let total = this.total;
    for (let i = from; i < to; i += step) {
      const v = xs[i]!;
      if (!Number.isFinite(v)) continue;
      const cell = Math.round(v * scale) - lo;
      const held = seen[cell]!;
      if (held !== v) {
        if (held === held) return false; // another value already holds this cell
        seen[cell] = v;
      }
      perCell[cell]!++;
      total++;
    }
    this.total = total;
    return true;
  }

  counts(): ValueCounts {
    const { seen, perCell } = this;
    let distinct = 0;
    for (let c = 0; c < perCell.length; c++) if (perCell[c]! > 0) distinct++;
    const out = { values: new Float64Array(distinct), counts: new Float64Array(distinct), total: this.total };
    for (let c = 0, k = 0; c < perCell.length; c++)
      if (perCell[c]! > 0) {
        out.values[k] = seen[c]!;
        out.counts[k++] = perCell[c]!;
      }
    return out;
  }
}

/** A sorted sample's distinct values and their counts. */
export function runLengths(sorted: ArrayLike<number>): ValueCounts {
  const n = sorted.length;
  const distinct = distinctSorted(sorted);
  // Without ties nothing is copied: on this machine a copy of a million values costs what sorting them does.
  if (distinct === n) return { values: sorted instanceof Float64Array ? sorted : Float64Array.from(sorted), total: n };
  const values = new Float64Array(distinct);
  const counts = new Float64Array(distinct);
  for (let i = 0, k = 0; i < n; k++) {
    const v = sorted[i]!;
    let j = i + 1;
    while (j < n && sorted[j] === v) j++;
    values[k] = v;
    counts[k] = j - i;
    i = j;
  }
  return { values, counts, total: n };
}

/** The sample's i-th smallest value (0-based), by a search over the cumulative counts. */
function valueAt(vc: ValueCounts, ends: Float64Array, i: number): number {
  let lo = 0;
  let hi = ends.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (ends[mid]! > i) hi = mid;
    else lo = mid + 1;
  }
  return vc.values[lo]!;
}

/** Quantiles by linear interpolation between order statistics (type 7, as `quantileSorted`). */
export function quantilesOfCounts(vc: ValueCounts, qs: readonly number[]): number[] {
  if (vc.total === 0) return qs.map(() => NaN);
  const { values, counts } = vc;
  const ends = counts && new Float64Array(counts.length);
  if (ends) for (let k = 0, s = 0; k < ends.length; k++) ends[k] = s += counts![k]!;
  const at = (i: number) => (ends ? valueAt(vc, ends, i) : values[i]!);
  return qs.map((q) => {
    const h = (vc.total - 1) * q;
    const lo = Math.floor(h);
    const a = at(lo);
    const b = at(Math.min(vc.total - 1, lo + 1));
    return a + (h - lo) * (b - a);
  });
}

/** Counts per bin of ascending inner `edges`: bin k holds edges[k−1] ≤ v < edges[k]. */
export function binCounts(vc: ValueCounts, edges: readonly number[]): Float64Array {
  const out = new Float64Array(edges.length + 1);
  let bin = 0;
  for (let k = 0; k < vc.values.length; k++) {
    while (bin < edges.length && vc.values[k]! >= edges[bin]!) bin++;
    out[bin]! += vc.counts ? vc.counts[k]! : 1;
  }
  return out;
}

/** Mean and sample standard deviation (n − 1), two passes over the distinct values. */
export function meanStdOfCounts(vc: ValueCounts): { mean: number; std: number } {
  const n = vc.total;
  if (n === 0) return { mean: NaN, std: 0 };
  let sum = 0;
  const count = (k: number) => (vc.counts ? vc.counts[k]! : 1);
  for (let k = 0; k < vc.values.length; k++) sum += count(k) * vc.values[k]!;
  const mean = sum / n;
  let m2 = 0;
  for (let k = 0; k < vc.values.length; k++) m2 += count(k) * (vc.values[k]! - mean) ** 2;
  return { mean, std: n > 1 ? Math.sqrt(m2 / (n - 1)) : 0 };
}

/**
 * Walks both samples' distinct values in order: the largest gap between their ECDFs (KS's D) and the area
 * between them (W1) — one pass for both, as a drift report needs both.
 */
export function ecdfDistances(a: ValueCounts, b: ValueCounts): { supremum: number; area: number } {
  const n = a.total;
  const m = b.total;
  if (!n || !m) return { supremum: 0, area: 0 };
  const [av, ac, bv, bc] = [a.values, a.counts, b.values, b.counts];
  let i = 0;
  let j = 0;
  let ca = 0;
  let cb = 0;
  let supremum = 0;
  let area = 0;
  let prev = Math.min(av[0]!, bv[0]!);
  while (i < av.length || j < bv.length) {
    const x = j >= bv.length || (i < av.length && av[i]! <= bv[j]!) ? av[i]! : bv[j]!;
    // Between the previous value and x both ECDFs are flat.
    area += Math.abs(ca / n - cb / m) * (x - prev);
    prev = x;
    if (i < av.length && av[i] === x) ca += ac ? ac[i++]! : (i++, 1);
    if (j < bv.length && bv[j] === x) cb += bc ? bc[j++]! : (j++, 1);
    supremum = Math.max(supremum, Math.abs(ca / n - cb / m));
  }
  return { supremum, area };
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

/** The two-sample Kolmogorov–Smirnov test's asymptotic p-value for D between samples of n and m values. */
export function ksPValue(d: number, n: number, m: number): number {
  if (!n || !m) return 1;
  const ne = Math.sqrt((n * m) / (n + m));
  // Stephens' small-sample correction (Numerical Recipes, kstwo).
  return kolmogorovQ((ne + 0.12 + 0.11 / ne) * d);
}
