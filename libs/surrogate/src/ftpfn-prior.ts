// The FT-PFN learning-curve prior (docs/ALGORITHMS.md §4; ifBO, Rakotoarison et al. 2024), as a seeded
// sampler of training sequences for the PFN. A "task" is a random tanh MLP that maps a configuration in
// [0, 1]^k to 23 outputs; each output becomes a quantile (against the pooled distribution of such outputs)
// and then a curve parameter by an inverse CDF, so curve parameters are smooth in the configuration.
// Departure from the reference, for speed on a CPU: the task MLP has 3–8 layers of 24–96 units (the
// reference: 8–15 layers of 36–149) and no pre-activation noise; the quantile mapping is recalibrated
// for this family, so every parameter keeps its marginal distribution.
import { Rng } from '@floe/random';
import { exponentialInverseCdf, normalInverseCdf, sampleGamma } from './distributions.js';

/** Hyperparameters a sequence may have (configurations are zero-padded to this many inputs). */
export const MAX_DIMS = 10;
/** Curve ids of the embedding: 0 marks a curve with no observations, 1…MAX_CURVE_ID name curves. */
export const MAX_CURVE_ID = 1000;
const OUTPUTS = 23;

/** One curve's parameters (four basis families mixed by `w`). */
export interface CurveParams {
  y0: number;
  yInf: number;
  w: number[];
  alpha: number[];
  xSat: number[];
  prec: number[];
  rpSat: number[];
  sigma: number;
  /** Where the curve starts to move (a share of its length); before it, the curve stays at y0. 0 in the reference. */
  onset?: number;
}

/** Value of one basis family at x (x > 0 after the saturation bend) — pow4, exp, log, hill. */
function family(kind: number, x: number, p: CurveParams): number {
  const { y0, yInf } = p;
  const a = p.alpha[kind]!;
  const xs = p.xSat[kind]!;
  const prec = p.prec[kind]!;
  switch (kind) {
    case 0:
      return yInf - (yInf - y0) * Math.pow(((Math.pow(prec, 1 / a) - 1) / xs) * x + 1, -a);
    case 1:
      return yInf - (yInf - y0) * Math.pow(prec, -Math.pow(x / xs, a));
    case 2: {
      const v = yInf - ((yInf - y0) * Math.log(a)) / Math.log(((Math.pow(a, prec) - a) * x) / xs + a);
      return Number.isNaN(v) ? yInf : v;
    }
    default:
      return yInf - (yInf - y0) / (Math.pow(x / xs, a) * (prec - 1) + 1);
  }
}

/**
 * The noiseless curve at x ∈ (0, 1]; past each family's saturation point x is bent by its slope. A late
 * onset holds the curve at y0 and then starts it from there, shifted.
 */
export function curveValue(p: CurveParams, x: number): number {
  const onset = p.onset ?? 0;
  if (onset > 0) {
    if (x <= onset) return p.y0;
    x -= onset;
  }
  let y = 0;
  for (let k = 0; k < 4; k++) {
    const xs = p.xSat[k]!;
    const xb = x < xs ? x : p.rpSat[k]! * (x - xs) + xs;
    let v: number;
    if (xb > 0) v = family(k, xb, p);
    else {
      // Below zero (a curve bent back past its start): the exponential tail the reference uses.
      const e = 1e-9;
      const grad = (family(k, 2 * e, p) - family(k, e, p)) / e;
      v = p.y0 * Math.exp((xb * (grad + e)) / Math.max(p.y0, 1e-9));
    }
    y += p.w[k]! * v;
  }
  return y;
}

/** A random tanh MLP, [0, 1]^k → R^23; 14.5 % of hidden weights dropped (rescaled), as the reference. */
class TaskMlp {
  private readonly layers: { w: Float64Array; b: Float64Array; nIn: number; nOut: number }[] = [];

  /** `relevance` scales each input (1 for all in the reference prior). */
  constructor(
    rng: Rng,
    nIn: number,
    nOut = OUTPUTS,
    private readonly relevance?: readonly number[],
  ) {
    const depth = 3 + rng.int(6);
    const width = 24 + rng.int(73);
    const std = rng.uniform(0.089, 0.193);
    const sparseness = 0.145;
    for (let l = 0; l < depth; l++) {
      const i = l === 0 ? nIn : width;
      const o = l === depth - 1 ? nOut : width;
      // Stored output-major (w[out·nIn + in]) so forward reads each row contiguously; drawn in the
      // reference's input-major order, so the random stream and the sums are unchanged.
      const w = new Float64Array(i * o);
      const b = new Float64Array(o);
      const hidden = l > 0 && l < depth - 1;
      for (let j = 0; j < w.length; j++) {
        let v = rng.normal() * std;
        if (hidden) v = rng.next() < sparseness ? 0 : v / Math.sqrt(1 - sparseness);
        w[(j % o) * i + Math.floor(j / o)] = v;
      }
      for (let j = 0; j < o; j++) b[j] = rng.normal() * std;
      this.layers.push({ w, b, nIn: i, nOut: o });
    }
  }

