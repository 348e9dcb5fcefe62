// The PFN's forward pass for decisions, without TF.js: matrix products, softmaxes, layer norms and GELU on
// floe's native kernels, residual sums in plain loops over Float32Arrays. A decision is one forward pass
// of up to 512 context and ~300 query tokens; through TF.js that is ~450 kernels whose per-kernel overhead
// outweighs their arithmetic. Same function as CurvePfn.logits (tested to 1e-6); used where the native
// addon is built, else the TF.js path serves.
import { native, type NativeKernels } from '@floe/native';
import { MAX_DIMS } from './ftpfn-prior.js';
import type { PfnConfig, PfnInput } from './pfn-types.js';

type Weights = Record<string, Float32Array>;

export class FastPfn {
  private readonly w: Weights;
  private readonly k: NativeKernels;
  /**
   * Every intermediate of a forward pass comes from one buffer kept between calls (bump-allocated, reset
   * per pass): at 512 context points and ~900 queries a decision needs ~40 MB of them, and allocating (and
   * zeroing) them anew each time showed in Suggest's p99 as GC pauses. Each kernel overwrites what it reads.
   */
  private arena = new Float32Array(0);
  /** Floats asked of it this pass; past its length they come from the heap, and it grows for the next. */
  private used = 0;

  private alloc(n: number): Float32Array {
    const start = this.used;
    this.used += n;
    return this.used <= this.arena.length ? this.arena.subarray(start, this.used) : new Float32Array(n);
  }

  private constructor(
    readonly config: PfnConfig,
    weights: Weights,
    kernels: NativeKernels,
  ) {
    this.w = weights;
    this.k = kernels;
  }

  /** The fast path for a model's weights (tensors read once), or undefined where the addon is not built. */
  static of(config: PfnConfig, tensors: Record<string, { dataSync(): ArrayLike<number> }>): FastPfn | undefined {
    if (!native) return undefined;
    const weights: Weights = {};
    for (const [name, v] of Object.entries(tensors)) weights[name] = Float32Array.from(v.dataSync());
    return new FastPfn(config, weights, native);
  }

  /** out[m×n] = a[m×k] · b[k×n] (+ bias per column). */
  private matmul(a: Float32Array, b: Float32Array, m: number, k: number, n: number, bias?: Float32Array): Float32Array {
    const out = this.alloc(m * n);
    if (m === 0) return out;
    if (bias) for (let i = 0; i < m; i++) out.set(bias, i * n);
    this.k.sgemmBatched(1, false, false, m, n, k, 1, a, 0, k, b, 0, n, bias ? 1 : 0, out, 0, n);
    return out;
  }

  private layerNorm(x: Float32Array, rows: number, g: Float32Array, b: Float32Array): Float32Array {
    const out = this.alloc(x.length);
    if (rows === 0) return out;
    // The per-row mean and 1/σ the native norm also writes (unused here: no backward pass).
    this.k.norm(x, g, b, out, this.alloc(rows), this.alloc(rows), rows, this.config.width, 1e-5);
    return out;
  }

  private gelu(x: Float32Array): Float32Array {
    const out = this.alloc(x.length);
    this.k.gelu(x, out);
    return out;
  }

  private embed(ids: Int32Array, t: Float32Array, config: Float32Array, rows: number, y?: Float32Array): Float32Array {
    const d = this.config.width;
    const w = this.w;
    const out = this.matmul(config, w['embed.config.w']!, rows, MAX_DIMS, d);
    const table = w['embed.id']!;
    const wt = w['embed.t.w']!;
    const bt = w['embed.t.b']!;
    const wy = w['embed.y.w']!;
    for (let r = 0; r < rows; r++) {
      const o = r * d;
      const e = ids[r]! * d;
      for (let j = 0; j < d; j++) out[o + j] += table[e + j]! + t[r]! * wt[j]! + bt[j]! + (y ? y[r]! * wy[j]! : 0);
    }
    return out;
  }

