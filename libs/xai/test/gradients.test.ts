// Gradient attributions on a real TF.js model: Gauss–Legendre is exact on polynomials, integrated
// gradients' convergence delta shrinks as nodes grow, and the gradient reaches the model's inputs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildModel } from '@floe/models';
import { rngFor } from '@floe/random';
import { initBackend } from '@floe/ml-runtime';
import { batchModel, gaussLegendre, integratedGradients, gradientShap, sum } from '../src/index.js';

await initBackend('auto');

test('Gauss–Legendre on [0, 1]: weights sum to 1 and n nodes integrate degree 2n − 1 exactly', () => {
  for (const n of [1, 2, 5, 50]) {
    const { nodes, weights } = gaussLegendre(n);
    assert.ok(Math.abs(sum(weights) - 1) < 1e-12, `n=${n}`);
    const degree = 2 * n - 1;
    const integral = nodes.reduce((s, t, i) => s + weights[i]! * t ** degree, 0);
    assert.ok(Math.abs(integral - 1 / (degree + 1)) < 1e-10, `n=${n}: ∫t^${degree} = ${integral}`);
  }
});

test("integrated gradients' |delta| shrinks as the number of nodes grows (a real MLP)", () => {
  const model = buildModel('mlp', 'small', 3, { inputs: 6, outputs: 3 });
  const f = batchModel(model, 6, { index: 1 });
  const rng = rngFor(1, 'x');
  const x = Float32Array.from({ length: 6 }, () => 2 * rng.normal());
  const baseline = new Float32Array(6);
  const deltas = [2, 8, 32, 128].map((steps) => Math.abs(integratedGradients(f, x, baseline, { steps }).delta));
  assert.ok(deltas[3]! < deltas[0]! && deltas[3]! < 1e-3, `|delta| by nodes 2/8/32/128: ${deltas.join(', ')}`);
  assert.ok(deltas[2]! <= deltas[0]!, `|delta| by nodes: ${deltas.join(', ')}`);
  model.dispose();
});

test('expected gradients on a real MLP: efficiency within a few standard errors of the summed values', () => {
  const model = buildModel('mlp', 'small', 4, { inputs: 5, outputs: 2 });
  const f = batchModel(model, 5, { index: 0 });
  const rng = rngFor(2, 'bg');
  const background = Float32Array.from({ length: 40 * 5 }, () => rng.normal());
  const x = Float32Array.from({ length: 5 }, () => rng.normal());
  const r = gradientShap(f, x, background, { samples: 2000, seed: 1 });
  const se = Math.sqrt(r.standardErrors!.reduce((s, e) => s + e * e, 0));
  assert.ok(Math.abs(r.delta) < 5 * se + 1e-3, `delta ${r.delta} against ~${se} standard error`);
  model.dispose();
});
