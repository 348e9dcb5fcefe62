// One training session: a model, a batch source, an optimizer and a schedule. `step()` is forward +
// backward (only for trainable parameters: frozen blocks get no weight gradients, and the tape runs no
// backward pass below the lowest trainable parameter) + the update.
import * as tf from '@tensorflow/tfjs-core';
import type { BlockModel } from '@floe/models';
import { Optimizer, sumsOfSquares, type OptimizerConfig, type OptimizerState } from './optimizer.js';
import { learningRateAt, type ScheduleConfig } from './schedule.js';
import type { BatchSource } from './sources.js';
import type { SelectiveState, SelectiveTraining } from './selective.js';

export interface StepMetrics {
  step: number;
  loss: number;
  learningRate: number;
  gradNorm: number;
  blockGradNorms: Record<string, number>;
  /** Units (tokens or examples) per second over this step. */
  throughput: number;
  ms: number;
  /** The blocks the step updated, when a strategy updates only some (BCD). */
  updatedBlocks?: string[];
}

export interface SessionOptions {
  optimizer: OptimizerConfig;
  schedule: ScheduleConfig;
  /** Total steps the schedule spans (the budget). */
  totalSteps: number;
}

export interface SessionState {
  step: number;
  optimizer: OptimizerState;
  data: unknown;
  /** The selective training's state (masks, block scores), when the run has one. */
  selective?: SelectiveState;
}

export class TrainingSession {
  readonly optimizer: Optimizer;
  private stepCount = 0;
  /** Which entries and blocks each step differentiates and updates (sparse strategies, BCD). */
  selective?: SelectiveTraining;

  constructor(
    readonly model: BlockModel,
    readonly source: BatchSource,
    readonly options: SessionOptions,
  ) {
    this.optimizer = new Optimizer(options.optimizer);
  }

  get step(): number {
    return this.stepCount;
  }

  trainStep(): StepMetrics {
    const start = performance.now();
    const trainable = this.model.trainableParams();
    if (trainable.length === 0) throw new Error('no trainable parameters: every block is frozen');
    const params = this.selective ? this.selective.differentiate(this.stepCount + 1, trainable) : trainable;
    const batch = this.source.next();
    const lr = learningRateAt(
      this.stepCount + 1,
      this.options.optimizer.learningRate,
      this.options.totalSteps,
      this.options.schedule,
    );
    const { value, grads } = tf.variableGrads(
      () => this.model.loss(batch),
      params.map((p) => p.variable),
    );
    const byName = new Map(params.map((p) => [p.name, grads[p.variable.name]!]));
    const blockGradNorms: Record<string, number> = {};
    // Blocks whose gradients this step did not compute (frozen; BCD's other blocks) report 0.
    const computed = this.model.blocks.map(
      (b) => b.trainable && b.params.length > 0 && b.params.every((p) => byName.has(p.name)),
    );
    // Squared norms of every computed gradient in one call, then summed per block.
    const computedParams = this.model.blocks.flatMap((b, i) => (computed[i] ? b.params : []));
    const squares = new Map(
      sumsOfSquares(computedParams.map((p) => byName.get(p.name)!)).map((sq, k) => [computedParams[k]!.name, sq]),
    );
    const normValues = this.model.blocks.map((b, i) =>
      computed[i] ? b.params.reduce((sum, p) => sum + squares.get(p.name)!, 0) : 0,
    );
    this.model.blocks.forEach((b, i) => (blockGradNorms[b.id] = Math.sqrt(normValues[i]!)));
    let update = params;
    let updatedBlocks: string[] | undefined;
    if (this.selective)
      ({ update, updatedBlocks } = this.selective.beforeUpdate(
        {
          step: this.stepCount + 1,
          blockGradNormSq: new Map(this.model.blocks.flatMap((b, i) => (computed[i] ? [[b.id, normValues[i]!]] : []))),
          gradients: (ps) => {
            const r = tf.variableGrads(
              () => this.model.loss(batch),
              ps.map((p) => p.variable),
            );
            r.value.dispose();
            return new Map(ps.map((p) => [p.name, r.grads[p.variable.name]!]));
          },
          loss: () => tf.tidy(() => this.model.loss(batch).dataSync()[0]!),
        },
        byName,
        params,
      ));
    const gradNorm = this.optimizer.apply(update, byName, lr);
    const loss = value.dataSync()[0]!;
    tf.dispose([value, batch.x, batch.y, ...Object.values(grads)]);
    this.stepCount++;
    const ms = performance.now() - start;
    return {
      step: this.stepCount,
      loss,
      learningRate: lr,
      gradNorm,
      blockGradNorms,
      throughput: (this.source.unitsPerBatch * 1000) / ms,
      ms,
      ...(updatedBlocks && { updatedBlocks }),
    };
  }

  /** Mean loss over `batches` batches from `source`, without gradients. */
  evaluate(source: BatchSource, batches: number): number {
    const losses = this.evaluateBatches(source, batches);
    return losses.reduce((a, b) => a + b, 0) / batches;
  }

  /** The loss of each of the next `batches` batches (fixed batches make two models' losses comparable pairwise). */
  evaluateBatches(source: BatchSource, batches: number): number[] {
    const losses: number[] = [];
    for (let i = 0; i < batches; i++) {
      const batch = source.next();
      losses.push(tf.tidy(() => this.model.loss(batch, { training: false }).dataSync()[0]!));
      tf.dispose([batch.x, batch.y]);
    }
    return losses;
  }

  getState(): SessionState {
    return {
      step: this.stepCount,
      optimizer: this.optimizer.getState(),
      data: this.source.getState(),
      ...(this.selective && { selective: this.selective.getState() }),
    };
  }

  setState(s: SessionState): void {
    this.stepCount = s.step;
    this.optimizer.setState(s.optimizer, this.model.params());
    this.source.setState(s.data);
  }

  dispose(): void {
    this.optimizer.dispose();
  }
}
