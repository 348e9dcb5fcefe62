// Selective training: which entries and blocks a step differentiates and updates, for the sparse strategies
// (FreezeNet, pruning at initialisation, RigL: a mask per weight matrix) and greedy block coordinate descent
// (one block per step). The training session asks its SelectiveTraining before and after each gradient;
// the state checkpoints with the session, so that a resumed run continues exactly.
import * as tf from '@tensorflow/tfjs-core';
import type { Batch, Block, BlockModel, Param } from '@floe/models';
import { BlockSelector, type BcdRule } from './bcd.js';
import {
  globalMask,
  graspScores,
  magnitudeScores,
  maskableParams,
  snipScores,
  synflowScores,
  type MaskMethod,
  type MaskScope,
  type Scores,
} from './masks.js';
import type { Optimizer } from './optimizer.js';
import { riglFraction, riglUpdate, type RigLSchedule } from './rigl.js';

/** What a checkpoint keeps of a SelectiveTraining: a JSON part and named arrays. */
export interface SelectiveState {
  json: unknown;
  arrays: Record<string, Float32Array>;
}

/** What a step offers its SelectiveTraining besides the gradients. */
export interface StepContext {
  /** The step being taken (1-based). */
  step: number;
  /** ‖∇_b L‖² of each block whose whole gradient this step computed, by block id. */
  blockGradNormSq: Map<string, number>;
  /** Gradients of the loss on this step's batch for `params`, at the current weights (caller disposes). */
  gradients(params: Param[]): Map<string, tf.Tensor>;
  /** The loss on this step's batch at the current weights. */
  loss(): number;
}

export interface SelectiveTraining {
  /** The parameters this step differentiates (of the trainable ones). */
  differentiate(step: number, trainable: Param[]): Param[];
  /** Sees the step's gradients before the update; answers the parameters to update and, when only some
   * blocks update, which. */
  beforeUpdate(
    ctx: StepContext,
    grads: Map<string, tf.Tensor>,
    differentiated: Param[],
  ): { update: Param[]; updatedBlocks?: string[] };
  /** Parameter entries that train (the run's trainable_params). */
  trainableEntries(): number;
  getState(): SelectiveState;
  setState(s: SelectiveState): void;
}

// ---- masks: FreezeNet, pruning at initialisation, RigL

export interface MaskedTrainingOptions {
  /** Entries outside the mask keep their initial values (FreezeNet) or are zero (pruned). */
  rest: 'frozen' | 'pruned';
  method: MaskMethod;
  /** Fraction of the maskable entries that train, in (0, 1]. */
  keep: number;
  /** Which parameters the mask covers (default: weights; FreezeNet: all). Only SNIP scores biases. */
  scope?: MaskScope;
  /** RigL's drop/grow schedule; absent: the mask is fixed. */
  rigl?: RigLSchedule;
}

/** Scores of `method` for `model` at its current weights (SynFlow reads only the batch's input shape). */
export function maskScores(
  model: BlockModel,
  method: MaskMethod,
  batch: Batch,
  keep: number,
  scope: MaskScope = 'weights',
): Scores {
  if (scope === 'all' && method !== 'snip') throw new RangeError(`only SNIP scores every parameter, not ${method}`);
  switch (method) {
    case 'snip':
      return snipScores(model, batch, scope);
    case 'grasp':
      return graspScores(model, batch);
    case 'synflow':
      return synflowScores(
        model,
        batch.x.shape.slice(1),
        keep,
        undefined,
        batch.x.dtype === 'int32' ? 'int32' : 'float32',
      );
    case 'magnitude':
      return magnitudeScores(model);
  }
}

/** A mask's key among a SelectiveState's arrays. */
const maskKey = (name: string) => `mask/${name}`;

