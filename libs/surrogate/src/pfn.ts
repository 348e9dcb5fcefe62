// The learning-curve PFN (docs/ALGORITHMS.md §4): a transformer over observed curve points (context) that
// predicts, for query points, a distribution over y ∈ [0, 1] as equal-width buckets. No positional
// encoding: a token is Linear(step) + Embedding(curve id) + Linear(configuration) (+ Linear(y) in the
// context). Context attends to context; a query attends to the context and to itself only, so queries are
// independent of each other and cost linear time in their number.
import * as tf from '@tensorflow/tfjs-core';
import { crossEntropy, gelu, layerNorm, linear } from '@floe/models';
import { Rng } from '@floe/random';
import { MAX_CURVE_ID, MAX_DIMS } from './ftpfn-prior.js';
import { FastPfn } from './pfn-fast.js';
import type { PfnConfig, PfnInput } from './pfn-types.js';

export type { PfnConfig, PfnInput } from './pfn-types.js';

type Weights = Record<string, tf.Variable>;

/**
 * The larger of each row's maximum of `a` and `b` — the shift of a stable softmax. It cancels in the
 * softmax's ratio, so its gradient is declared zero instead of traced through max (whose backward pass
 * compares every score with the maximum and was the slowest kernel of a step).
 */
const rowMax = tf.customGrad(((a: tf.Tensor, b: tf.Tensor) => ({
  value: tf.maximum(tf.max(a, -1, true), b),
  gradFunc: () => [tf.zerosLike(a), tf.zerosLike(b)],
})) as never) as unknown as (a: tf.Tensor, b: tf.Tensor) => tf.Tensor;

/** Parameter names and shapes of a config, in a fixed order (the order of the saved weights). */
function shapes(c: PfnConfig): [string, number[]][] {
  const d = c.width;
  const out: [string, number[]][] = [
    ['embed.id', [MAX_CURVE_ID + 1, d]],
    ['embed.t.w', [1, d]],
    ['embed.t.b', [d]],
    ['embed.config.w', [MAX_DIMS, d]],
    ['embed.y.w', [1, d]],
  ];
  for (let l = 0; l < c.layers; l++) {
    const p = `layer.${l}.`;
    out.push(
      [p + 'ln1.g', [d]],
      [p + 'ln1.b', [d]],
      [p + 'qkv.w', [d, 3 * d]],
      [p + 'qkv.b', [3 * d]],
      [p + 'out.w', [d, d]],
      [p + 'out.b', [d]],
      [p + 'ln2.g', [d]],
      [p + 'ln2.b', [d]],
      [p + 'ffn1.w', [d, c.ffn]],
      [p + 'ffn1.b', [c.ffn]],
      [p + 'ffn2.w', [c.ffn, d]],
      [p + 'ffn2.b', [d]],
    );
  }
  out.push(
    ['final.ln.g', [d]],
    ['final.ln.b', [d]],
    ['head1.w', [d, d]],
    ['head1.b', [d]],
    ['head2.w', [d, c.buckets]],
    ['head2.b', [c.buckets]],
  );
  return out;
}

export class CurvePfn {
  readonly weights: Weights = {};
  private readonly frozenParts = new Map<string, [tf.Tensor, tf.Tensor]>();
  /** The native forward pass of a loaded model: made on first use; null where the addon is not built. */
  private fast: FastPfn | null | undefined;

  private constructor(
    readonly config: PfnConfig,
    private readonly frozen = false,
  ) {}

  /** A freshly initialised model (scaled normal init, seeded; residual projections scaled by depth). */
  static create(config: PfnConfig, seed: number): CurvePfn {
    const m = new CurvePfn(config);
    const rng = new Rng(seed);
    for (const [name, shape] of shapes(config)) {
      const size = shape.reduce((a, b) => a * b, 1);
      const values = new Float32Array(size);
      if (name.endsWith('.g')) values.fill(1);
      else if (!name.endsWith('.b')) {
        const fanIn = name === 'embed.id' ? 1 : shape[0]!;
        let std = name === 'embed.id' ? 0.02 : 1 / Math.sqrt(fanIn);
        if (name.endsWith('out.w') || name.endsWith('ffn2.w')) std /= Math.sqrt(2 * config.layers);
        for (let i = 0; i < size; i++) values[i] = rng.normal() * std;
      }
      m.weights[name] = tf.variable(tf.tensor(values, shape), true);
    }
    return m;
  }

