// Gradients of every block kind against central finite differences, in float32.
// Per block: L = Σ w ⊙ block(x) with fixed random w (the sum taken in float64). For each parameter, the 4
// entries with the largest |g| are checked with central differences, step h = 1e-2 (1e-3 for conv blocks,
// whose max-pool is piecewise linear: a smaller step rarely crosses a kink). Tolerance:
//   |g − fd| ≤ 5e-3·|g| + τ,   τ = 2·ε₃₂·‖w ⊙ block(x)‖₂ / h   (the float32 noise floor of fd).
// Every block must have entries well above the noise floor (|g| ≥ 40τ), so every block's check can fail;
// and a gradient perturbed by 1 % in one element fails it (shown below).
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '@floe/ml-runtime';
import { Rng } from '@floe/random';
import { buildModel, type Block } from '../src/index.js';

const REL = 5e-3;
const EPS32 = 1.1920929e-7;

before(async () => {
  await initBackend('cpu');
});

function randomTensor(shape: number[], rng: Rng, scale = 1): tf.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(
    Float32Array.from({ length: n }, () => rng.normal() * scale),
    shape,
  );
}

interface Mismatch {
  where: string;
  analytic: number;
  numeric: number;
}

/** Returns the entries that fail; `perturb` scales one analytic entry to prove the check can fail. */
function checkBlock(
  block: Block,
  input: tf.Tensor,
  rng: Rng,
  perturb?: { param: number; factor: number },
): { checked: number; significant: number; bad: Mismatch[] } {
  const H = block.kind === 'conv' ? 1e-3 : 1e-2;
  const out0 = tf.tidy(() => block.forward(input, { training: true }));
  const w = randomTensor(out0.shape, rng);
  const wv = w.dataSync();
  const o0 = out0.dataSync();
  let norm = 0;
  for (let j = 0; j < o0.length; j++) norm += (wv[j]! * o0[j]!) ** 2;
  const tau = (2 * EPS32 * Math.sqrt(norm)) / H;
  out0.dispose();
  const lossTensor = () => tf.sum(tf.mul(block.forward(input, { training: true }), w)) as tf.Scalar;
  const lossValue = () => {
    const o = tf.tidy(() => block.forward(input, { training: true }));
    const v = o.dataSync();
    o.dispose();
    let sum = 0;
    for (let j = 0; j < v.length; j++) sum += wv[j]! * v[j]!;
    return sum;
  };
  const vars = block.params.map((p) => p.variable);
  const { grads } = tf.variableGrads(lossTensor, vars);
  const bad: Mismatch[] = [];
  let checked = 0;
  let significant = 0;
  block.params.forEach((p, pi) => {
    const g = grads[p.variable.name]!.dataSync().slice();
    const order = [...g.keys()].sort((a, b) => Math.abs(g[b]!) - Math.abs(g[a]!)).slice(0, 4);
    if (perturb && perturb.param === pi) g[order[0]!]! *= perturb.factor;
    const base = p.variable.dataSync().slice();
    for (const i of order) {
      const at = (delta: number) => {
        const v = base.slice();
        v[i] = base[i]! + delta;
        p.variable.assign(tf.tensor(v, p.variable.shape));
        return lossValue();
      };
      const fd = (at(H) - at(-H)) / (2 * H);
      p.variable.assign(tf.tensor(base, p.variable.shape));
      checked++;
      if (Math.abs(g[i]!) >= 40 * tau) significant++;
      if (Math.abs(g[i]! - fd) > REL * Math.abs(g[i]!) + tau)
        bad.push({ where: `${p.name}[${i}]`, analytic: g[i]!, numeric: fd });
    }
  });
  tf.dispose(Object.values(grads));
  w.dispose();
  return { checked, significant, bad };
}

function blockInputs(arch: string, block: Block, rng: Rng, model: ReturnType<typeof buildModel>): tf.Tensor {
  const cfg = model.spec.config as Record<string, number>;
  if (block.kind === 'embedding')
    return tf.tensor2d(
      Int32Array.from({ length: 2 * 6 }, () => rng.int(256)),
      [2, 6],
      'int32',
    );
  if (arch.endsWith('-lm')) return randomTensor([2, 6, cfg.dModel!], rng);
  if (arch === 'lenet5') {
    if (block.id === 'conv1') return randomTensor([2, 28, 28, 1], rng);
    if (block.id === 'conv2') return randomTensor([2, 12, 12, cfg.conv1!], rng);
    if (block.id === 'fc1') return randomTensor([2, 4, 4, cfg.conv2!], rng);
    return randomTensor([2, cfg.hidden!], rng);
  }
  const idx = model.blocks.indexOf(block);
  const width = idx === 0 ? cfg.inputs! : (cfg.hidden as unknown as number[])[idx - 1]!;
  return randomTensor([2, width], rng);
}

const MODELS: [string, string][] = [
  ['transformer-lm', 'tiny'],
  ['mamba-lm', 'tiny'],
  ['lenet5', 'small'],
  ['mlp', 'small'],
];

for (const [arch, size] of MODELS) {
  test(`${arch}: every block's gradients match finite differences`, () => {
    const rng = new Rng(5);
    const model = buildModel(arch as never, size, 3);
    let total = 0;
    for (const block of model.blocks) {
      const x = blockInputs(arch, block, rng, model);
      const { checked, significant, bad } = checkBlock(block, x, rng);
      total += checked;
      assert.deepEqual(bad, [], `${arch} ${block.id} (${block.kind})`);
      assert.ok(significant > 0, `${arch} ${block.id}: no gradient entry above the noise floor`);
      x.dispose();
    }
    assert.ok(total >= 4 * model.blocks.length);
    model.dispose();
  });
}

test('a gradient perturbed by 1 % in one element fails the check', () => {
  const rng = new Rng(9);
  const model = buildModel('transformer-lm', 'tiny', 3);
  const block = model.block('block.0');
  const x = randomTensor([2, 6, 32], rng);
  assert.deepEqual(checkBlock(block, x, new Rng(1)).bad, []);
  const { bad } = checkBlock(block, x, new Rng(1), { param: 2, factor: 1.01 });
  assert.equal(bad.length, 1, 'exactly the perturbed entry fails');
  model.dispose();
});
