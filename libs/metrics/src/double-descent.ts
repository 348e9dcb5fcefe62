// Double descent on a validation curve (docs/ALGORITHMS.md §7, reconstruction): smooth the curve, estimate its
// noise, and look for t1 < t2 < t3 — a minimum, a later peak, a later minimum — where the peak exceeds
// both minima by more than a noise-scaled margin. A curve that only rises again after its minimum
// (overfitting) has no t3 and is not a double descent.

export interface DoubleDescent {
  hasDoubleDescent: boolean;
  t1: number;
  t2: number;
  t3: number;
  /** The second descent ends below the first minimum: early stopping at t1 would have been wrong. */
  secondDescentBelowFirst: boolean;
  /** Estimated standard deviation of the curve's noise (raw points). */
  noise: number;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Centred moving average; the window shrinks at the ends. */
export function smooth(y: number[], window: number): number[] {
  const h = window >> 1;
  return y.map((_, i) => {
    const lo = Math.max(0, i - h);
    const hi = Math.min(y.length - 1, i + h);
    let s = 0;
    for (let k = lo; k <= hi; k++) s += y[k]!;
    return s / (hi - lo + 1);
  });
}

/**
 * Robust noise σ from second differences: for white noise y'' has variance 6σ², and a smooth trend
 * contributes little to them. MAD·1.4826 makes it robust to the bump itself.
 */
export function noiseLevel(y: number[]): number {
  if (y.length < 3) return 0;
  const d2: number[] = [];
  for (let i = 1; i < y.length - 1; i++) d2.push(y[i + 1]! - 2 * y[i]! + y[i - 1]!);
  const m = median(d2);
  return (1.4826 * median(d2.map((v) => Math.abs(v - m)))) / Math.sqrt(6);
}

export const DEFAULT_NOISE_MULTIPLE = 6;

export function detectDoubleDescent(
  points: { x: number; y: number }[],
  opts: { window?: number; noiseMultiple?: number } = {},
): DoubleDescent {
  const pts = [...points].filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y)).sort((a, b) => a.x - b.x);
  const none = (noise: number): DoubleDescent => ({
    hasDoubleDescent: false,
    t1: NaN,
    t2: NaN,
    t3: NaN,
    secondDescentBelowFirst: false,
    noise,
  });
  const n = pts.length;
  const y = pts.map((p) => p.y);
  const noise = noiseLevel(y);
  if (n < 7) return none(noise);
  let window = opts.window || Math.max(3, Math.round(n / 25));
  if (window % 2 === 0) window++;
  const s = smooth(y, window);
  const range = Math.max(...s) - Math.min(...s);
  // The smoothed curve's noise is σ/√w; the margin must beat the extremes of that over the whole curve.
  const margin = Math.max((opts.noiseMultiple || DEFAULT_NOISE_MULTIPLE) * (noise / Math.sqrt(window)), 1e-6 * range);
  const prefMin = new Array<number>(n);
  const sufMin = new Array<number>(n);
  for (let i = 1; i < n; i++) prefMin[i] = i === 1 || s[i - 1]! < s[prefMin[i - 1]!]! ? i - 1 : prefMin[i - 1]!;
  for (let i = n - 2; i >= 0; i--) sufMin[i] = i === n - 2 || s[i + 1]! <= s[sufMin[i + 1]!]! ? i + 1 : sufMin[i + 1]!;
  let best = -Infinity;
  let at = -1;
  for (let t2 = 1; t2 < n - 1; t2++) {
    const bump = Math.min(s[t2]! - s[prefMin[t2]!]!, s[t2]! - s[sufMin[t2]!]!);
    if (bump > best) {
      best = bump;
      at = t2;
    }
  }
  if (at < 0 || best <= margin) return none(noise);
  const t1 = prefMin[at]!;
  const t3 = sufMin[at]!;
  return {
    hasDoubleDescent: true,
    t1: pts[t1]!.x,
    t2: pts[at]!.x,
    t3: pts[t3]!.x,
    secondDescentBelowFirst: s[t3]! < s[t1]!,
    noise,
  };
}