/** The options and masks (name → 0/1) a MaskedTraining's checkpointed state holds; undefined for another kind. */
export function savedMasks(
  s: SelectiveState,
): { options: MaskedTrainingOptions; masks: Map<string, Float32Array> } | undefined {
  const json = s.json as { kind?: string; options?: MaskedTrainingOptions };
  if (json.kind !== 'masked' || !json.options) return undefined;
  const masks = new Map<string, Float32Array>();
  for (const [key, m] of Object.entries(s.arrays))
    if (key.startsWith(maskKey(''))) masks.set(key.slice(maskKey('').length), Float32Array.from(m));
  return { options: json.options, masks };
}

export class MaskedTraining implements SelectiveTraining {
  /** The parameters the masks cover. */
  private readonly params: Param[];

  private constructor(
    private readonly model: BlockModel,
    private readonly optimizer: Optimizer,
    readonly options: MaskedTrainingOptions,
    /** name → 1 (trains) / 0 (frozen or pruned), for the maskable parameters. */
    readonly masks: Map<string, Float32Array>,
  ) {
    this.params = maskableParams(model, options.scope);
    optimizer.setMasks(this.params, masks);
  }

  /** Scores the model on `batch`, keeps the top `keep` fraction, and zeroes the rest when pruning. */
  static create(model: BlockModel, optimizer: Optimizer, options: MaskedTrainingOptions, batch: Batch): MaskedTraining {
    const masks = globalMask(maskScores(model, options.method, batch, options.keep, options.scope), options.keep);
    if (options.rest === 'pruned')
      for (const p of maskableParams(model, options.scope)) {
        const mask = masks.get(p.name)!;
        // +0, not w·0 (−0 for negative w): a pruned entry must rebuild bit for bit from a zero fill.
        p.variable.assign(
          tf.tensor(
            Float32Array.from(p.variable.dataSync(), (w, k) => (mask[k] ? w : 0)),
            p.variable.shape,
          ),
        );
      }
    return new MaskedTraining(model, optimizer, options, masks);
  }

  /** The state a checkpoint kept (masks as they were then). */
  static restore(model: BlockModel, optimizer: Optimizer, s: SelectiveState): MaskedTraining {
    const saved = savedMasks(s);
    if (!saved) throw new Error('the checkpoint holds no masks');
    return new MaskedTraining(model, optimizer, saved.options, saved.masks);
  }

  differentiate(_step: number, trainable: Param[]): Param[] {
    return trainable;
  }

  beforeUpdate(ctx: StepContext, grads: Map<string, tf.Tensor>, differentiated: Param[]) {
    const fraction = this.options.rigl ? riglFraction(ctx.step, this.options.rigl) : 0;
    if (fraction > 0) {
      // Each weight matrix drops and regrows on its own (so each keeps its density), from the dense gradient.
      for (const p of this.params) {
        const g = grads.get(p.name);
        if (!g) continue;
        const weights = Float32Array.from(p.variable.dataSync());
        const { dropped, grown } = riglUpdate(weights, g.dataSync(), this.masks.get(p.name)!, fraction);
        p.variable.assign(tf.tensor(weights, p.variable.shape));
        this.optimizer.resetEntries(p, [...dropped, ...grown]);
      }
      this.optimizer.setMasks(this.params, this.masks);
    }
    return { update: differentiated };
  }

  trainableEntries(): number {
    const masked = new Set(this.masks.keys());
    let n = 0;
    for (const p of this.model.trainableParams())
      n += masked.has(p.name) ? this.masks.get(p.name)!.reduce((s, v) => s + v, 0) : p.variable.size;
    return n;
  }

  getState(): SelectiveState {
    return {
      json: { kind: 'masked', options: this.options },
      arrays: Object.fromEntries([...this.masks].map(([name, m]) => [maskKey(name), m])),
    };
  }

  setState(s: SelectiveState): void {
    for (const [name, m] of this.masks) m.set(s.arrays[maskKey(name)]!);
    this.optimizer.setMasks(this.params, this.masks);
  }
}

