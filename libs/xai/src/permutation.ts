// Permutation sampling with antithetic orders: each random order is walked forwards and backwards, adding
// one feature at a time; a feature's φ is its mean marginal contribution. Every walk telescopes from v(∅)
// to v(all), so efficiency holds exactly; the standard error comes from the spread over order pairs.
import { rngFor } from '@floe/random';
import { meanStandardError, sum, type Attribution, type ValueFunction } from './types.js';

export interface PermutationOptions {
  /** Coalitions to evaluate; rounded down to whole antithetic pairs (at least one). Default 2M + 2048. */
  budget?: number;
  seed?: number;
}

export function permutationShap(value: ValueFunction, m: number, opts: PermutationOptions = {}): Attribution {
  const t0 = performance.now();
  const budget = opts.budget ?? 2 * m + 2048;
  const ends = value(new Uint8Array(2 * m).fill(1, m), 2);
  const [baseValue, output] = [ends[0]!, ends[1]!];
  // A walk needs the M − 1 coalitions strictly between ∅ and all.
  const pairs = Math.max(1, Math.floor(budget / Math.max(1, 2 * (m - 1))));
  const rng = rngFor(opts.seed ?? 0, 'permutation-shap');
  const order = Array.from({ length: m }, (_, i) => i);
  const meanPhi = new Float64Array(m);
  const sqPhi = new Float64Array(m);
  const masks = new Uint8Array(2 * (m - 1) * m);
  const pairPhi = new Float64Array(m);
  for (let p = 0; p < pairs; p++) {
    rng.shuffle(order);
    // Rows 0..m−2: forward prefixes of length 1..m−1; rows m−1..2m−3: backward prefixes.
    masks.fill(0);
    for (let len = 1; len < m; len++) {
      for (let k = 0; k < len; k++) {
        masks[(len - 1) * m + order[k]!] = 1;
        masks[(m - 1 + len - 1) * m + order[m - 1 - k]!] = 1;
      }
    }
    const v = m > 1 ? value(masks, 2 * (m - 1)) : new Float64Array(0);
    pairPhi.fill(0);
    for (const [direction, row0] of [
      [1, 0],
      [-1, m - 1],
    ] as const) {
      let previous = baseValue;
      for (let len = 1; len <= m; len++) {
        const feature = direction === 1 ? order[len - 1]! : order[m - len]!;
        const current = len === m ? output : v[row0 + len - 1]!;
        pairPhi[feature]! += (current - previous) / 2;
        previous = current;
      }
    }
    for (let i = 0; i < m; i++) {
      meanPhi[i]! += pairPhi[i]!;
      sqPhi[i]! += pairPhi[i]! ** 2;
    }
  }
  const values = meanPhi.map((s) => s / pairs);
  const standardErrors = pairs > 1 ? values.map((mean, i) => meanStandardError(mean, sqPhi[i]!, pairs)) : undefined;
  return {
    values,
    baseValue,
    output,
    delta: sum(values) - (output - baseValue),
    standardErrors,
    evaluations: 2 + pairs * 2 * (m - 1),
    wallMs: performance.now() - t0,
  };
}