  /** A model from saved weights: a flat float32 buffer in the order of `shapes`. */
  static fromBuffer(config: PfnConfig, data: Float32Array): CurvePfn {
    const m = new CurvePfn(config, true);
    let offset = 0;
    for (const [name, shape] of shapes(config)) {
      const size = shape.reduce((a, b) => a * b, 1);
      if (offset + size > data.length) throw new Error(`weights end before ${name}`);
      m.weights[name] = tf.variable(tf.tensor(data.subarray(offset, offset + size), shape), false);
      offset += size;
    }
    if (offset !== data.length) throw new Error(`weights have ${data.length - offset} values too many`);
    return m;
  }

  /** The weights as one flat float32 buffer (the format `fromBuffer` reads). */
  toBuffer(): Float32Array {
    const parts = shapes(this.config).map(([name]) => this.weights[name]!.dataSync() as Float32Array);
    const out = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
    let o = 0;
    for (const p of parts) {
      out.set(p, o);
      o += p.length;
    }
    return out;
  }

  parameterCount(): number {
    return shapes(this.config).reduce((a, [, s]) => a + s.reduce((x, y) => x * y, 1), 0);
  }

  dispose(): void {
    for (const v of Object.values(this.weights)) v.dispose();
    for (const parts of this.frozenParts.values()) tf.dispose(parts);
    this.frozenParts.clear();
  }

  /**
   * The q (0), k (1) or v (2) part of a layer's fused projection. Slicing is part of the gradient's graph
   * while training; a loaded (frozen) model slices once and keeps the parts, saving kernels per call.
   */
  private qkvPart(layer: number, part: number): [tf.Tensor, tf.Tensor] {
    const key = `${layer}.${part}`;
    const cached = this.frozenParts.get(key);
    if (cached) return cached;
    const d = this.config.width;
    const w3 = this.weights[`layer.${layer}.qkv.w`]!;
    const b3 = this.weights[`layer.${layer}.qkv.b`]!;
    if (!this.frozen) return [tf.slice(w3, [0, part * d], [d, d]), tf.slice(b3, [part * d], [d])];
    const parts: [tf.Tensor, tf.Tensor] = tf.tidy(() => [
      tf.keep(tf.slice(w3, [0, part * d], [d, d])),
      tf.keep(tf.slice(b3, [part * d], [d])),
    ]);
    this.frozenParts.set(key, parts);
    return parts;
  }

  private embed(ids: Int32Array, t: Float32Array, config: Float32Array, rows: number, y?: Float32Array): tf.Tensor2D {
    const w = this.weights;
    let e = tf.add(
      tf.gather(w['embed.id']!, tf.tensor1d(ids, 'int32')),
      tf.add(
        linear(tf.tensor2d(t, [rows, 1]), w['embed.t.w']!, w['embed.t.b']!),
        linear(tf.tensor2d(config, [rows, MAX_DIMS]), w['embed.config.w']!),
      ),
    );
    if (y) e = tf.add(e, linear(tf.tensor2d(y, [rows, 1]), w['embed.y.w']!));
    return e as tf.Tensor2D;
  }

