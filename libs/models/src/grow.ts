// A classifier given more classes: its head gains one output per new class (new data brought a class the
// model never predicted). The old classes' weights are kept, so their logits are unchanged for every input.
import { deserializeModel, serializeModel } from './serialize.js';
import type { BlockModel } from './model.js';
import { mlpInputRows, mlpInputWidth, type MlpConfig } from './vision.js';

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

/**
 * An MLP whose one-hot columns read more categories: `categories` names each column's categories (its own
 * first, in order, then the new ones), and each grown column's first-layer rows gain one zero row per new
 * category. A known category is still exactly one-hot on its old row and zero on the new ones, so every
 * output is unchanged for every input the model could read before; training then learns the new rows. Only
 * columns already read one-hot grow. The model given is left as it was.
 */
export function withInputCategories(model: BlockModel, categories: Record<string, string[]>): BlockModel {
  if (model.spec.architecture !== 'mlp') throw new Error(`${model.spec.architecture} reads no categorical inputs`);
  const state = serializeModel(model);
  const cfg = state.spec.config as unknown as MlpConfig & {
    featureNames?: string[];
    featureCategories?: Record<string, string[]>;
  };
  const names = cfg.featureNames ?? [];
  const own = cfg.featureCategories ?? {};
  const inputCategories = [...(cfg.inputCategories ?? new Array<number>(cfg.inputs).fill(0))];
  for (const [n, values] of Object.entries(categories)) {
    const j = names.indexOf(n);
    const old = own[n] ?? [];
    if (j < 0 || inputCategories[j]! < 2) throw new Error(`input ${JSON.stringify(n)} is not read one-hot`);
    if (values.length < old.length || old.some((v, i) => values[i] !== v))
      throw new Error(`input ${JSON.stringify(n)}: the new categories must extend ${old.join(', ')}`);
    inputCategories[j] = values.length;
  }
  const grownCfg = { ...cfg, inputCategories };
  const [from, to] = [mlpInputRows(cfg), mlpInputRows(grownCfg)];
  const first = cfg.hidden.length ? 'dense.0' : 'head';
  const w = state.weights[`${first}.w`]!;
  const [rowsBefore, units] = w.shape as [number, number];
  const rowsAfter = mlpInputWidth(grownCfg);
  if (mlpInputWidth(cfg) !== rowsBefore) throw new Error(`${first}.w has ${rowsBefore} rows`);
  const weights = new Float32Array(rowsAfter * units);
  from.forEach((r, j) =>
    weights.set(w.values.subarray(r.start * units, (r.start + r.width) * units), to[j]!.start * units),
  );
  return deserializeModel({
    ...state,
    spec: {
      ...state.spec,
      config: { ...state.spec.config, inputCategories, featureCategories: { ...own, ...categories } },
    },
    weights: { ...state.weights, [`${first}.w`]: { shape: [rowsAfter, units], values: weights } },
  });
}