// ---- greedy block coordinate descent

export interface BcdOptions {
  rule: BcdRule;
  /** Every this many steps all blocks' scores are refreshed. */
  refreshEvery: number;
  /** A block not updated for this many steps is updated next; 0: four times the number of blocks. */
  maxSkipped: number;
  lipschitz: 'secant' | 'backtracking';
}

const RULES_WITH_SCORES = new Set<BcdRule>(['gs', 'gsl', 'gs-quadratic', 'random-lipschitz']);
const RULES_WITH_LIPSCHITZ = new Set<BcdRule>(['gsl', 'random-lipschitz']);

/** The blocks BCD chooses among: trainable and with parameters. */
export function bcdBlocks(model: BlockModel): Block[] {
  return model.blocks.filter((b) => b.trainable && b.params.length > 0);
}

interface BcdScoresState {
  gradNormSq: number[];
  quadratic: number[];
  lipschitz: number[];
  /** The step each block was last updated (0: never). */
  lastUpdated: number[];
}

export class BlockCoordinateTraining implements SelectiveTraining {
  private readonly blocks: Block[];
  private readonly selector: BlockSelector;
  private scores: BcdScoresState;
  /** The block chosen before a step that differentiates only it. */
  private chosen = -1;
  private readonly maxSkipped: number;

  constructor(
    model: BlockModel,
    private readonly optimizer: Optimizer,
    readonly options: BcdOptions,
    seed: number,
  ) {
    this.blocks = bcdBlocks(model);
    if (this.blocks.length < 2)
      throw new RangeError(`block coordinate descent needs at least two trainable blocks, not ${this.blocks.length}`);
    this.selector = new BlockSelector(options.rule, this.blocks.length, seed);
    this.maxSkipped = options.maxSkipped || 4 * this.blocks.length;
    const zeros = () => this.blocks.map(() => 0);
    this.scores = { gradNormSq: zeros(), quadratic: zeros(), lipschitz: zeros(), lastUpdated: zeros() };
  }

  private refreshes(step: number): boolean {
    return RULES_WITH_SCORES.has(this.options.rule) && (step - 1) % this.options.refreshEvery === 0;
  }

  /** The most starved block if one waited maxSkipped steps, else the rule's choice on the current scores. */
  private pick(step: number): number {
    let starved = -1;
    this.scores.lastUpdated.forEach((last, b) => {
      if (step - last > this.maxSkipped && (starved < 0 || last < this.scores.lastUpdated[starved]!)) starved = b;
    });
    if (starved >= 0) return starved;
    const { gradNormSq, quadratic, lipschitz } = this.scores;
    return this.selector.pick({ gradNormSq, quadratic, lipschitz });
  }

  differentiate(step: number, trainable: Param[]): Param[] {
    const allowed = new Set(trainable.map((p) => p.name));
    if (this.refreshes(step)) {
      this.chosen = -1;
      return this.blocks.flatMap((b) => b.params).filter((p) => allowed.has(p.name));
    }
    this.chosen = this.pick(step);
    return this.blocks[this.chosen]!.params.filter((p) => allowed.has(p.name));
  }

  beforeUpdate(ctx: StepContext, grads: Map<string, tf.Tensor>) {
    const scored = this.chosen >= 0 ? [this.chosen] : this.blocks.map((_, b) => b);
    for (const b of scored) this.scores.gradNormSq[b] = ctx.blockGradNormSq.get(this.blocks[b]!.id)!;
    if (this.options.rule === 'gs-quadratic') {
      const q = tf.tidy(() =>
        tf
          .stack(
            scored.map((b) =>
              tf.addN(
                this.blocks[b]!.params.map((p) => {
                  const g = grads.get(p.name)!;
                  const d = this.optimizer.preconditioner(p) ?? tf.add(tf.abs(g), 1e-8);
                  return tf.sum(tf.div(tf.square(g), d));
                }),
              ),
            ),
          )
          .dataSync(),
      );
      scored.forEach((b, i) => (this.scores.quadratic[b] = q[i]!));
    }
    if (this.chosen < 0 && RULES_WITH_LIPSCHITZ.has(this.options.rule))
      this.blocks.forEach((_, b) => this.estimateLipschitz(ctx, b, grads, this.scores.gradNormSq[b]!));
    const b = this.chosen >= 0 ? this.chosen : this.pick(ctx.step);
    this.scores.lastUpdated[b] = ctx.step;
    return { update: this.blocks[b]!.params, updatedBlocks: [this.blocks[b]!.id] };
  }

