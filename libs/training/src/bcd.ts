// Greedy block coordinate descent (Nutini, Laradji, Schmidt, "Let's Make Block Coordinate Descent Go
// Fast"): which block to update next. Cyclic and uniform random are the baselines; random ∝ L_b samples by
// block Lipschitz constants; Gauss–Southwell (GS) takes the largest ‖∇_b f‖; GS-Lipschitz (GSL) the
// largest ‖∇_b f‖²/L_b — the largest guaranteed decrease ‖∇_b f‖²/(2L_b) of a 1/L_b step; GS-quadratic
// with a diagonal bound d takes the largest Σ_i (∇_i f)²/d_i (Adam's second moment serves as d in networks).
import { rngFor, type Rng } from '@floe/random';

export const BCD_RULES = ['cyclic', 'random', 'random-lipschitz', 'gs', 'gsl', 'gs-quadratic'] as const;
export type BcdRule = (typeof BCD_RULES)[number];

/** What a rule may look at for each block; greedy rules need gradients, Lipschitz rules constants. */
export interface BlockScores {
  /** ‖∇_b f‖² per block. */
  gradNormSq?: ArrayLike<number>;
  /** L_b per block. */
  lipschitz?: ArrayLike<number>;
  /** Σ_i (∇_i f)²/d_i per block. */
  quadratic?: ArrayLike<number>;
}

export class BlockSelector {
  private next = 0;
  private readonly rng: Rng;

  constructor(
    readonly rule: BcdRule,
    readonly blocks: number,
    seed = 0,
  ) {
    if (blocks < 1) throw new RangeError('block coordinate descent needs at least one block');
    this.rng = rngFor(seed, `bcd-${rule}`);
  }

  /** The selector's whole state (the cyclic position and the generator), for checkpoints. */
  getState(): { next: number; rng: ReturnType<Rng['getState']> } {
    return { next: this.next, rng: this.rng.getState() };
  }

  setState(s: { next: number; rng: ReturnType<Rng['getState']> }): void {
    this.next = s.next;
    this.rng.setState(s.rng);
  }

  /** The block to update now. */
  pick(s: BlockScores = {}): number {
    const need = (what: keyof BlockScores) => {
      const v = s[what];
      if (!v || v.length !== this.blocks)
        throw new RangeError(`rule ${this.rule} needs ${what} for ${this.blocks} blocks`);
      return v;
    };
    switch (this.rule) {
      case 'cyclic': {
        const b = this.next;
        this.next = (this.next + 1) % this.blocks;
        return b;
      }
      case 'random':
        return this.rng.int(this.blocks);
      case 'random-lipschitz':
        return sampleProportional(need('lipschitz'), this.rng);
      case 'gs':
        return argmax(need('gradNormSq'), () => 1);
      case 'gsl': {
        const l = need('lipschitz');
        return argmax(need('gradNormSq'), (b) => 1 / l[b]!);
      }
      case 'gs-quadratic':
        return argmax(need('quadratic'), () => 1);
    }
  }
}

function argmax(values: ArrayLike<number>, scale: (b: number) => number): number {
  let best = 0;
  let bestValue = -Infinity;
  for (let b = 0; b < values.length; b++) {
    const v = values[b]! * scale(b);
    if (v > bestValue) {
      bestValue = v;
      best = b;
    }
  }
  return best;
}

function sampleProportional(weights: ArrayLike<number>, rng: Rng): number {
  let total = 0;
  for (let b = 0; b < weights.length; b++) total += weights[b]!;
  let u = rng.next() * total;
  for (let b = 0; b < weights.length; b++) {
    u -= weights[b]!;
    if (u < 0) return b;
  }
  return weights.length - 1;
}

// ---- the paper's convex problems, with variable blocks

/** A smooth convex problem in blocks of coordinates, with exact block Lipschitz constants. */
export interface BlockProblem {
  readonly dims: number;
  /** Coordinate ranges [start, end) of each block. */
  readonly blocks: [number, number][];
  /** L_b: the Lipschitz constant of ∇_b f. */
  readonly lipschitz: Float64Array;
  value(x: Float64Array): number;
  gradient(x: Float64Array): Float64Array;
}

