// KernelSHAP as shap's KernelExplainer does it (shap/explainers/_kernel.py): coalition sizes s and M − s
// are paired; whole sizes are enumerated while the budget covers them, the rest is sampled by size with
// complements; a repeated coalition adds weight instead of a sample; efficiency is imposed by eliminating
// the last feature from a weighted least-squares fit. No L1 feature selection.
import { rngFor } from '@floe/random';
import { inverse, multiply, solve } from './linalg.js';
import { sum, type Attribution, type ValueFunction } from './types.js';

/** shap's default budget: 2M + 2048 coalitions, at most every proper coalition (2^M − 2). */
export function defaultKernelBudget(m: number): number {
  return Math.min(2 * m + 2048, properCoalitions(m));
}

/** The smallest budget accepted: 2M + 2 (fewer leaves the regression under-determined in practice). */
export function minKernelBudget(m: number): number {
  return Math.min(2 * m + 2, properCoalitions(m));
}

function properCoalitions(m: number): number {
  return m >= 52 ? Number.MAX_SAFE_INTEGER : 2 ** m - 2;
}

function binomial(n: number, k: number): number {
  let r = 1;
  for (let i = 1; i <= k; i++) r = (r * (n - k + i)) / i;
  return r;
}

/** Calls `visit` with every k-subset of [0, n) (as a reused index array), in lexicographic order. */
function combinations(n: number, k: number, visit: (idx: Int32Array) => void): void {
  const idx = Int32Array.from({ length: k }, (_, i) => i);
  for (;;) {
    visit(idx);
    let i = k - 1;
    while (i >= 0 && idx[i] === n - k + i) i--;
    if (i < 0) return;
    idx[i]!++;
    for (let j = i + 1; j < k; j++) idx[j] = idx[j - 1]! + 1;
  }
}

/** The coalitions KernelSHAP evaluates for M features and a budget, with their kernel weights. */
export function kernelCoalitions(
  m: number,
  budget: number,
  seed: number,
): { masks: Uint8Array; weights: Float64Array; count: number } {
  const masks: Uint8Array[] = [];
  const weights: number[] = [];
  const add = (mask: Uint8Array, w: number) => {
    masks.push(mask);
    weights.push(w);
  };
  const sizes = Math.ceil((m - 1) / 2);
  const pairedSizes = Math.floor((m - 1) / 2);
  const weightVector = new Float64Array(sizes);
  for (let s = 1; s <= sizes; s++) weightVector[s - 1] = ((m - 1) / (s * (m - s))) * (s <= pairedSizes ? 2 : 1);
  const total = sum(weightVector);
  for (let i = 0; i < sizes; i++) weightVector[i]! /= total;

  let fullSizes = 0;
  let left = budget;
  const remaining = Float64Array.from(weightVector);
  for (let s = 1; s <= sizes; s++) {
    const paired = s <= pairedSizes;
    const subsets = binomial(m, s) * (paired ? 2 : 1);
    if ((left * remaining[s - 1]!) / subsets < 1 - 1e-8) break;
    fullSizes++;
    left -= subsets;
    if (remaining[s - 1]! < 1) {
      const scale = 1 - remaining[s - 1]!;
      for (let i = 0; i < sizes; i++) remaining[i]! /= scale;
    }
    const w = weightVector[s - 1]! / binomial(m, s) / (paired ? 2 : 1);
    combinations(m, s, (idx) => {
      const mask = new Uint8Array(m);
      for (const i of idx) mask[i] = 1;
      add(mask, w);
      if (paired)
        add(
          mask.map((b) => 1 - b),
          w,
        );
    });
  }
  const fixed = masks.length;

  if (fullSizes !== sizes && left > 0) {
    const rng = rngFor(seed, 'kernel-shap');
    const probs = Array.from(weightVector.slice(fullSizes), (w, i) => (fullSizes + i + 1 <= pairedSizes ? w / 2 : w));
    const norm = sum(probs);
    const cdf: number[] = [];
    let acc = 0;
    for (const p of probs) cdf.push((acc += p / norm));
    const drawSize = () => {
      const u = rng.next();
      let i = 0;
      while (i < cdf.length - 1 && u >= cdf[i]!) i++;
      return fullSizes + i + 1;
    };
    const used = new Map<string, number>();
    const order = Array.from({ length: m }, (_, i) => i);
    for (let draws = 0; left > 0 && draws < 4 * budget; draws++) {
      const size = drawSize();
      rng.shuffle(order);
      const mask = new Uint8Array(m);
      for (let i = 0; i < size; i++) mask[order[i]!] = 1;
      const key = mask.join('');
      const seen = used.get(key);
      if (seen === undefined) {
        used.set(key, masks.length);
        add(mask, 1);
        left--;
      } else weights[seen]!++;
      if (left > 0 && size <= pairedSizes) {
        if (seen === undefined) {
          add(
            mask.map((b) => 1 - b),
            1,
          );
          left--;
        } else weights[seen + 1]!++;
      }
    }
    // The sampled coalitions share the weight the enumerated sizes left over.
    const weightLeft = sum(weightVector.slice(fullSizes));
    const sampled = sum(weights.slice(fixed));
    for (let i = fixed; i < weights.length; i++) weights[i]! *= weightLeft / sampled;
  }

  const out = new Uint8Array(masks.length * m);
  masks.forEach((mask, k) => out.set(mask, k * m));
  return { masks: out, weights: Float64Array.from(weights), count: masks.length };
}

