// Mamba LM: byte embedding, residual Mamba blocks (RMSNorm → in_proj → causal depthwise conv1d → SiLU →
// selective scan with input-dependent Δ, B, C → D skip → SiLU(z) gate → out_proj), final RMSNorm, tied
// head. The scan runs natively in one call where the native kernels are loaded, else step by step; hooks
// capture Δ, A, B, C per layer for hidden attention.
import * as tf from '@tensorflow/tfjs-core';
import { copyParam, makeParam, type Param } from './params.js';
import { linear, rmsNorm, silu } from './layers.js';
import type { Block, ForwardContext } from './types.js';

export interface MambaConfig {
  vocab: number;
  dModel: number;
  layers: number;
  dState: number;
  dConv: number;
  expand: number;
  context: number;
}

const dtRank = (d: number) => Math.ceil(d / 16);

/** libs/ml-runtime registers them where the native kernels run (models do not depend on the runtime). */
const SELECTIVE_SCAN_KERNEL = 'FloeSelectiveScan';
const SELECTIVE_SCAN_GRAD_KERNEL = 'FloeSelectiveScanGrad';
const CAUSAL_CONV1D_KERNEL = 'FloeCausalConv1d';
const CAUSAL_CONV1D_GRAD_KERNEL = 'FloeCausalConv1dGrad';

export class MambaBlock implements Block {
  readonly kind = 'mamba' as const;
  trainable = true;
  constructor(
    readonly id: string,
    readonly cfg: MambaConfig,
    readonly params: Param[],
  ) {}

  static create(cfg: MambaConfig, seed: number, id: string): MambaBlock {
    const d = cfg.dModel;
    const di = cfg.expand * d;
    const r = dtRank(d);
    const n = cfg.dState;
    return new MambaBlock(id, cfg, [
      makeParam(seed, `${id}.norm.gain`, [d], 'ones'),
      makeParam(seed, `${id}.in_proj`, [d, 2 * di], { uniform: 1 / Math.sqrt(d) }),
      makeParam(seed, `${id}.conv.w`, [1, cfg.dConv, di, 1], { uniform: 1 / Math.sqrt(cfg.dConv) }),
      makeParam(seed, `${id}.conv.b`, [di], 'zeros'),
      makeParam(seed, `${id}.x_proj`, [di, r + 2 * n], { uniform: 1 / Math.sqrt(di) }),
      makeParam(seed, `${id}.dt_proj`, [r, di], { uniform: 1 / Math.sqrt(r) }),
      makeParam(seed, `${id}.dt_bias`, [di], { dtBias: [0.001, 0.1] }),
      makeParam(seed, `${id}.A_log`, [di, n], { aLog: n }),
      makeParam(seed, `${id}.D`, [di], 'ones'),
      makeParam(seed, `${id}.out_proj`, [di, d], { uniform: 1 / Math.sqrt(di) / Math.sqrt(2 * cfg.layers) }),
    ]);
  }

  forward(x: tf.Tensor, ctx: ForwardContext): tf.Tensor {
    const [gain, inProj, convW, convB, xProj, dtProj, dtBias, aLog, dSkip, outProj] = this.params.map(
      (p) => p.variable,
    ) as tf.Variable[];
    const n = this.cfg.dState;
    const r = dtRank(this.cfg.dModel);

    const xz = linear(rmsNorm(x, gain!), inProj!);
    const [xs, z] = tf.split(xz, 2, -1) as [tf.Tensor, tf.Tensor];
    const u = silu(causalConv1d(xs, convW!, convB!));

    const proj = linear(u, xProj!);
    const [dtRaw, bm, cm] = tf.split(proj, [r, n, n], -1) as [tf.Tensor, tf.Tensor, tf.Tensor];
    const delta = tf.softplus(tf.add(linear(dtRaw, dtProj!), dtBias!)); // [B, T, Di]
    const a = tf.neg(tf.exp(aLog!)); // [Di, N]

    const y = selectiveScan(u, delta, a, bm, cm);
    if (ctx.capture)
      ctx.capture.ssm.set(this.id, {
        delta: tf.keep(delta),
        A: tf.keep(a),
        B: tf.keep(bm),
        C: tf.keep(cm),
        x: tf.keep(u),
        y: tf.keep(y),
      });
    const gated = tf.mul(tf.add(y, tf.mul(u, dSkip!)), silu(z));
    return tf.add(x, linear(gated, outProj!));
  }

  /** Expansion copy: out_proj zero, so the new block computes x ↦ x. */
  expandCopy(id: string): MambaBlock {
    const out = this.params[this.params.length - 1]!;
    return new MambaBlock(
      id,
      this.cfg,
      this.params.map((p) => copyParam(p, p.name.replace(this.id, id), p === out)),
    );
  }
}

/**
 * Causal depthwise conv1d over time: x [B, T, D], w [1, K, D, 1] (a depthwise filter), bias [D]. Natively
 * one kernel each way; else pad K−1 steps on the left, then a [1, K] depthwise filter.
 */
export function causalConv1d(x: tf.Tensor, w: tf.Tensor, bias: tf.Tensor): tf.Tensor {
  const [b, t, d] = x.shape as [number, number, number];
  const k = w.shape[1]!;
  if (tf.getKernel(CAUSAL_CONV1D_KERNEL, tf.getBackend())) return nativeConv1d(x, tf.reshape(w, [k, d]), bias);
  const padded = tf.pad(x, [
    [0, 0],
    [k - 1, 0],
    [0, 0],
  ]);
  const conv = tf.depthwiseConv2d(
    tf.reshape(padded, [b, 1, t + k - 1, d]) as tf.Tensor4D,
    w as tf.Tensor4D,
    1,
    'valid',
  );
  return tf.add(tf.reshape(conv, [b, t, d]), bias);
}

