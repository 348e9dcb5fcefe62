// One entry for tabular attributions over many instances: each instance is explained on its own with
// the same seed, so a batch equals its rows explained one by one.
import { exactShapley } from './shapley.js';
import { gradientShap, integratedGradients } from './gradients.js';
import { kernelShap } from './kernel.js';
import { tabularValue } from './maskers.js';
import { permutationShap } from './permutation.js';
import type { Attribution, BatchModel, ValueFunction } from './types.js';

export type AttributionMethod = 'exact' | 'kernel' | 'permutation' | 'integrated-gradients' | 'gradient-shap';

export interface ExplainOptions {
  method: AttributionMethod;
  /** Coalitions for kernel and permutation (default 2M + 2048). */
  budget?: number;
  /** Quadrature nodes for integrated gradients (default 50), samples for gradient SHAP (default 200). */
  steps?: number;
  seed?: number;
}

/** The mean row of a background: integrated gradients' baseline. */
export function meanRow(background: Float32Array, inputs: number): Float32Array {
  const rows = background.length / inputs;
  const mean = new Float32Array(inputs);
  for (let r = 0; r < rows; r++) for (let i = 0; i < inputs; i++) mean[i]! += background[r * inputs + i]! / rows;
  return mean;
}

/**
 * One instance as the methods see it: v(S) over its `features` (built only when a Shapley method asks),
 * and, for the gradient methods, the model, the row, integrated gradients' baseline and the background.
 */
export interface Instance {
  features: number;
  value: () => ValueFunction;
  gradient?: { model: BatchModel; x: Float32Array; baseline: Float32Array; background: Float32Array };
}

/** The attribution of one instance by `opts.method`: the one place a method name becomes a call. */
export function attribute(instance: Instance, opts: ExplainOptions): Attribution {
  const seed = opts.seed ?? 0;
  const g = () => {
    if (!instance.gradient) throw new Error(`${opts.method} needs a differentiable model of the input`);
    return instance.gradient;
  };
  switch (opts.method) {
    case 'exact':
      return exactShapley(instance.value(), instance.features);
    case 'kernel':
      return kernelShap(instance.value(), instance.features, { budget: opts.budget, seed });
    case 'permutation':
      return permutationShap(instance.value(), instance.features, { budget: opts.budget, seed });
    case 'integrated-gradients':
      return integratedGradients(g().model, g().x, g().baseline, { steps: opts.steps });
    case 'gradient-shap':
      return gradientShap(g().model, g().x, g().background, { samples: opts.steps, seed });
  }
}

export function explainRows(
  model: BatchModel,
  instances: Float32Array,
  background: Float32Array,
  opts: ExplainOptions,
  onInstance?: (done: number, total: number) => void,
): Attribution[] {
  const m = model.inputs;
  const count = instances.length / m;
  const baseline = meanRow(background, m);
  const out: Attribution[] = [];
  for (let k = 0; k < count; k++) {
    const x = instances.subarray(k * m, (k + 1) * m);
    out.push(
      attribute(
        { features: m, value: () => tabularValue(model, x, background), gradient: { model, x, baseline, background } },
        opts,
      ),
    );
    onInstance?.(k + 1, count);
  }
  return out;
}
