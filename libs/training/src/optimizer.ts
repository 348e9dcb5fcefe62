// AdamW, Adam (L2) and SGD with momentum over named parameters, with state that checkpoints exactly.
// Written with tfjs-core ops so that it runs on any backend; updates happen in place on the variables.
import * as tf from '@tensorflow/tfjs-core';
import type { Param } from '@floe/models';

export type OptimizerKind = 'adamw' | 'adam' | 'sgd';

export interface OptimizerConfig {
  kind: OptimizerKind;
  learningRate: number;
  beta1: number;
  beta2: number;
  epsilon: number;
  weightDecay: number;
  /** Clip the global gradient norm to this; 0 disables. */
  gradClipNorm: number;
}

/** Kernels libs/ml-runtime registers where the native ones run (training does not depend on the runtime). */
const ADAM_KERNEL = 'FloeAdam';
const SUM_SQUARES_KERNEL = 'FloeSumSquares';

/** Σx² of each tensor: one fused kernel where registered, else two kernels per tensor. */
export function sumsOfSquares(ts: tf.Tensor[]): number[] {
  if (ts.length === 0) return [];
  if (tf.getKernel(SUM_SQUARES_KERNEL, tf.getBackend()))
    return tf.tidy(() =>
      Array.from(
        (
          tf.engine().runKernel(SUM_SQUARES_KERNEL, Object.fromEntries(ts.map((t, i) => [`x${i}`, t]))) as tf.Tensor
        ).dataSync(),
      ),
    );
  return tf.tidy(() => Array.from(tf.stack(ts.map((t) => tf.sum(tf.square(t)))).dataSync()));
}

export const DEFAULT_OPTIMIZER: OptimizerConfig = {
  kind: 'adamw',
  learningRate: 1e-3,
  beta1: 0.9,
  beta2: 0.999,
  epsilon: 1e-8,
  weightDecay: 0.01,
  gradClipNorm: 1,
};

export interface OptimizerState {
  step: number;
  /** name → first and second moments (second unused by SGD), and the updates the parameter had when
   * fewer than `step` (block coordinate descent updates one block a step; Adam's bias correction counts
   * each parameter's own updates). */
  slots: Record<string, { m: Float32Array; v?: Float32Array; t?: number }>;
}

export class Optimizer {
  private step = 0;
  private readonly m = new Map<string, tf.Variable>();
  private readonly v = new Map<string, tf.Variable>();
  /** name → updates applied to it (its Adam step t). */
  private readonly counts = new Map<string, number>();
  /** name → 0/1: entries at 0 get no step and no weight decay (frozen at θ0, or pruned and kept at zero). */
  private readonly masks = new Map<string, tf.Tensor>();

  constructor(readonly config: OptimizerConfig) {}

  /** Restricts updates to the entries a mask keeps (FreezeNet, pruning at initialisation). */
  setMasks(params: Param[], masks: Map<string, Float32Array>): void {
    for (const m of this.masks.values()) m.dispose();
    this.masks.clear();
    for (const p of params) {
      const m = masks.get(p.name);
      if (m) this.masks.set(p.name, tf.keep(tf.tensor(m, p.variable.shape)));
    }
  }

  /** The current mask of a parameter (1 = updates), if it has one. */
  maskOf(name: string): tf.Tensor | undefined {
    return this.masks.get(name);
  }

  get steps(): number {
    return this.step;
  }

  /** Adam's preconditioner √v̂ + ε of a parameter, once it has been updated (GS-quadratic's diagonal). */
  preconditioner(p: Param): tf.Tensor | undefined {
    const v = this.v.get(p.name);
    const t = this.counts.get(p.name) ?? 0;
    if (!v || t === 0) return undefined;
    return tf.tidy(() => tf.add(tf.sqrt(tf.div(v, 1 - this.config.beta2 ** t)), this.config.epsilon));
  }

  /** Zeroes both moments at `indices` of a parameter (RigL: a regrown weight starts afresh). */
  resetEntries(p: Param, indices: number[]): void {
    if (!indices.length) return;
    for (const map of [this.m, this.v]) {
      const slot = map.get(p.name);
      if (!slot) continue;
      const values = Float32Array.from(slot.dataSync());
      for (const k of indices) values[k] = 0;
      slot.assign(tf.tensor(values, slot.shape));
    }
  }

  private slot(map: Map<string, tf.Variable>, p: Param): tf.Variable {
    let s = map.get(p.name);
    if (!s) {
      s = tf.variable(tf.zerosLike(p.variable), false);
      map.set(p.name, s);
    }
    return s;
  }

