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
  /** name → first and second moments (second unused by SGD). */
  slots: Record<string, { m: Float32Array; v?: Float32Array }>;
}

export class Optimizer {
  private step = 0;
  private readonly m = new Map<string, tf.Variable>();
  private readonly v = new Map<string, tf.Variable>();
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

  get steps(): number {
    return this.step;
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
   * gradient norm before clipping.
   */
  apply(params: Param[], grads: Map<string, tf.Tensor>, lr: number): number {
    const { kind, beta1, beta2, epsilon, weightDecay, gradClipNorm } = this.config;
    const present = params.filter((p) => grads.has(p.name));
    const norm = Math.sqrt(
      tf.tidy(() => tf.addN(present.map((p) => tf.sum(tf.square(grads.get(p.name)!)))).dataSync()[0]!),
    );
    const scale = gradClipNorm > 0 && norm > gradClipNorm ? gradClipNorm / norm : 1;
    this.step++;
    const t = this.step;
    tf.tidy(() => {
      for (const p of present) {
        const mask = this.masks.get(p.name);
        let g = grads.get(p.name)!;
        if (mask) g = tf.mul(g, mask);
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
    for (const [name, m] of this.m)
      slots[name] = { m: m.dataSync() as Float32Array, v: this.v.get(name)?.dataSync() as Float32Array | undefined };
    return { step: this.step, slots };
  }

  setState(state: OptimizerState, params: Param[]): void {
    this.disposeSlots();
    this.step = state.step;
    for (const p of params) {
      const s = state.slots[p.name];
      if (!s) continue;
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
  }
}
