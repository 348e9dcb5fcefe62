// The hidden attention of a selective SSM layer ("The Hidden Attention of Mamba"): with Euler's dB = Δ·B
// and dA = exp(Δ ⊗ A), the scan's output is y_i[c] = Σ_{j≤i} α_c[i, j] x_j[c] with
//   α_c[i, j] = Σ_n C_i[n] · Π_{k=j+1..i} dA_k[c, n] · Δ_j[c] B_j[n]
//             = Σ_n C_i[n] · exp(A[c, n] (S_i[c] − S_j[c])) · Δ_j[c] B_j[n],   S = cumulative sum of Δ.
// Diagonal tiles are computed directly, the upper triangle masked before the exponential (A < 0, so
// S_i − S_j < 0 there would overflow). An off-diagonal tile (rows I after columns J) factors through the
// last step r of J, exp(A(S_i − S_r)) · exp(A(S_r − S_j)), both exponents ≤ 0: a rank-N product, so long
// sequences stream tile by tile as small matrix products.
import { native } from '@floe/native';

/** One selective-scan layer's tensors for one sequence (row-major, time first). */
export interface ScanLayer {
  /** T × Di step sizes (after softplus). */
  delta: Float32Array;
  /** Di × N (negative). */
  A: Float32Array;
  /** T × N. */
  B: Float32Array;
  /** T × N. */
  C: Float32Array;
  /** T × Di scan input. */
  x: Float32Array;
  /** T × Di scan output (without the D skip), when captured: the reference for the self-check. */
  y?: Float32Array;
  steps: number;
  channels: number;
  state: number;
}

const TILE = 32;

function gemmNT(
  a: Float32Array,
  b: Float32Array,
  c: Float32Array,
  rows: number,
  cols: number,
  k: number,
  ldc: number,
  offset: number,
): void {
  // c[offset + i·ldc + j] = Σ_n a[i, n] b[j, n]
  if (native) {
    native.sgemmBatched(1, false, true, rows, cols, k, 1, a, 0, k, b, 0, k, 0, c.subarray(offset), 0, ldc);
    return;
  }
  for (let i = 0; i < rows; i++)
    for (let j = 0; j < cols; j++) {
      let s = 0;
      for (let n = 0; n < k; n++) s += a[i * k + n]! * b[j * k + n]!;
      c[offset + i * ldc + j] = s;
    }
}

/** α_c as a T × T row-major matrix (zero above the diagonal), written into `out`. */
export function channelAttention(
  layer: ScanLayer,
  c: number,
  out = new Float32Array(layer.steps * layer.steps),
): Float32Array {
  const { steps: t, channels: di, state: n } = layer;
  const s = new Float64Array(t);
  let acc = 0;
  for (let i = 0; i < t; i++) s[i] = acc += layer.delta[i * di + c]!;
  out.fill(0);
  const a = layer.A.subarray(c * n, (c + 1) * n);
  const u = new Float32Array(TILE * n);
  const v = new Float32Array(TILE * n);
  for (let j0 = 0; j0 < t; j0 += TILE) {
    const j1 = Math.min(t, j0 + TILE);
    // Diagonal tile, direct.
    for (let i = j0; i < j1; i++)
      for (let j = j0; j <= i; j++) {
        const dj = layer.delta[j * di + c]!;
        let sum = 0;
        for (let k = 0; k < n; k++)
          sum += layer.C[i * n + k]! * Math.exp(a[k]! * (s[i]! - s[j]!)) * dj * layer.B[j * n + k]!;
        out[i * t + j] = sum;
      }
    if (j1 >= t) continue;
    const r = j1 - 1;
    for (let j = j0; j < j1; j++) {
      const dj = layer.delta[j * di + c]!;
      for (let k = 0; k < n; k++) v[(j - j0) * n + k] = dj * layer.B[j * n + k]! * Math.exp(a[k]! * (s[r]! - s[j]!));
    }
    for (let i0 = j1; i0 < t; i0 += TILE) {
      const i1 = Math.min(t, i0 + TILE);
      for (let i = i0; i < i1; i++)
        for (let k = 0; k < n; k++) u[(i - i0) * n + k] = layer.C[i * n + k]! * Math.exp(a[k]! * (s[i]! - s[r]!));
      gemmNT(u, v, out, i1 - i0, j1 - j0, n, t, i0 * t + j0);
    }
  }
  return out;
}

/** y_i[c] = Σ_j α_c[i, j] x_j[c] for channel c, written into the T × Di `y`. */
function applyChannel(alpha: Float32Array, layer: ScanLayer, c: number, y: Float32Array): void {
  const { steps: t, channels: di } = layer;
  for (let i = 0; i < t; i++) {
    let sum = 0;
    for (let j = 0; j <= i; j++) sum += alpha[i * t + j]! * layer.x[j * di + c]!;
    y[i * di + c] = sum;
  }
}