  /**
   * The outputs of n configurations, row after row (n × nOut). Two configurations and four outputs at a
   * time: eight independent sums keep the FPU busy where one is bound by the add's latency, and each still
   * adds its terms in input order from its bias, so every value is the same to the bit as one at a time.
   */
  forwardMany(xs: readonly (readonly number[])[]): Float64Array {
    const n = xs.length;
    const r = this.relevance;
    const nIn0 = this.layers[0]!.nIn;
    let h = new Float64Array(n * nIn0);
    // Inputs normalised as the reference does: (x − 0.5)/√(1/12).
    xs.forEach((x, c) => x.forEach((v, i) => (h[c * nIn0 + i] = ((v - 0.5) / Math.sqrt(1 / 12)) * (r ? r[i]! : 1))));
    const last = this.layers.length - 1;
    for (let li = 0; li <= last; li++) {
      const { w, b, nIn, nOut } = this.layers[li]!;
      const out = new Float64Array(n * nOut);
      let c = 0;
      for (; c + 2 <= n; c += 2) {
        const h0 = c * nIn;
        const h1 = h0 + nIn;
        let o = 0;
        for (; o + 4 <= nOut; o += 4) {
          const r0 = o * nIn;
          const r1 = r0 + nIn;
          const r2 = r1 + nIn;
          const r3 = r2 + nIn;
          let a0 = b[o]!;
          let a1 = b[o + 1]!;
          let a2 = b[o + 2]!;
          let a3 = b[o + 3]!;
          let b0 = a0;
          let b1 = a1;
          let b2 = a2;
          let b3 = a3;
          for (let i = 0; i < nIn; i++) {
            const u = h[h0 + i]!;
            const v = h[h1 + i]!;
            const w0 = w[r0 + i]!;
            const w1 = w[r1 + i]!;
            const w2 = w[r2 + i]!;
            const w3 = w[r3 + i]!;
            a0 += u * w0;
            a1 += u * w1;
            a2 += u * w2;
            a3 += u * w3;
            b0 += v * w0;
            b1 += v * w1;
            b2 += v * w2;
            b3 += v * w3;
          }
          const p = c * nOut + o;
          out[p] = a0;
          out[p + 1] = a1;
          out[p + 2] = a2;
          out[p + 3] = a3;
          out[p + nOut] = b0;
          out[p + nOut + 1] = b1;
          out[p + nOut + 2] = b2;
          out[p + nOut + 3] = b3;
        }
        for (; o < nOut; o++) {
          let a = b[o]!;
          let bb = a;
          for (let i = 0, row = o * nIn; i < nIn; i++) {
            a += h[h0 + i]! * w[row + i]!;
            bb += h[h1 + i]! * w[row + i]!;
          }
          out[c * nOut + o] = a;
          out[(c + 1) * nOut + o] = bb;
        }
      }
      for (; c < n; c++)
        for (let o = 0; o < nOut; o++) {
          let a = b[o]!;
          for (let i = 0, row = o * nIn; i < nIn; i++) a += h[c * nIn + i]! * w[row + i]!;
          out[c * nOut + o] = a;
        }
      if (li !== last) for (let j = 0; j < out.length; j++) out[j] = Math.tanh(out[j]!);
      h = out;
    }
    return h;
  }
}

/**
 * Per-input relevance of a task whose hyperparameters matter unequally: 10^U(−2, 0) each, scaled so that the
 * squares sum to the number of inputs — the first layer's input variance, and so how much the curves vary
 * across the task's configurations, stays the reference prior's, but carried by fewer inputs.
 */
function drawRelevance(rng: Rng, dims: number): number[] {
  const r = Array.from({ length: dims }, () => Math.pow(10, rng.uniform(-2, 0)));
  const norm = Math.sqrt(dims / r.reduce((a, v) => a + v * v, 0));
  return r.map((v) => v * norm);
}

let pooled: Float64Array | undefined;