export interface KernelOptions {
  /** Coalitions to evaluate; default 2M + 2048 (capped at 2^M − 2). */
  budget?: number;
  seed?: number;
}

export function kernelShap(value: ValueFunction, m: number, opts: KernelOptions = {}): Attribution {
  const t0 = performance.now();
  const budget = Math.min(opts.budget ?? defaultKernelBudget(m), properCoalitions(m));
  if (budget < minKernelBudget(m)) throw new RangeError(`a budget of ${budget} is below 2M + 2 = ${2 * m + 2}`);
  const ends = value(new Uint8Array(2 * m).fill(1, m), 2);
  const [baseValue, output] = [ends[0]!, ends[1]!];
  const gap = output - baseValue;
  if (m === 1) {
    return {
      values: Float64Array.of(gap),
      baseValue,
      output,
      delta: 0,
      evaluations: 2,
      wallMs: performance.now() - t0,
    };
  }
  const { masks, weights, count } = kernelCoalitions(m, budget, opts.seed ?? 0);
  const v = value(masks, count);

  // Eliminate the last feature: y − z_last·gap = Σ_{i<last} φ_i (z_i − z_last).
  const p = m - 1;
  const xtwx = new Float64Array(p * p);
  const xtwy = new Float64Array(p);
  const e = new Float64Array(p);
  const y = new Float64Array(count);
  for (let k = 0; k < count; k++) {
    const zLast = masks[k * m + p]!;
    y[k] = v[k]! - baseValue - zLast * gap;
    const w = weights[k]!;
    for (let i = 0; i < p; i++) e[i] = masks[k * m + i]! - zLast;
    for (let i = 0; i < p; i++) {
      if (e[i] === 0) continue;
      const wi = w * e[i]!;
      xtwy[i]! += wi * y[k]!;
      for (let j = 0; j < p; j++) xtwx[i * p + j]! += wi * e[j]!;
    }
  }
  const phi = solve(xtwx, xtwy, p);
  const values = new Float64Array(m);
  values.set(phi);
  values[p] = gap - sum(phi);

  // Standard errors from the weighted residuals (a sandwich estimate), only where coalitions were sampled.
  let standardErrors: Float64Array | undefined;
  if (count < properCoalitions(m) && count > p) {
    const inv = inverse(xtwx, p);
    const meat = new Float64Array(p * p);
    for (let k = 0; k < count; k++) {
      const zLast = masks[k * m + p]!;
      let fit = 0;
      for (let i = 0; i < p; i++) fit += phi[i]! * (masks[k * m + i]! - zLast);
      const r = weights[k]! * (y[k]! - fit);
      for (let i = 0; i < p; i++) e[i] = masks[k * m + i]! - zLast;
      for (let i = 0; i < p; i++) for (let j = 0; j < p; j++) meat[i * p + j]! += r * r * e[i]! * e[j]!;
    }
    const cov = multiply(multiply(inv, meat, p), inv, p);
    standardErrors = new Float64Array(m);
    let lastVar = 0;
    for (let i = 0; i < p; i++) {
      standardErrors[i] = Math.sqrt(Math.max(0, cov[i * p + i]!));
      for (let j = 0; j < p; j++) lastVar += cov[i * p + j]!;
    }
    standardErrors[p] = Math.sqrt(Math.max(0, lastVar));
  }
  return {
    values,
    baseValue,
    output,
    delta: sum(values) - gap,
    standardErrors,
    evaluations: count + 2,
    wallMs: performance.now() - t0,
  };
}
