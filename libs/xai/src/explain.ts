// One entry for tabular attributions over many instances: each instance is explained on its own with
// the same seed, so a batch equals its rows explained one by one.
import { exactShapley } from './shapley.js';
import { gradientShap, integratedGradients } from './gradients.js';
import { kernelShap } from './kernel.js';
import { tabularValue } from './maskers.js';
import { permutationShap } from './permutation.js';
import type { Attribution, BatchModel } from './types.js';

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

export function explainRows(
  model: BatchModel,
  instances: Float32Array,
  background: Float32Array,
  opts: ExplainOptions,
  onInstance?: (done: number, total: number) => void,
): Attribution[] {
  const m = model.inputs;
  const count = instances.length / m;
  const baseline = opts.method === 'integrated-gradients' ? meanRow(background, m) : undefined;
  const out: Attribution[] = [];
  for (let k = 0; k < count; k++) {
    const x = instances.subarray(k * m, (k + 1) * m);
    const seed = opts.seed ?? 0;
    switch (opts.method) {
      case 'exact':
        out.push(exactShapley(tabularValue(model, x, background), m));
        break;
      case 'kernel':
        out.push(kernelShap(tabularValue(model, x, background), m, { budget: opts.budget, seed }));
        break;
      case 'permutation':
        out.push(permutationShap(tabularValue(model, x, background), m, { budget: opts.budget, seed }));
        break;
      case 'integrated-gradients':
        out.push(integratedGradients(model, x, baseline!, { steps: opts.steps }));
        break;
      case 'gradient-shap':
        out.push(gradientShap(model, x, background, { samples: opts.steps, seed }));
        break;
    }
    onInstance?.(k + 1, count);
  }
  return out;
}