/** λ_max(M_bᵀM_b) of the columns [start, end) of a row-major n × d matrix, by power iteration. */
function blockSpectralNorm(a: Float64Array, n: number, d: number, start: number, end: number, rng: Rng): number {
  const k = end - start;
  let v = Float64Array.from({ length: k }, () => rng.normal());
  let lambda = 0;
  for (let iter = 0; iter < 200; iter++) {
    const av = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let j = 0; j < k; j++) s += a[i * d + start + j]! * v[j]!;
      av[i] = s;
    }
    const w = new Float64Array(k);
    for (let i = 0; i < n; i++) for (let j = 0; j < k; j++) w[j]! += a[i * d + start + j]! * av[i]!;
    const norm = Math.sqrt(w.reduce((s, x) => s + x * x, 0));
    if (norm === 0) return 0;
    const next = norm;
    v = w.map((x) => x / norm);
    if (Math.abs(next - lambda) <= 1e-10 * next) return next;
    lambda = next;
  }
  return lambda;
}

/**
 * A data matrix whose blocks differ in size and scale (the paper's "variable blocks"): block b has
 * `sizes[b]` columns scaled by `scales[b]`, so the L_b differ and Lipschitz-aware rules have something to use;
 * `correlation` adds a factor shared by every column of a row, so that blocks interact.
 */
export function variableBlockMatrix(
  n: number,
  sizes: number[],
  scales: number[],
  seed: number,
  correlation = 0,
): { a: Float64Array; blocks: [number, number][] } {
  const rng = rngFor(seed, 'bcd-matrix');
  const d = sizes.reduce((s, k) => s + k, 0);
  const blocks: [number, number][] = [];
  let at = 0;
  for (const k of sizes) {
    blocks.push([at, at + k]);
    at += k;
  }
  const a = new Float64Array(n * d);
  const shared = Float64Array.from({ length: n }, () => rng.normal());
  blocks.forEach(([s, e], b) => {
    for (let i = 0; i < n; i++)
      for (let j = s; j < e; j++) a[i * d + j] = scales[b]! * (rng.normal() + correlation * shared[i]!);
  });
  return { a, blocks };
}

/** f(x) = ½‖Ax − y‖²: L_b = λ_max(A_bᵀA_b). */
export function leastSquares(a: Float64Array, y: Float64Array, blocks: [number, number][], seed = 0): BlockProblem {
  const n = y.length;
  const d = a.length / n;
  const rng = rngFor(seed, 'bcd-power');
  const lipschitz = Float64Array.from(blocks, ([s, e]) => blockSpectralNorm(a, n, d, s, e, rng));
  const residual = (x: Float64Array) => {
    const r = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      let s = -y[i]!;
      for (let j = 0; j < d; j++) s += a[i * d + j]! * x[j]!;
      r[i] = s;
    }
    return r;
  };
  return {
    dims: d,
    blocks,
    lipschitz,
    value: (x) => residual(x).reduce((s, r) => s + r * r, 0) / 2,
    gradient: (x) => {
      const r = residual(x);
      const g = new Float64Array(d);
      for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) g[j]! += a[i * d + j]! * r[i]!;
      return g;
    },
  };
}

/** f(x) = Σ log(1 + exp(−y_i a_iᵀx)) + (λ/2)‖x‖², labels ±1: L_b = ¼λ_max(A_bᵀA_b) + λ. */
export function logisticRegression(
  a: Float64Array,
  labels: Float64Array,
  blocks: [number, number][],
  lambda: number,
  seed = 0,
): BlockProblem {
  const n = labels.length;
  const d = a.length / n;
  const rng = rngFor(seed, 'bcd-power');
  const lipschitz = Float64Array.from(blocks, ([s, e]) => blockSpectralNorm(a, n, d, s, e, rng) / 4 + lambda);
  const margins = (x: Float64Array) => {
    const m = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let j = 0; j < d; j++) s += a[i * d + j]! * x[j]!;
      m[i] = labels[i]! * s;
    }
    return m;
  };
  const softplus = (z: number) => (z > 0 ? z + Math.log1p(Math.exp(-z)) : Math.log1p(Math.exp(z)));
  return {
    dims: d,
    blocks,
    lipschitz,
    value: (x) => margins(x).reduce((s, m) => s + softplus(-m), 0) + (lambda / 2) * x.reduce((s, v) => s + v * v, 0),
    gradient: (x) => {
      const m = margins(x);
      const g = x.map((v) => lambda * v);
      for (let i = 0; i < n; i++) {
        const w = -labels[i]! / (1 + Math.exp(m[i]!)); // d/dm softplus(−m) · y_i
        for (let j = 0; j < d; j++) g[j]! += w * a[i * d + j]!;
      }
      return g;
    },
  };
}