const nativeConv1d = tf.customGrad(((x: tf.Tensor, w: tf.Tensor, bias: tf.Tensor, save: tf.GradSaveFunc) => {
  save([x, w]);
  return {
    value: tf.engine().runKernel(CAUSAL_CONV1D_KERNEL, { x, w, bias }) as tf.Tensor,
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [sx, sw] = saved as [tf.Tensor, tf.Tensor];
      return tf.engine().runKernel(CAUSAL_CONV1D_GRAD_KERNEL, { x: sx, w: sw, dy }) as tf.Tensor[];
    },
  };
}) as never) as unknown as (x: tf.Tensor, w: tf.Tensor, bias: tf.Tensor) => tf.Tensor;

/**
 * h_t = exp(Δ_t A) ⊙ h_{t−1} + Δ_t B_t x_t,  y_t = C_t · h_t, per channel d and state n.
 * u, Δ: [B, T, Di]; A: [Di, N]; B, C: [B, T, N]. Returns y [B, T, Di] (without the D skip).
 */
export function selectiveScan(u: tf.Tensor, delta: tf.Tensor, a: tf.Tensor, bm: tf.Tensor, cm: tf.Tensor): tf.Tensor {
  // The native kernel (libs/native scan.cc) runs the whole sequence in one call each way.
  if (tf.getKernel(SELECTIVE_SCAN_KERNEL, tf.getBackend())) return nativeScan(u, delta, a, bm, cm);
  return selectiveScanSteps(u, delta, a, bm, cm);
}

const nativeScan = tf.customGrad(((
  u: tf.Tensor,
  delta: tf.Tensor,
  a: tf.Tensor,
  bm: tf.Tensor,
  cm: tf.Tensor,
  save: tf.GradSaveFunc,
) => {
  save([u, delta, a, bm, cm]);
  return {
    value: tf.engine().runKernel(SELECTIVE_SCAN_KERNEL, { u, delta, a, bm, cm }) as tf.Tensor,
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [su, sdelta, sa, sbm, scm] = saved as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
      return tf
        .engine()
        .runKernel(SELECTIVE_SCAN_GRAD_KERNEL, { u: su, delta: sdelta, a: sa, bm: sbm, cm: scm, dy }) as tf.Tensor[];
    },
  };
}) as never) as unknown as (u: tf.Tensor, delta: tf.Tensor, a: tf.Tensor, bm: tf.Tensor, cm: tf.Tensor) => tf.Tensor;

/**
 * The scan as TF.js ops, one step at a time (every backend; the reference the native kernel is tested on).
 * Each step is built from that step's slices of the [B, T, ·] inputs: materialising exp(Δ ⊗ A) for the
 * whole sequence ([B, T, Di, N]) and slicing it per step cost time quadratic in T (a slice reads its
 * whole source), 28 s a layer at T = 1,024.
 */
export function selectiveScanSteps(
  u: tf.Tensor,
  delta: tf.Tensor,
  a: tf.Tensor,
  bm: tf.Tensor,
  cm: tf.Tensor,
): tf.Tensor {
  const [b, t, di] = u.shape as [number, number, number];
  const n = a.shape[1]!;
  const steps = (x: tf.Tensor) => tf.unstack(x, 1); // each [B, ·]
  const deltas = steps(delta);
  const deltaUs = steps(tf.mul(delta, u));
  const bs = steps(bm);
  const cs = steps(cm);
  const a3 = tf.reshape(a, [1, di, n]);
  let h: tf.Tensor = tf.zeros([b, di, n]);
  const ys: tf.Tensor[] = [];
  for (let i = 0; i < t; i++) {
    const dA = tf.exp(tf.mul(tf.reshape(deltas[i]!, [b, di, 1]), a3)); // [B, Di, N]
    const dBu = tf.mul(tf.reshape(deltaUs[i]!, [b, di, 1]), tf.reshape(bs[i]!, [b, 1, n])); // [B, Di, N]
    h = tf.add(tf.mul(dA, h), dBu);
    ys.push(tf.reshape(tf.matMul(h, tf.reshape(cs[i]!, [b, n, 1])), [b, di])); // Σ_n h[d,n]·C[n]
  }
  return tf.stack(ys, 1);
}

export function mambaBlocks(cfg: MambaConfig, seed: number): Block[] {
  const tokens = makeParam(seed, 'embedding.tokens', [cfg.vocab, cfg.dModel], { normal: 0.02 });
  const blocks: Block[] = [
    {
      id: 'embedding',
      kind: 'embedding',
      params: [tokens],
      trainable: true,
      forward: (x) => tf.gather(tokens.variable, x),
    },
  ];
  for (let i = 0; i < cfg.layers; i++) blocks.push(MambaBlock.create(cfg, seed, `block.${i}`));
  const gain = makeParam(seed, 'head.norm.gain', [cfg.dModel], 'ones');
  blocks.push({
    id: 'head',
    kind: 'head',
    params: [gain],
    trainable: true,
    forward: (x) => {
      const shape = x.shape;
      const logits = tf.matMul(tf.reshape(rmsNorm(x, gain.variable), [-1, cfg.dModel]), tokens.variable, false, true);
      return tf.reshape(logits, [...shape.slice(0, -1), cfg.vocab]);
    },
  });
  return blocks;
}