  /** Bucket probabilities [nQuery × buckets] of a single sequence (batch 1). */
  predict(input: PfnInput): Float32Array {
    if (input.batch !== 1) throw new Error('FastPfn predicts one sequence at a time');
    const { width: d, heads: H, ffn, buckets } = this.config;
    const dh = d / H;
    const C = input.nContext;
    const Q = input.nQuery;
    const w = this.w;
    const k = this.k;
    const scale = 1 / Math.sqrt(dh);
    this.used = 0;
    let xc = this.embed(input.contextId, input.contextT, input.contextConfig, C, input.contextY);
    let xq = this.embed(input.queryId, input.queryT, input.queryConfig, Q);
    const sc = this.alloc(H * C * C);
    const sq = this.alloc(H * Q * (C + 1));
    for (let l = 0; l < this.config.layers; l++) {
      const p = `layer.${l}.`;
      const qkvC = this.matmul(
        this.layerNorm(xc, C, w[p + 'ln1.g']!, w[p + 'ln1.b']!),
        w[p + 'qkv.w']!,
        C,
        d,
        3 * d,
        w[p + 'qkv.b']!,
      );
      const qkvQ = this.matmul(
        this.layerNorm(xq, Q, w[p + 'ln1.g']!, w[p + 'ln1.b']!),
        w[p + 'qkv.w']!,
        Q,
        d,
        3 * d,
        w[p + 'qkv.b']!,
      );
      // The last layer's context outputs feed nothing (queries read only its keys and values): skip them.
      const last = l === this.config.layers - 1;
      // Context: per head, S = Q·Kᵀ, softmax, O = S·V; heads batched through the strides.
      const oc = this.alloc(last ? 0 : C * d);
      // With no context (a study with nothing observed yet) each query attends to itself alone.
      if (!last && C > 0) {
        k.sgemmBatched(H, false, true, C, C, dh, 1, qkvC, dh, 3 * d, qkvC.subarray(d), dh, 3 * d, 0, sc, C * C, C);
        k.softmax(sc, H * C, C, C, scale);
        k.sgemmBatched(H, false, false, C, dh, C, 1, sc, C * C, C, qkvC.subarray(2 * d), dh, 3 * d, 0, oc, dh, d);
      }
      // Queries: a row per query and head holds its scores against the context's keys and, in the last
      // column, against its own key; one softmax over the row.
      const row = C + 1;
      if (C > 0)
        k.sgemmBatched(H, false, true, Q, C, dh, 1, qkvQ, dh, 3 * d, qkvC.subarray(d), dh, 3 * d, 0, sq, Q * row, row);
      for (let h = 0; h < H; h++)
        for (let r = 0; r < Q; r++) {
          const qo = r * 3 * d + h * dh;
          let self = 0;
          for (let j = 0; j < dh; j++) self += qkvQ[qo + j]! * qkvQ[qo + d + j]!;
          sq[(h * Q + r) * row + C] = self;
        }
      k.softmax(sq, H * Q, row, row, scale);
      const oq = this.alloc(Q * d);
      if (C > 0)
        k.sgemmBatched(H, false, false, Q, dh, C, 1, sq, Q * row, row, qkvC.subarray(2 * d), dh, 3 * d, 0, oq, dh, d);
      else oq.fill(0);
      for (let r = 0; r < Q; r++)
        for (let h = 0; h < H; h++) {
          const selfWeight = sq[(h * Q + r) * row + C]!;
          for (let j = 0; j < dh; j++) oq[r * d + h * dh + j] += selfWeight * qkvQ[r * 3 * d + 2 * d + h * dh + j]!;
        }
      if (!last) xc = add(xc, this.matmul(oc, w[p + 'out.w']!, C, d, d, w[p + 'out.b']!));
      xq = add(xq, this.matmul(oq, w[p + 'out.w']!, Q, d, d, w[p + 'out.b']!));
      const ffnOf = (x: Float32Array, rows: number) =>
        this.matmul(
          this.gelu(
            this.matmul(
              this.layerNorm(x, rows, w[p + 'ln2.g']!, w[p + 'ln2.b']!),
              w[p + 'ffn1.w']!,
              rows,
              d,
              ffn,
              w[p + 'ffn1.b']!,
            ),
          ),
          w[p + 'ffn2.w']!,
          rows,
          ffn,
          d,
          w[p + 'ffn2.b']!,
        );
      if (!last) xc = add(xc, ffnOf(xc, C));
      xq = add(xq, ffnOf(xq, Q));
    }
    const h = this.layerNorm(xq, Q, w['final.ln.g']!, w['final.ln.b']!);
    const logits = this.matmul(
      this.gelu(this.matmul(h, w['head1.w']!, Q, d, d, w['head1.b']!)),
      w['head2.w']!,
      Q,
      d,
      buckets,
      w['head2.b']!,
    );
    k.softmax(logits, Q, buckets, buckets, 1);
    if (this.used > this.arena.length) this.arena = new Float32Array(this.used);
    // The caller keeps the answer: a copy out of the buffer the next pass reuses.
    return logits.slice();
  }
}

function add(a: Float32Array, b: Float32Array): Float32Array {
  for (let i = 0; i < a.length; i++) a[i]! += b[i]!;
  return a;
}
