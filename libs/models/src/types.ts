import type * as tf from '@tensorflow/tfjs-core';
import type { Param } from './params.js';

export type BlockKind = 'embedding' | 'transformer' | 'mamba' | 'conv' | 'dense' | 'head';

/** What hooks capture during a forward pass. */
export interface Capture {
  /** Per block: its input and output (for angular distance). */
  blocks: Map<string, { input: tf.Tensor; output: tf.Tensor }>;
  /** Per Mamba layer: Δ [B,T,Di], A [Di,N], B and C [B,T,N] (for hidden attention). */
  ssm: Map<string, { delta: tf.Tensor; A: tf.Tensor; B: tf.Tensor; C: tf.Tensor; x: tf.Tensor; y: tf.Tensor }>;
}

export interface ForwardContext {
  capture?: Capture;
  training: boolean;
}

export interface Block {
  /** Unique id, e.g. "embedding", "block.2", "block.2.exp1", "head". */
  id: string;
  kind: BlockKind;
  /** The block's parameter group (per-block gradient norms, freezing). */
  params: Param[];
  /** Frozen blocks get no weight gradients. */
  trainable: boolean;
  forward(x: tf.Tensor, ctx: ForwardContext): tf.Tensor;
}
