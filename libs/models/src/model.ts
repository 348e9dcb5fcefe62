// A model is an explicit sequence of named blocks. Training code sees one interface for every
// architecture: forward (with optional hooks), loss, parameter groups, trainable flags, expansion.
import * as tf from '@tensorflow/tfjs-core';
import { crossEntropy } from './layers.js';
import type { Param } from './params.js';
import type { Block, Capture, ForwardContext } from './types.js';

export type Architecture = 'transformer-lm' | 'mamba-lm' | 'lenet5' | 'mlp';
export type Task = 'language-model' | 'classification' | 'regression';

export interface ModelSpec {
  architecture: Architecture;
  size: string;
  seed: number;
  /** The resolved configuration (size defaults plus overrides). */
  config: Record<string, unknown>;
}

/** A batch: LM x [B, T] int32 with y [B, T] next bytes; classification x features, y int32 labels. */
export interface Batch {
  x: tf.Tensor;
  y: tf.Tensor;
}

type Expandable = Block & { expandCopy(id: string): Block };
const canExpand = (b: Block): b is Expandable => typeof (b as Partial<Expandable>).expandCopy === 'function';

export class BlockModel {
  /** Expansions applied after construction, in order: (new block id, source block id). */
  readonly expansions: { id: string; after: string }[] = [];

  constructor(
    readonly spec: ModelSpec,
    readonly task: Task,
    readonly blocks: Block[],
  ) {}

  block(id: string): Block {
    const b = this.blocks.find((x) => x.id === id);
    if (!b) throw new Error(`no block ${JSON.stringify(id)}; blocks: ${this.blocks.map((x) => x.id).join(', ')}`);
    return b;
  }

  forward(x: tf.Tensor, ctx: ForwardContext = { training: false }): tf.Tensor {
    let h = x;
    for (const b of this.blocks) {
      const out = b.forward(h, ctx);
      // The first input is the caller's batch: capture a copy, so that disposing a capture never frees it.
      if (ctx.capture) ctx.capture.blocks.set(b.id, { input: tf.keep(h === x ? h.clone() : h), output: tf.keep(out) });
      h = out;
    }
    return h;
  }

  /** Mean loss of a batch: cross-entropy (nats) for LMs and classifiers, MSE for regression. */
  loss(batch: Batch, ctx: ForwardContext = { training: true }): tf.Scalar {
    const out = this.forward(batch.x, ctx);
    if (this.task === 'regression') return tf.losses.meanSquaredError(batch.y, out) as tf.Scalar;
    return crossEntropy(out, batch.y);
  }

  params(): Param[] {
    return this.blocks.flatMap((b) => b.params);
  }

  trainableParams(): Param[] {
    return this.blocks.filter((b) => b.trainable).flatMap((b) => b.params);
  }

  countParams(trainableOnly = false): number {
    return (trainableOnly ? this.trainableParams() : this.params()).reduce((n, p) => n + p.variable.size, 0);
  }

  /** Sets each block trainable or frozen. */
  setTrainable(pick: (b: Block) => boolean): void {
    for (const b of this.blocks) b.trainable = pick(b);
  }

  /**
   * Inserts a function-preserving copy after `afterId` (LLaMA Pro): the copy's output projections are
   * zero, so the model computes exactly what it did. Returns the new block.
   */
  expandAfter(afterId: string): Block {
    const source = this.block(afterId);
    if (!canExpand(source))
      throw new Error(`block ${afterId} (${source.kind}) cannot be expanded; only residual blocks can`);
    let k = 1;
    while (this.blocks.some((b) => b.id === `${afterId}.exp${k}`)) k++;
    const copy = source.expandCopy(`${afterId}.exp${k}`);
    this.blocks.splice(this.blocks.indexOf(source) + 1, 0, copy);
    this.expansions.push({ id: copy.id, after: afterId });
    return copy;
  }

  /** LLaMA Pro's default: `count` copies spread evenly over the residual blocks. */
  expandEvenly(count: number): Block[] {
    const residual = this.blocks.filter(canExpand);
    if (count < 1 || count > residual.length) throw new Error(`expansion count must be in [1, ${residual.length}]`);
    const every = residual.length / count;
    const targets = Array.from({ length: count }, (_, i) => residual[Math.round((i + 1) * every) - 1]!.id);
    return targets.map((id) => this.expandAfter(id));
  }

  /** Block ids whose parameters come first in the forward pass: the residual blocks. */
  residualBlockIds(): string[] {
    return this.blocks.filter(canExpand).map((b) => b.id);
  }

  dispose(): void {
    for (const p of this.params()) p.variable.dispose();
  }
}

export function newCapture(): Capture {
  return { blocks: new Map(), ssm: new Map() };
}

export function disposeCapture(c: Capture): void {
  for (const v of c.blocks.values()) tf.dispose([v.input, v.output]);
  for (const v of c.ssm.values()) tf.dispose(Object.values(v));
  c.blocks.clear();
  c.ssm.clear();
}