/** The sorted pool of MLP outputs that turns an output into a quantile (fixed seed: the same everywhere). */
function pooledOutputs(): Float64Array {
  if (pooled) return pooled;
  const rng = new Rng(0x5eed);
  const values: number[] = [];
  for (let t = 0; t < 400; t++) {
    const k = 1 + rng.int(MAX_DIMS);
    const mlp = new TaskMlp(rng, k);
    const configs = Array.from({ length: 20 }, () => Array.from({ length: k }, () => rng.next()));
    for (const v of mlp.forwardMany(configs)) values.push(v);
  }
  pooled = Float64Array.from(values).sort();
  return pooled;
}

function quantileOf(v: number): number {
  const s = pooledOutputs();
  let lo = 0;
  let hi = s.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (s[mid]! < v) lo = mid + 1;
    else hi = mid;
  }
  const eps = 0.5 / s.length;
  return Math.min(1 - eps, Math.max(eps, lo / s.length));
}

/** floe's extensions of the reference prior; all off by default (the reference prior). */
export interface PriorOptions {
  /**
   * The share of tasks with a region of configurations that never learn: their curves stay at the start
   * (a classifier at chance — what a learning rate decades too low or too high does). The region covers a
   * U(0, 0.9) share of the configurations, contiguous in the configuration space (the low end of the
   * asymptote's quantile, which the task's MLP makes smooth in the configuration). Measured at 0.5 it made
   * ifBO worse on TaskSet (docs/ALGORITHMS.md §4): a curve still at its start is then read as stalled, but
   * the best TaskSet configurations also sit at chance for their first steps.
   */
  stallingTasks?: number;
  /**
   * The share of tasks whose curves may start late: a curve stays at its start for an onset, then follows its
   * family from there (a network that sits at chance for its first epochs, then learns). The onset is a share
   * of the curve's length, up to a per-task maximum of 10^U(−2, −0.3), smooth in the configuration (its own
   * random MLP, so neighbours start at about the same time). Unlike a stall, a flat start stays hopeful.
   * Measured together with stalling tasks, both at 0.5 (docs/ALGORITHMS.md §4): better curve likelihoods,
   * much worse ifBO regret on TaskSet, so not adopted. Late onset alone has not been measured.
   */
  lateOnsetTasks?: number;
  /**
   * The share of tasks whose hyperparameters matter unequally (drawRelevance): most of a search space often
   * barely moves the result while one or two hyperparameters (a learning rate) decide it. In the reference
   * prior every input of the task's MLP weighs alike, so the PFN never learns to find the ones that matter.
   * Measured at 0.5 (docs/ALGORITHMS.md §4): the network did not learn to find them in context, and ifBO's
   * regret on TaskSet rose (0.215 against 0.111 at 1,000 steps), so not adopted.
   */
  relevanceTasks?: number;
}

/** One task of the prior: the curves of any configuration in [0, 1]^k. */
export class FtPfnTask {
  private readonly mlp: TaskMlp;
  readonly y0: number;
  readonly yMax: number;
  /** The share of configurations that never leave the start (0 in the reference prior). */
  readonly stallingShare: number;
  /** The longest onset of this task's curves, as a share of their length (0 in the reference prior). */
  readonly maxOnset: number;
  private readonly onsetMlp?: TaskMlp;
  /** Per-input relevance (undefined: all alike, the reference prior). */
  readonly relevance?: readonly number[];

  constructor(
    rng: Rng,
    readonly dims: number,
    options: PriorOptions = {},
  ) {
    // Drawn before the MLP only when enabled, so the reference prior's random stream is unchanged.
    const relevanceTasks = options.relevanceTasks ?? 0;
    if (relevanceTasks > 0 && rng.next() < relevanceTasks) this.relevance = drawRelevance(rng, dims);
    this.mlp = new TaskMlp(rng, dims, OUTPUTS, this.relevance);
    const u1 = rng.next();
    const u2 = rng.next();
    this.y0 = Math.min(u1, u2);
    this.yMax = rng.next() < 0.25 ? Math.max(u1, u2) : 1;
    // Drawn only when enabled, so the reference prior's random stream (and its trained weights) is unchanged.
    const stalling = options.stallingTasks ?? 0;
    this.stallingShare = stalling > 0 && rng.next() < stalling ? rng.uniform(0, 0.9) : 0;
    const lateOnset = options.lateOnsetTasks ?? 0;
    this.maxOnset = lateOnset > 0 && rng.next() < lateOnset ? Math.pow(10, rng.uniform(-2, -0.3)) : 0;
    if (this.maxOnset > 0) this.onsetMlp = new TaskMlp(rng, dims, 1, this.relevance);
  }

