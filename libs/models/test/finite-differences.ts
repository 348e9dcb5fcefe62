// Central finite differences against the gradients TF.js computes: the check every fused kernel's test
// makes of its own forward pass.
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';

export interface FiniteDifferenceOptions {
  /** Differentiate the first `inputs` arguments (the rest held fixed); default all. */
  inputs?: number;
  /** The elements of an input of `length` values to check. */
  indices: (length: number) => number[];
  /** The largest |numeric − analytic| accepted for an analytic gradient g. */
  tolerance: (g: number) => number;
  /** The step; default 1e-2. */
  h?: number;
}

export const every = (stride: number) => (length: number) =>
  Array.from({ length: Math.ceil(length / stride) }, (_, i) => i * stride);

/** Asserts that ∂loss/∂args[which][index] matches (loss(x + h) − loss(x − h)) / 2h at the chosen elements. */
export function assertFiniteDifferences(
  label: string,
  loss: (xs: tf.Tensor[]) => tf.Tensor,
  args: tf.Tensor[],
  options: FiniteDifferenceOptions,
): void {
  const n = options.inputs ?? args.length;
  const h = options.h ?? 1e-2;
  const grads = tf.grads((...xs: tf.Tensor[]) => loss([...xs, ...args.slice(n)]))(args.slice(0, n));
  const analytic = grads.map((g) => g.dataSync());
  tf.dispose(grads);
  for (let which = 0; which < n; which++) {
    const base = args[which]!.dataSync();
    for (const index of options.indices(base.length)) {
      const at = (shift: number) =>
        tf.tidy(() => {
          const values = base.slice();
          values[index]! += shift;
          return loss(args.map((x, i) => (i === which ? tf.tensor(values, x.shape) : x))).dataSync()[0]!;
        });
      const numeric = (at(h) - at(-h)) / (2 * h);
      const g = analytic[which]![index]!;
      assert.ok(
        Math.abs(numeric - g) <= options.tolerance(g),
        `${label} input ${which}[${index}]: finite difference ${numeric}, gradient ${g}`,
      );
    }
  }
}
