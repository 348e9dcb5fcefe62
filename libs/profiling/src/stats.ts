// Small numeric helpers shared by the profiles and the drift statistics.

/**
 * A sorted Float64Array copy of the finite values of xs[start], xs[start + step], … (NaN means missing and is
 * dropped; a channel of interleaved pixels is read in place).
 */
export function sortedFinite(xs: ArrayLike<number>, start = 0, step = 1): Float64Array {
  let n = 0;
  const out = new Float64Array(Math.ceil(Math.max(0, xs.length - start) / step));
  for (let i = start; i < xs.length; i += step) {
    const v = xs[i]!;
    if (Number.isFinite(v)) out[n++] = v;
  }
  return out.subarray(0, n).sort();
}

/** How many distinct values a sorted sample holds. */
export function distinctSorted(sorted: ArrayLike<number>): number {
  let distinct = 0;
  for (let i = 0; i < sorted.length; i++) if (i === 0 || sorted[i] !== sorted[i - 1]) distinct++;
  return distinct;
}

/** Quantile of sorted values by linear interpolation (type 7, as numpy's default). */
export function quantileSorted(sorted: ArrayLike<number>, q: number): number {
  const n = sorted.length;
  if (n === 0) return NaN;
  const h = (n - 1) * q;
  const lo = Math.floor(h);
  const hi = Math.min(n - 1, lo + 1);
  return sorted[lo]! + (h - lo) * (sorted[hi]! - sorted[lo]!);
}

export function meanStd(xs: ArrayLike<number>): { mean: number; std: number } {
  // Welford: stable for large n and large offsets.
  let n = 0;
  let mean = 0;
  let m2 = 0;
  for (let i = 0; i < xs.length; i++) {
    const v = xs[i]!;
    if (!Number.isFinite(v)) continue;
    n++;
    const d = v - mean;
    mean += d / n;
    m2 += d * (v - mean);
  }
  return { mean: n ? mean : NaN, std: n > 1 ? Math.sqrt(m2 / (n - 1)) : 0 };
}

/** Index of the bin of `v` among `edges` (ascending inner edges): 0..edges.length. */
export function binOf(edges: ArrayLike<number>, v: number): number {
  let lo = 0;
  let hi = edges.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (v < edges[mid]!) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/** Shannon entropy in bits of a count vector. */
export function entropyBits(counts: ArrayLike<number>): number {
  let total = 0;
  for (let i = 0; i < counts.length; i++) total += counts[i]!;
  if (!total) return 0;
  let h = 0;
  for (let i = 0; i < counts.length; i++) {
    const c = counts[i]!;
    if (c > 0) h -= (c / total) * Math.log2(c / total);
  }
  return h;
}

export const DEFAULT_QUANTILES = [0, 0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99, 1];
