// A classifier given more classes: its head gains one output per new class (new data brought a class the
// model never predicted). The old classes' weights are kept, so their logits are unchanged for every input.
import { deserializeModel, serializeModel } from './serialize.js';
import type { BlockModel } from './model.js';

/** The config key of a classifier's output count, per architecture. */
const OUTPUTS_KEY: Record<string, string> = { mlp: 'outputs', lenet5: 'classes' };

/**
 * `model` with its head widened to `classNames` (its own classes first, in order, then the new ones). `weights`
 * is hidden × new (row-major, as the head's), `bias` one per new class. The model given is left as it was.
 */
export function withClasses(
  model: BlockModel,
  classNames: string[],
  added: { weights: Float32Array; bias: Float32Array },
): BlockModel {
  const key = OUTPUTS_KEY[model.spec.architecture];
  if (!key || model.task !== 'classification')
    throw new Error(`${model.spec.architecture} (${model.task}) has no class head to widen`);
  const state = serializeModel(model);
  const w = state.weights['head.w']!;
  const b = state.weights['head.b']!;
  const [hidden, old] = w.shape as [number, number];
  const extra = added.bias.length;
  if (classNames.length !== old + extra || added.weights.length !== hidden * extra)
    throw new Error(`widening ${old} classes by ${extra}: ${classNames.length} names, ${added.weights.length} weights`);
  const weights = new Float32Array(hidden * (old + extra));
  for (let h = 0; h < hidden; h++) {
    weights.set(w.values.subarray(h * old, (h + 1) * old), h * (old + extra));
    weights.set(added.weights.subarray(h * extra, (h + 1) * extra), h * (old + extra) + old);
  }
  const bias = new Float32Array(old + extra);
  bias.set(b.values);
  bias.set(added.bias, old);
  return deserializeModel({
    ...state,
    spec: { ...state.spec, config: { ...state.spec.config, [key]: old + extra, classNames } },
    weights: {
      ...state.weights,
      'head.w': { shape: [hidden, old + extra], values: weights },
      'head.b': { shape: [old + extra], values: bias },
    },
  });
}
