// Byte-level decoder-only transformer LM: pre-norm (LayerNorm or RMSNorm), causal multi-head attention,
// GELU MLP (4x), learned positions, tied embeddings, no biases in linear layers. The blocks are
// "embedding", "block.0" … "block.{L-1}", "head" (final norm; the projection is the tied embedding).
import * as tf from '@tensorflow/tfjs-core';
import { makeParam, copyParam, type Param } from './params.js';
import { causalSoftmax, gelu, layerNorm, linear, rmsNorm } from './layers.js';
import type { Block, ForwardContext } from './types.js';

export interface TransformerConfig {
  vocab: number;
  dModel: number;
  layers: number;
  heads: number;
  context: number;
  norm: 'layer' | 'rms';
}

function normParams(seed: number, prefix: string, d: number, kind: 'layer' | 'rms'): Param[] {
  const gain = makeParam(seed, `${prefix}.gain`, [d], 'ones');
  return kind === 'layer' ? [gain, makeParam(seed, `${prefix}.bias`, [d], 'zeros')] : [gain];
}

function applyNorm(x: tf.Tensor, p: Param[]): tf.Tensor {
  return p.length === 2 ? layerNorm(x, p[0]!.variable, p[1]!.variable) : rmsNorm(x, p[0]!.variable);
}

/** One pre-norm residual block; `params` in a fixed order so that a copy can zero the right ones. */
export class TransformerBlock implements Block {
  readonly kind = 'transformer' as const;
  trainable = true;
  constructor(
    readonly id: string,
    readonly cfg: TransformerConfig,
    readonly params: Param[],
  ) {}

  static create(cfg: TransformerConfig, seed: number, id: string): TransformerBlock {
    const d = cfg.dModel;
    const std = 0.02;
    // GPT-2 style: residual output projections scaled down by sqrt(2·layers).
    const outStd = std / Math.sqrt(2 * cfg.layers);
    return new TransformerBlock(id, cfg, [
      ...normParams(seed, `${id}.norm1`, d, cfg.norm),
      makeParam(seed, `${id}.attn.wqkv`, [d, 3 * d], { normal: std }),
      makeParam(seed, `${id}.attn.wo`, [d, d], { normal: outStd }),
      ...normParams(seed, `${id}.norm2`, d, cfg.norm),
      makeParam(seed, `${id}.mlp.up`, [d, 4 * d], { normal: std }),
      makeParam(seed, `${id}.mlp.down`, [4 * d, d], { normal: outStd }),
    ]);
  }

  private get p() {
    const n = this.cfg.norm === 'layer' ? 2 : 1;
    const ps = this.params;
    return {
      norm1: ps.slice(0, n),
      wqkv: ps[n]!,
      wo: ps[n + 1]!,
      norm2: ps.slice(n + 2, 2 * n + 2),
      up: ps[2 * n + 2]!,
      down: ps[2 * n + 3]!,
    };
  }

  forward(x: tf.Tensor, _ctx: ForwardContext): tf.Tensor {
    const { norm1, wqkv, wo, norm2, up, down } = this.p;
    const [b, t, d] = x.shape as [number, number, number];
    const h = this.cfg.heads;
    const dh = d / h;
    const qkv = linear(applyNorm(x, norm1), wqkv.variable); // [B, T, 3D]
    // [B, T, 3, H, dh] → [3, B, H, T, dh]
    const split = tf.transpose(tf.reshape(qkv, [b, t, 3, h, dh]), [2, 0, 3, 1, 4]);
    const [q, k, v] = tf.unstack(split, 0) as [tf.Tensor, tf.Tensor, tf.Tensor];
    const attn = tf.matMul(causalSoftmax(tf.matMul(q, k, false, true), 1 / Math.sqrt(dh)), v); // [B, H, T, dh]
    const merged = tf.reshape(tf.transpose(attn, [0, 2, 1, 3]), [b, t, d]);
    const x1 = tf.add(x, linear(merged, wo.variable));
    return tf.add(x1, linear(gelu(linear(applyNorm(x1, norm2), up.variable)), down.variable));
  }

  /** LLaMA Pro expansion: a copy whose attention output and MLP down projections are zero (x ↦ x). */
  expandCopy(id: string): TransformerBlock {
    const { wo, down } = this.p;
    const params = this.params.map((p) => copyParam(p, p.name.replace(this.id, id), p === wo || p === down));
    return new TransformerBlock(id, this.cfg, params);
  }
}

export function transformerBlocks(cfg: TransformerConfig, seed: number): Block[] {
  const tokens = makeParam(seed, 'embedding.tokens', [cfg.vocab, cfg.dModel], { normal: 0.02 });
  const positions = makeParam(seed, 'embedding.positions', [cfg.context, cfg.dModel], 'zeros');
  const embedding: Block = {
    id: 'embedding',
    kind: 'embedding',
    params: [tokens, positions],
    trainable: true,
    forward(x) {
      const t = x.shape[1]!;
      return tf.add(tf.gather(tokens.variable, x), tf.slice(positions.variable, [0, 0], [t, cfg.dModel]));
    },
  };
  const blocks: Block[] = [embedding];
  for (let i = 0; i < cfg.layers; i++) blocks.push(TransformerBlock.create(cfg, seed, `block.${i}`));
  const finalNorm = normParams(seed, 'head.norm', cfg.dModel, cfg.norm);
  blocks.push({
    id: 'head',
    kind: 'head',
    params: finalNorm,
    trainable: true,
    // Tied: logits = norm(h) · Eᵀ with E owned by the embedding block.
    forward: (x) => linearT(applyNorm(x, finalNorm), tokens.variable),
  });
  return blocks;
}

/** x [..., d] · Wᵀ for W [v, d]. */
function linearT(x: tf.Tensor, w: tf.Tensor): tf.Tensor {
  const shape = x.shape;
  const out = tf.matMul(tf.reshape(x, [-1, shape[shape.length - 1]!]), w, false, true);
  return tf.reshape(out, [...shape.slice(0, -1), w.shape[0]!]);
}