  params(config: readonly number[]): CurveParams {
    return this.paramsMany([config])[0]!;
  }

  /** The curve parameters of many configurations (the task's MLP runs on all of them at once). */
  paramsMany(configs: readonly (readonly number[])[]): CurveParams[] {
    const outs = this.mlp.forwardMany(configs);
    const onsets = this.onsetMlp?.forwardMany(configs);
    return configs.map((_, c) => this.paramsOf(outs.subarray(c * OUTPUTS, (c + 1) * OUTPUTS), onsets?.[c]));
  }

  /** Curve parameters from the task MLP's 23 outputs (and the onset MLP's one, in late-onset tasks). */
  private paramsOf(outputs: Float64Array, onsetOutput: number | undefined): CurveParams {
    const q = Array.from(outputs, quantileOf);
    let i = 0;
    const next = () => q[i++]!;
    // Below the stalling share the asymptote is the start; above it, the reference's uniform law, rescaled.
    const qInf = next();
    const f = this.stallingShare;
    const yInf = qInf < f ? this.y0 : this.y0 + (this.yMax - this.y0) * ((qInf - f) / (1 - f));
    // Gamma(1) is Exponential(1): the Dirichlet(1,1,1,1) weights need only its closed-form inverse.
    const g = [0, 1, 2, 3].map(() => exponentialInverseCdf(next()));
    const gs = g.reduce((a, b) => a + b, 0);
    const alpha = [
      Math.exp(1 + normalInverseCdf(next())),
      Math.exp(normalInverseCdf(next())),
      1 + Math.exp(-4 + normalInverseCdf(next())),
      Math.exp(0.5 + 0.5 * normalInverseCdf(next())),
    ];
    const xSatMax = Math.pow(10, normalInverseCdf(next()));
    const rel = [0, 1, 2, 3].map(() => exponentialInverseCdf(next()));
    const relMax = Math.max(...rel);
    const prec = [0, 1, 2, 3].map(() => Math.pow(10, 3 * next()));
    const rpSat = [0, 1, 2, 3].map(() => 1 - exponentialInverseCdf(next()));
    const sigma = Math.exp(-5 + normalInverseCdf(next()));
    return {
      y0: this.y0,
      yInf,
      w: g.map((v) => v / gs),
      alpha,
      xSat: rel.map((r) => (xSatMax * r) / relMax),
      prec,
      rpSat,
      sigma,
      ...(onsetOutput !== undefined ? { onset: this.maxOnset * quantileOf(onsetOutput) } : {}),
    };
  }
}

/** A training sequence: context tokens first (curve id, step, configuration, value), then queries. */
export interface CurveSequence {
  /** Tokens: nContext context points, then queries. */
  length: number;
  nContext: number;
  /** 0 for a query of a curve without observations; else 1…MAX_CURVE_ID. */
  curveId: Int32Array;
  /** Step as a fraction of the curve's length, in (0, 1]. */
  t: Float32Array;
  /** length × MAX_DIMS, zero-padded and scaled by MAX_DIMS / k. */
  config: Float32Array;
  /** Values in [0, 1] (targets for queries). */
  y: Float32Array;
}

/** Writes a configuration as the PFN reads it: zero-padded to MAX_DIMS and scaled by MAX_DIMS / k. */
export function encodeForPfn(config: readonly number[], out: Float32Array, offset: number): void {
  const k = Math.min(config.length, MAX_DIMS);
  const scale = MAX_DIMS / Math.max(1, k);
  for (let j = 0; j < MAX_DIMS; j++) out[offset + j] = j < k ? config[j]! * scale : 0;
}

/**
 * One sequence of the prior, as ifBO's get_batch builds it: 1–10 hyperparameters, 10^U(0,3) fidelity levels,
 * tokens spread over curves by very skewed Gamma weights, the first `nContext` tokens observed in order of
 * each curve's steps, the rest queried at later steps of their curves.
 */