  /** L_b on this step's batch with only block b moved (see LipschitzEstimate in the contract). */
  private estimateLipschitz(ctx: StepContext, b: number, grads: Map<string, tf.Tensor>, normSq: number): void {
    const params = this.blocks[b]!.params;
    const gNorm = Math.sqrt(normSq);
    if (!(gNorm > 0)) return;
    const saved = params.map((p) => tf.keep(p.variable.clone()));
    const moveAlong = (scale: number) =>
      params.forEach((p, i) => p.variable.assign(tf.tidy(() => tf.sub(saved[i]!, tf.mul(grads.get(p.name)!, scale)))));
    const restore = () => params.forEach((p, i) => p.variable.assign(saved[i]!));
    const previous = this.scores.lipschitz[b]!;
    try {
      if (this.options.lipschitz === 'secant') {
        const thetaNorm = Math.sqrt(tf.tidy(() => tf.addN(saved.map((t) => tf.sum(tf.square(t)))).dataSync()[0]!));
        // A step of 10⁻³ of the block's norm: large against float32 rounding, small against curvature.
        const s = (1e-3 * Math.max(thetaNorm, 1e-3)) / gNorm;
        moveAlong(s);
        const moved = ctx.gradients(params);
        const diff = Math.sqrt(
          tf.tidy(
            () =>
              tf
                .addN(params.map((p) => tf.sum(tf.square(tf.sub(moved.get(p.name)!, grads.get(p.name)!)))))
                .dataSync()[0]!,
          ),
        );
        tf.dispose([...moved.values()]);
        const estimate = Math.max(diff / (s * gNorm), 1e-6);
        this.scores.lipschitz[b] = previous > 0 ? 0.5 * previous + 0.5 * estimate : estimate;
      } else {
        restore();
        const f0 = ctx.loss();
        let l = previous > 0 ? previous / 2 : 1;
        for (let k = 0; k < 40; k++) {
          moveAlong(1 / l);
          if (ctx.loss() <= f0 - normSq / (2 * l)) break;
          l *= 2;
        }
        this.scores.lipschitz[b] = l;
      }
    } finally {
      restore();
      tf.dispose(saved);
    }
  }

  trainableEntries(): number {
    return this.blocks.reduce((n, b) => n + b.params.reduce((m, p) => m + p.variable.size, 0), 0);
  }

  getState(): SelectiveState {
    return {
      json: { kind: 'bcd', options: this.options, selector: this.selector.getState(), scores: this.scores },
      arrays: {},
    };
  }

  setState(s: SelectiveState): void {
    const j = s.json as { selector: Parameters<BlockSelector['setState']>[0]; scores: BcdScoresState };
    this.selector.setState(j.selector);
    this.scores = structuredClone(j.scores);
  }
}

/** The SelectiveTraining a checkpoint kept, rebuilt over the restored model and optimizer. */
export function restoreSelective(
  model: BlockModel,
  optimizer: Optimizer,
  state: SelectiveState,
  seed: number,
): SelectiveTraining {
  if (savedMasks(state)) return MaskedTraining.restore(model, optimizer, state);
  const json = state.json as { options: BcdOptions };
  const bcd = new BlockCoordinateTraining(model, optimizer, json.options, seed);
  bcd.setState(state);
  return bcd;
}
