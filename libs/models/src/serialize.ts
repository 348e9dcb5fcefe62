// A model's state: its spec, its expansions, which blocks train, and every parameter's values. Loading
// rebuilds the seeded model, replays the expansions, then writes the values back.
import * as tf from '@tensorflow/tfjs-core';
import { buildModel } from './registry.js';
import type { BlockModel, ModelSpec, Task } from './model.js';

export interface ModelState {
  spec: ModelSpec;
  task: Task;
  expansions: { id: string; after: string }[];
  frozen: string[];
  /** name → [shape, values]. */
  weights: Record<string, { shape: number[]; values: Float32Array }>;
}

export function serializeModel(model: BlockModel): ModelState {
  const weights: ModelState['weights'] = {};
  for (const p of model.params())
    weights[p.name] = { shape: p.variable.shape, values: p.variable.dataSync() as Float32Array };
  return {
    spec: model.spec,
    task: model.task,
    expansions: [...model.expansions],
    frozen: model.blocks.filter((b) => !b.trainable).map((b) => b.id),
    weights,
  };
}

export function deserializeModel(state: ModelState): BlockModel {
  const { architecture, size, seed, config } = state.spec;
  const model = buildModel(architecture, size, seed, config, state.task);
  for (const e of state.expansions) {
    const b = model.expandAfter(e.after);
    if (b.id !== e.id) throw new Error(`expansion replay produced ${b.id}, expected ${e.id}`);
  }
  const frozen = new Set(state.frozen);
  model.setTrainable((b) => !frozen.has(b.id));
  for (const p of model.params()) {
    const w = state.weights[p.name];
    if (!w) throw new Error(`checkpoint lacks parameter ${p.name}`);
    if (w.shape.join() !== p.variable.shape.join())
      throw new Error(`parameter ${p.name}: shape ${w.shape} in the checkpoint, ${p.variable.shape} in the model`);
    p.variable.assign(tf.tensor(w.values, w.shape));
  }
  return model;
}
