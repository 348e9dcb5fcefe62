// Exact Shapley values: every coalition evaluated once, in Gray-code order (consecutive coalitions differ
// by one feature, so maskers that cache partial work can reuse it), in batches.
import { sum, type Attribution, type ValueFunction } from './types.js';

/** The most features exact enumeration accepts: 2^14 coalitions. */
export const EXACT_MAX_FEATURES = 14;

/** w(s) = s!(M − s − 1)!/M!, the weight of a coalition of size s in φ_i. */
export function shapleyWeights(m: number): Float64Array {
  const w = new Float64Array(m);
  // w(0) = 1/M; w(s+1) = w(s)·(s+1)/(M−s−1).
  w[0] = 1 / m;
  for (let s = 0; s + 1 < m; s++) w[s + 1] = (w[s]! * (s + 1)) / (m - s - 1);
  return w;
}

function popcount(x: number): number {
  let c = 0;
  for (; x; x &= x - 1) c++;
  return c;
}

/** v over all 2^M coalitions, indexed by bitmask (bit i = feature i present). */
export function allCoalitionValues(value: ValueFunction, m: number, batch = 256): Float64Array {
  const total = 1 << m;
  const v = new Float64Array(total);
  const masks = new Uint8Array(batch * m);
  const codes = new Int32Array(batch);
  for (let start = 0; start < total; start += batch) {
    const count = Math.min(batch, total - start);
    masks.fill(0);
    for (let k = 0; k < count; k++) {
      const g = (start + k) ^ ((start + k) >> 1);
      codes[k] = g;
      for (let i = 0; i < m; i++) if (g & (1 << i)) masks[k * m + i] = 1;
    }
    const out = value(masks.subarray(0, count * m), count);
    for (let k = 0; k < count; k++) v[codes[k]!] = out[k]!;
  }
  return v;
}

/** φ_i = Σ_{S ∌ i} w(|S|)·(v(S ∪ {i}) − v(S)) from the values of every coalition. */
export function shapleyFromValues(v: Float64Array, m: number): Float64Array {
  const w = shapleyWeights(m);
  const phi = new Float64Array(m);
  for (let s = 0; s < 1 << m; s++) {
    const ws = w[popcount(s)]!;
    for (let i = 0; i < m; i++) {
      const bit = 1 << i;
      if (!(s & bit)) phi[i]! += ws * (v[s | bit]! - v[s]!);
    }
  }
  return phi;
}

export function exactShapley(value: ValueFunction, m: number): Attribution {
  if (m < 1 || m > EXACT_MAX_FEATURES)
    throw new RangeError(`exact Shapley takes 1 to ${EXACT_MAX_FEATURES} features, not ${m}`);
  const t0 = performance.now();
  const v = allCoalitionValues(value, m);
  const values = shapleyFromValues(v, m);
  const baseValue = v[0]!;
  const output = v[(1 << m) - 1]!;
  return {
    values,
    baseValue,
    output,
    delta: sum(values) - (output - baseValue),
    evaluations: 1 << m,
    wallMs: performance.now() - t0,
  };
}