/** The scan's output rebuilt from the attention, every channel: α·x. */
export function reconstructScan(layer: ScanLayer): Float32Array {
  const y = new Float32Array(layer.steps * layer.channels);
  const alpha = new Float32Array(layer.steps * layer.steps);
  for (let c = 0; c < layer.channels; c++) applyChannel(channelAttention(layer, c, alpha), layer, c, y);
  return y;
}

/**
 * The layer's map: each channel's α min–max normalised over its lower triangle, then averaged over
 * channels (T × T, zero above the diagonal). With `selfCheck` and a captured output, also the largest
 * |α·x − y|, from the same α (each channel's α is computed once). `onChannel` reports progress.
 */
export function layerAttention(
  layer: ScanLayer,
  opts: { selfCheck?: boolean; onChannel?: (done: number, total: number) => void } = {},
): { map: Float32Array; reconstructionError?: number } {
  const { steps: t, channels: di } = layer;
  const map = new Float32Array(t * t);
  const alpha = new Float32Array(t * t);
  const check = opts.selfCheck && layer.y ? new Float32Array(t * di) : undefined;
  for (let c = 0; c < di; c++) {
    channelAttention(layer, c, alpha);
    if (check) applyChannel(alpha, layer, c, check);
    let lo = Infinity;
    let hi = -Infinity;
    for (let i = 0; i < t; i++)
      for (let j = 0; j <= i; j++) {
        const v = alpha[i * t + j]!;
        if (v < lo) lo = v;
        if (v > hi) hi = v;
      }
    const scale = hi > lo ? 1 / (hi - lo) : 0;
    for (let i = 0; i < t; i++) for (let j = 0; j <= i; j++) map[i * t + j]! += ((alpha[i * t + j]! - lo) * scale) / di;
    opts.onChannel?.(c + 1, di);
  }
  if (!check) return { map };
  let reconstructionError = 0;
  for (let k = 0; k < check.length; k++)
    reconstructionError = Math.max(reconstructionError, Math.abs(check[k]! - layer.y![k]!));
  return { map, reconstructionError };
}

/** Row-normalises map + I (the residual path), in place. */
function withResidual(map: Float32Array, t: number): Float32Array {
  for (let i = 0; i < t; i++) {
    map[i * t + i]! += 1;
    let s = 0;
    for (let j = 0; j <= i; j++) s += map[i * t + j]!;
    for (let j = 0; j <= i; j++) map[i * t + j]! /= s;
  }
  return map;
}

/**
 * Attention rollout: each layer's map plus the identity, row-normalised, multiplied from the first
 * layer to the last. With `weights` (per layer, T × T multipliers, e.g. Mamba-Attr's gradient weights),
 * each map is weighted first.
 */
export function rollout(maps: Float32Array[], t: number, weights?: Float32Array[]): Float32Array {
  let result: Float32Array | undefined;
  maps.forEach((m, l) => {
    const layer = Float32Array.from(m);
    if (weights) for (let k = 0; k < layer.length; k++) layer[k]! *= weights[l]![k]!;
    withResidual(layer, t);
    if (!result) {
      result = layer;
      return;
    }
    const next = new Float32Array(t * t);
    // next = layer · result (both lower triangular)
    for (let i = 0; i < t; i++)
      for (let k = 0; k <= i; k++) {
        const lik = layer[i * t + k]!;
        if (lik === 0) continue;
        for (let j = 0; j <= k; j++) next[i * t + j]! += lik * result[k * t + j]!;
      }
    result = next;
  });
  return result ?? new Float32Array(t * t);
}

/**
 * Mamba-Attr's weights for one layer: s_j = max over channels of ReLU(∂target/∂h_j) (h the layer's output,
 * T × D), min–max normalised over positions; a map's column j is multiplied by s_j before rollout.
 */
export function gradientColumnWeights(gradient: Float32Array, steps: number, dims: number): Float32Array {
  const s = new Float32Array(steps);
  for (let j = 0; j < steps; j++) {
    let best = 0;
    for (let c = 0; c < dims; c++) best = Math.max(best, gradient[j * dims + c]!);
    s[j] = best;
  }
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of s) {
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  }
  const weights = new Float32Array(steps * steps);
  for (let i = 0; i < steps; i++)
    for (let j = 0; j < steps; j++) weights[i * steps + j] = hi > lo ? (s[j]! - lo) / (hi - lo) : 1;
  return weights;
}