/**
 * Block updates x_b ← x_b − ∇_b f/L_b chosen by `rule` until f(x) − f* ≤ tolerance·(f(x0) − f*);
 * returns the number of block updates (or `maxUpdates` if it never gets there).
 */
export function updatesToTolerance(
  p: BlockProblem,
  rule: BcdRule,
  opts: { optimum: number; tolerance: number; maxUpdates: number; seed?: number },
): number {
  const x = new Float64Array(p.dims);
  const start = p.value(x) - opts.optimum;
  const selector = new BlockSelector(rule, p.blocks.length, opts.seed ?? 0);
  const greedy = rule === 'gs' || rule === 'gsl' || rule === 'gs-quadratic';
  for (let k = 0; k < opts.maxUpdates; k++) {
    if (p.value(x) - opts.optimum <= opts.tolerance * start) return k;
    const g = p.gradient(x);
    const gradNormSq = p.blocks.map(([s, e]) => {
      let q = 0;
      for (let j = s; j < e; j++) q += g[j]! * g[j]!;
      return q;
    });
    // With a diagonal bound d_i = L_b per coordinate, GS-quadratic reduces to GSL; kept for networks.
    const quadratic = greedy ? gradNormSq.map((q, b) => q / p.lipschitz[b]!) : undefined;
    const b = selector.pick({ gradNormSq, lipschitz: p.lipschitz, quadratic });
    const [s, e] = p.blocks[b]!;
    for (let j = s; j < e; j++) x[j]! -= g[j]! / p.lipschitz[b]!;
  }
  return opts.maxUpdates;
}

/** f* by many full-gradient steps of 1/Σ L_b (Σ L_b bounds the full gradient's Lipschitz constant). */
export function fullGradientOptimum(p: BlockProblem, iterations: number): number {
  const x = new Float64Array(p.dims);
  const step = 1 / p.lipschitz.reduce((s, l) => s + l, 0);
  for (let k = 0; k < iterations; k++) {
    const g = p.gradient(x);
    for (let j = 0; j < p.dims; j++) x[j]! -= step * g[j]!;
  }
  return p.value(x);
}

/**
 * The paper's two problems on one variable-block design: twelve blocks of 2–8 columns whose scales span
 * 0.2–5 (so the L_b differ by two orders) and a factor shared by every column of a row (so that blocks
 * interact); 300 rows; least squares on a noisy linear target, and L2-regularised logistic regression
 * (λ = 1) on its sign.
 */
export function variableBlockProblems(seed: number): { leastSquares: BlockProblem; logistic: BlockProblem } {
  const rng = rngFor(seed, 'bcd-problems');
  const rows = 300;
  const sizes = Array.from({ length: 12 }, () => 2 + rng.int(7));
  const scales = Array.from({ length: 12 }, () => Math.exp(rng.uniform(Math.log(0.2), Math.log(5))));
  const { a, blocks } = variableBlockMatrix(rows, sizes, scales, seed + 1, 1);
  const d = a.length / rows;
  const truth = Float64Array.from({ length: d }, () => rng.normal());
  const y = Float64Array.from({ length: rows }, (_, i) => {
    let s = 0.1 * rng.normal();
    for (let j = 0; j < d; j++) s += a[i * d + j]! * truth[j]!;
    return s;
  });
  return {
    leastSquares: leastSquares(a, y, blocks),
    logistic: logisticRegression(
      a,
      y.map((v) => (v > 0 ? 1 : -1)),
      blocks,
      1,
    ),
  };
}