export function sampleFtPfnSequence(
  rng: Rng,
  length: number,
  nContext: number,
  dims?: number,
  options: PriorOptions = {},
): CurveSequence {
  const k = dims ?? 1 + rng.int(MAX_DIMS);
  const task = new FtPfnTask(rng, k, options);
  const levels = Math.max(1, Math.round(Math.pow(10, 3 * rng.next())));
  const shape = Math.pow(10, rng.uniform(-4, -1));
  const nCurves = length;
  const weight = new Float64Array(nCurves);
  for (let c = 0; c < nCurves; c++) weight[c] = sampleGamma(rng, shape) * shape + 1e-9;
  // Draw `length` (curve, level) slots without replacement, every level of a curve equally likely.
  const remaining = new Int32Array(nCurves).fill(levels);
  const order = new Int32Array(length);
  let total = 0;
  for (let c = 0; c < nCurves; c++) total += weight[c]! * levels;
  let drawn = 0;
  for (; drawn < length && total > 0; drawn++) {
    let r = rng.next() * total;
    let c = 0;
    for (; c < nCurves - 1; c++) {
      const m = weight[c]! * remaining[c]!;
      if (r < m) break;
      r -= m;
    }
    if (remaining[c] === 0) c = remaining.findIndex((v) => v > 0);
    order[drawn] = c;
    remaining[c]!--;
    total -= weight[c]!;
  }
  const n = drawn;
  const ctx = Math.min(nContext, n);
  const epochs = new Int32Array(nCurves);
  const cutoff = new Int32Array(nCurves);
  for (let i = 0; i < n; i++) {
    epochs[order[i]!]!++;
    if (i < ctx) cutoff[order[i]!]!++;
  }
  // Random curve ids among 1…MAX_CURVE_ID so every embedding row is trained.
  const idOf = new Int32Array(nCurves);
  const ids = rng.shuffle(Array.from({ length: MAX_CURVE_ID }, (_, i) => i + 1));
  const xs: Float64Array[] = [];
  const ys: Float64Array[] = [];
  const configs: number[][] = [];
  const noises: Float64Array[] = [];
  let used = 0;
  // All random draws first, in the order the reference stream fixes; the curve parameters (no draws) then
  // come from one batched pass of the task's MLP over every configuration.
  for (let c = 0; c < nCurves; c++) {
    if (epochs[c] === 0) {
      xs.push(new Float64Array(0));
      configs.push([]);
      noises.push(new Float64Array(0));
      continue;
    }
    idOf[c] = ids[used++ % MAX_CURVE_ID]!;
    configs.push(Array.from({ length: k }, () => rng.next()));
    const e = epochs[c]!;
    const cut = cutoff[c]!;
    const x = new Float64Array(e);
    for (let j = 0; j < cut; j++) x[j] = (j + 1) / levels;
    // Queries: distinct later levels, by a partial Fisher–Yates shuffle of cut+1 … levels whose swapped
    // entries live in a map (a curve has few queries and up to 1,000 levels).
    const span = levels - cut;
    const swapped = new Map<number, number>();
    const at = (i: number) => swapped.get(i) ?? cut + 1 + i;
    for (let j = cut; j < e; j++) {
      const pick = rng.int(span - (j - cut));
      const idx = span - 1 - (j - cut);
      const picked = at(pick);
      swapped.set(pick, at(idx));
      swapped.set(idx, picked);
      x[j] = picked / levels;
    }
    const noise = new Float64Array(e);
    for (let j = 0; j < e; j++) noise[j] = rng.normal();
    xs.push(x);
    noises.push(noise);
  }
  const active = configs.filter((_, c) => epochs[c]! > 0);
  const activeParams = task.paramsMany(active);
  let next = 0;
  for (let c = 0; c < nCurves; c++) {
    if (epochs[c] === 0) {
      ys.push(new Float64Array(0));
      continue;
    }
    const p = activeParams[next++]!;
    const x = xs[c]!;
    const noise = noises[c]!;
    const y = new Float64Array(x.length);
    for (let j = 0; j < x.length; j++) {
      const v = curveValue(p, x[j]!) + noise[j]! * p.sigma;
      y[j] = Math.min(1, Math.max(0, Number.isFinite(v) ? v : p.yInf));
    }
    ys.push(y);
  }
  const seq: CurveSequence = {
    length: n,
    nContext: ctx,
    curveId: new Int32Array(n),
    t: new Float32Array(n),
    config: new Float32Array(n * MAX_DIMS),
    y: new Float32Array(n),
  };
  const counter = new Int32Array(nCurves);
  for (let i = 0; i < n; i++) {
    const c = order[i]!;
    const j = counter[c]!++;
    seq.curveId[i] = i < ctx || cutoff[c]! > 0 ? idOf[c]! : 0;
    seq.t[i] = xs[c]![j]!;
    seq.y[i] = ys[c]![j]!;
    encodeForPfn(configs[c]!, seq.config, i * MAX_DIMS);
  }
  return seq;
}