  /** Logits [B, nQuery, buckets]. */
  logits(input: PfnInput): tf.Tensor3D {
    const { batch: B, nContext: C, nQuery: Q } = input;
    const { width: d, heads: H } = this.config;
    const dh = d / H;
    const w = this.weights;
    const scale = 1 / Math.sqrt(dh);
    let xc: tf.Tensor = tf.reshape(
      this.embed(input.contextId, input.contextT, input.contextConfig, B * C, input.contextY),
      [B, C, d],
    );
    let xq: tf.Tensor = tf.reshape(this.embed(input.queryId, input.queryT, input.queryConfig, B * Q), [B, Q, d]);
    // Heads of one projection (q, k or v: a slice of the fused weight) as [B, H, n, dh]. Slicing the d×d
    // weights is cheap; splitting the activations (SplitV) was the slowest kernel of a step.
    const project = (x: tf.Tensor, n: number, layer: number, part: number) => {
      const [wp, bp] = this.qkvPart(layer, part);
      return tf.transpose(tf.reshape(linear(x, wp, bp), [B, n, H, dh]), [0, 2, 1, 3]);
    };
    const merge = (o: tf.Tensor, n: number) => tf.reshape(tf.transpose(o, [0, 2, 1, 3]), [B, n, d]);
    for (let l = 0; l < this.config.layers; l++) {
      const p = `layer.${l}.`;
      const hc = layerNorm(xc, w[p + 'ln1.g']!, w[p + 'ln1.b']!);
      const hq = layerNorm(xq, w[p + 'ln1.g']!, w[p + 'ln1.b']!);
      const [qc, kc, vc] = [0, 1, 2].map((i) => project(hc, C, l, i)) as [tf.Tensor, tf.Tensor, tf.Tensor];
      const [qq, kq, vq] = [0, 1, 2].map((i) => project(hq, Q, l, i)) as [tf.Tensor, tf.Tensor, tf.Tensor];
      const oc = tf.matMul(tf.softmax(tf.mul(tf.matMul(qc, kc, false, true), scale)), vc);
      // With no context a query attends to itself alone (and reductions over empty rows are not left to
      // the backend: wasm's max of nothing is whatever its output memory held).
      const oq = C === 0 ? vq : this.queryAttention(qq, kq, vq, kc, vc, scale);
      xc = tf.add(xc, linear(merge(oc, C), w[p + 'out.w']!, w[p + 'out.b']!));
      xq = tf.add(xq, linear(merge(oq, Q), w[p + 'out.w']!, w[p + 'out.b']!));
      const ffn = (x: tf.Tensor) =>
        linear(
          gelu(linear(layerNorm(x, w[p + 'ln2.g']!, w[p + 'ln2.b']!), w[p + 'ffn1.w']!, w[p + 'ffn1.b']!)),
          w[p + 'ffn2.w']!,
          w[p + 'ffn2.b']!,
        );
      xc = tf.add(xc, ffn(xc));
      xq = tf.add(xq, ffn(xq));
    }
    const h = layerNorm(xq, w['final.ln.g']!, w['final.ln.b']!);
    return linear(gelu(linear(h, w['head1.w']!, w['head1.b']!)), w['head2.w']!, w['head2.b']!) as tf.Tensor3D;
  }

  /**
   * Each query's attention over every context key and its own key, the softmax written out so that the two
   * parts never have to be concatenated and split again.
   */
  private queryAttention(
    qq: tf.Tensor,
    kq: tf.Tensor,
    vq: tf.Tensor,
    kc: tf.Tensor,
    vc: tf.Tensor,
    scale: number,
  ): tf.Tensor {
    const sqc = tf.mul(tf.matMul(qq, kc, false, true), scale);
    const sqq = tf.mul(tf.sum(tf.mul(qq, kq), -1, true), scale);
    const top = rowMax(sqc, sqq);
    const ec = tf.exp(tf.sub(sqc, top));
    const eq = tf.exp(tf.sub(sqq, top));
    const denom = tf.add(tf.sum(ec, -1, true), eq);
    return tf.div(tf.add(tf.matMul(ec, vc), tf.mul(eq, vq)), denom);
  }

  /** Mean cross-entropy of the queries' true buckets (the training loss). */
  loss(input: PfnInput, queryY: Float32Array): tf.Scalar {
    const n = this.config.buckets;
    const targets = Int32Array.from(queryY, (y) => Math.min(n - 1, Math.max(0, Math.floor(y * n))));
    return crossEntropy(this.logits(input), tf.tensor1d(targets, 'int32'));
  }

  /**
   * Bucket probabilities [B·nQuery × buckets], row-major, off the tape. A loaded model predicting one
   * sequence takes the native fast path (FastPfn) where the addon is built; `tfjs` forces TF.js.
   */
  predict(input: PfnInput, engine: 'auto' | 'tfjs' = 'auto'): Float32Array {
    if (engine === 'auto' && this.frozen && input.batch === 1) {
      if (this.fast === undefined) this.fast = FastPfn.of(this.config, this.weights) ?? null;
      if (this.fast) return this.fast.predict(input);
    }
    return tf.tidy(() => tf.softmax(this.logits(input)).dataSync() as Float32Array);
  }
}
