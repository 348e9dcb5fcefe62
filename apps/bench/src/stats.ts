// Small statistics the benchmarks share.

/** The q-quantile (q in [0, 1]) of a sample: its ⌊q·n⌋-th smallest value (the largest at q = 1); NaN if empty. */
export function quantile(xs: readonly number[], q: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
}