  /**
   * Applies one update with learning rate `lr` to the parameters that have gradients. Returns the global
   * norm of the gradient that updates (masked entries left out) before clipping.
   */
  apply(params: Param[], grads: Map<string, tf.Tensor>, lr: number): number {
    const { kind, beta1, beta2, epsilon, weightDecay, gradClipNorm } = this.config;
    const present = params.filter((p) => grads.has(p.name));
    const masked = (p: Param) => {
      const mask = this.masks.get(p.name);
      return mask ? tf.mul(grads.get(p.name)!, mask) : grads.get(p.name)!;
    };
    const norm = Math.sqrt(tf.tidy(() => sumsOfSquares(present.map(masked)).reduce((a, b) => a + b, 0)));
    const scale = gradClipNorm > 0 && norm > gradClipNorm ? gradClipNorm / norm : 1;
    this.step++;
    tf.tidy(() => {
      for (const p of present) {
        const t = (this.counts.get(p.name) ?? 0) + 1;
        this.counts.set(p.name, t);
        const mask = this.masks.get(p.name);
        if (kind !== 'sgd' && !mask && tf.getKernel(ADAM_KERNEL, tf.getBackend())) {
          // One fused pass over the weights, the gradient and both moments (libs/native fused.cc).
          const m = this.slot(this.m, p);
          const v = this.slot(this.v, p);
          const settings = [lr, beta1, beta2, 1 - beta1, 1 - beta2, epsilon, weightDecay, scale];
          settings.push(1 - beta1 ** t, 1 - beta2 ** t, kind === 'adamw' ? 1 : 0);
          const [pNew, mNew, vNew] = tf
            .engine()
            .runKernel(ADAM_KERNEL, { p: p.variable, g: grads.get(p.name)!, m, v }, { settings }) as tf.Tensor[];
          m.assign(mNew!);
          v.assign(vNew!);
          p.variable.assign(pNew!);
          continue;
        }
        let g = masked(p);
        if (scale !== 1) g = tf.mul(g, scale);
        if (kind === 'adam' && weightDecay > 0) g = tf.add(g, tf.mul(p.variable, weightDecay));
        const m = this.slot(this.m, p);
        if (kind === 'sgd') {
          m.assign(tf.add(tf.mul(m, beta1), g));
          const step = tf.add(tf.mul(p.variable, lr * weightDecay), tf.mul(m, lr));
          p.variable.assign(tf.sub(p.variable, mask ? tf.mul(step, mask) : step));
          continue;
        }
        const v = this.slot(this.v, p);
        m.assign(tf.add(tf.mul(m, beta1), tf.mul(g, 1 - beta1)));
        v.assign(tf.add(tf.mul(v, beta2), tf.mul(tf.square(g), 1 - beta2)));
        const mHat = tf.div(m, 1 - beta1 ** t);
        const vHat = tf.div(v, 1 - beta2 ** t);
        let update = tf.div(mHat, tf.add(tf.sqrt(vHat), epsilon));
        // AdamW: decoupled weight decay on the weights themselves.
        if (kind === 'adamw' && weightDecay > 0) update = tf.add(update, tf.mul(p.variable, weightDecay));
        if (mask) update = tf.mul(update, mask);
        p.variable.assign(tf.sub(p.variable, tf.mul(update, lr)));
      }
    });
    return norm;
  }

  getState(): OptimizerState {
    const slots: OptimizerState['slots'] = {};
    for (const [name, m] of this.m) {
      const t = this.counts.get(name) ?? this.step;
      slots[name] = {
        m: m.dataSync() as Float32Array,
        v: this.v.get(name)?.dataSync() as Float32Array | undefined,
        ...(t !== this.step && { t }),
      };
    }
    return { step: this.step, slots };
  }

  setState(state: OptimizerState, params: Param[]): void {
    this.disposeSlots();
    this.step = state.step;
    for (const p of params) {
      const s = state.slots[p.name];
      if (!s) continue;
      this.counts.set(p.name, s.t ?? state.step);
      this.m.set(p.name, tf.variable(tf.tensor(s.m, p.variable.shape), false));
      if (s.v) this.v.set(p.name, tf.variable(tf.tensor(s.v, p.variable.shape), false));
    }
  }

  dispose(): void {
    this.disposeSlots();
    for (const m of this.masks.values()) m.dispose();
    this.masks.clear();
  }

  private disposeSlots(): void {
    for (const s of [...this.m.values(), ...this.v.values()]) s.dispose();
    this.m.clear();
    this.v.clear();
    this.counts.clear();
  }
}
