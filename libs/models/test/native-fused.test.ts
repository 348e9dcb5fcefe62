// The fused native norms, attention's causal softmax and cross-entropy (registered by ml-runtime where the addon is built) against the tfjs-core
// compositions on the cpu backend — values and the gradients of x, gain and bias — and against central
// finite differences of the fused forward pass itself.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { native } from '@floe/native';
import { Rng } from '@floe/random';
import { initBackend, CAUSAL_SOFTMAX_KERNEL, CROSS_ENTROPY_KERNEL, NORM_KERNEL } from '@floe/ml-runtime';
import { causalSoftmax, crossEntropy, layerNorm, rmsNorm } from '../src/layers.js';
import { assertFiniteDifferences, every } from './finite-differences.js';

const skip = native ? false : 'the native addon was not built (FLOE_NATIVE=0)';
const rng = new Rng(44);
const random = (n: number, offset = 0) => Float32Array.from({ length: n }, () => offset + rng.normal());

before(async () => {
  if (native) await initBackend('native');
});

type Norm = (x: tf.Tensor, gain: tf.Tensor, bias: tf.Tensor) => tf.Tensor;
const NORMS: [string, Norm, number][] = [
  ['LayerNorm', (x, g, b) => layerNorm(x, g, b), 3],
  ['RMSNorm', (x, g) => rmsNorm(x, g), 2],
];

for (const [name, norm, inputs] of NORMS)
  for (const shape of [
    [1, 1],
    [3, 5],
    [2, 7, 33],
    [4, 16, 256],
  ]) {
    test(`fused ${name} ${shape}: values and gradients match the composed ops`, { skip }, async () => {
      const d = shape.at(-1)!;
      const n = shape.reduce((a, b) => a * b, 1);
      // Rows with a large offset: the variance must not lose precision to the mean.
      const x = random(n, 3);
      const gain = random(d, 1);
      const bias = random(d);
      const w = random(n);
      const run = async (backend: string) => {
        await tf.setBackend(backend);
        assert.equal(!!tf.getKernel(NORM_KERNEL, backend), backend === 'wasm');
        return tf.tidy(() => {
          const xs = [tf.tensor(x, shape), tf.tensor(gain, [d]), tf.tensor(bias, [d])];
          const loss = (...a: tf.Tensor[]) => tf.sum(tf.mul(norm(a[0]!, a[1]!, a[2]!), tf.tensor(w, shape)));
          const grads = tf.grads(loss)(xs.slice(0, inputs));
          return [norm(xs[0]!, xs[1]!, xs[2]!), ...grads].map((t) => t.dataSync().slice());
        });
      };
      const cpu = await run('cpu');
      const fused = await run('wasm');
      cpu.forEach((a, o) => {
        let scale = 0;
        for (const v of a) scale = Math.max(scale, Math.abs(v));
        for (let i = 0; i < a.length; i++)
          assert.ok(
            Math.abs(a[i]! - fused[o]![i]!) <= 2e-5 * (1 + scale),
            `output ${o}[${i}]: ${a[i]} vs ${fused[o]![i]}`,
          );
      });
    });
  }

test('fused norms: gradients match central finite differences of the fused forward pass', { skip }, async () => {
  await tf.setBackend('wasm');
  for (const [name, norm, inputs] of NORMS) {
    const shape = [3, 6];
    const args = [tf.tensor(random(18), shape), tf.tensor(random(6, 1), [6]), tf.tensor(random(6), [6])];
    const w = tf.tensor(random(18), shape);
    const loss = (xs: tf.Tensor[]) => tf.sum(tf.mul(norm(xs[0]!, xs[1]!, xs[2]!), w));
    assertFiniteDifferences(name, loss, args, {
      inputs,
      indices: every(5),
      tolerance: (g) => 1e-2 * (1 + Math.abs(g)),
    });
    tf.dispose([...args, w]);
  }
});

test('fused cross-entropy: loss and gradient match the composed ops, and finite differences', { skip }, async () => {
  for (const [rows, v] of [
    [1, 2],
    [3, 7],
    [2 * 64, 256],
  ] as [number, number][]) {
    // Logits with a large spread: the log-sum-exp must stay finite and exact.
    const logits = random(rows * v).map((x) => 8 * x);
    const targets = Int32Array.from({ length: rows }, (_, i) => (i * 37) % v);
    const run = async (backend: string) => {
      await tf.setBackend(backend);
      assert.equal(!!tf.getKernel(CROSS_ENTROPY_KERNEL, backend), backend === 'wasm');
      return tf.tidy(() => {
        const x = tf.tensor(logits, [rows, v]);
        const t = tf.tensor(targets, [rows], 'int32');
        const g = tf.grad((z: tf.Tensor) => tf.mul(crossEntropy(z, t), 3))(x);
        return [crossEntropy(x, t).dataSync().slice(), g.dataSync().slice()];
      });
    };
    const cpu = await run('cpu');
    const fused = await run('wasm');
    assert.ok(
      Math.abs(cpu[0]![0]! - fused[0]![0]!) <= 1e-5 * (1 + Math.abs(cpu[0]![0]!)),
      `loss ${cpu[0]} vs ${fused[0]}`,
    );
    for (let i = 0; i < cpu[1]!.length; i++) assert.ok(Math.abs(cpu[1]![i]! - fused[1]![i]!) <= 1e-6, `grad [${i}]`);
  }
  await tf.setBackend('wasm');
  const x = random(4 * 5);
  const t = tf.tensor([0, 4, 2, 2], [4], 'int32');
  const logits = tf.tensor(x, [4, 5]);
  assertFiniteDifferences('cross-entropy', (xs) => crossEntropy(xs[0]!, t), [logits], {
    indices: every(1),
    tolerance: () => 1e-3,
  });
  logits.dispose();
  t.dispose();
});

test('fused causal softmax: values and gradient match mask + softmax, and finite differences', { skip }, async () => {
  for (const shape of [
    [1, 1],
    [2, 3, 5, 5],
    [16, 4, 32, 32],
  ]) {
    const n = shape.reduce((a, b) => a * b, 1);
    const x = random(n).map((v) => 4 * v);
    const w = random(n);
    const run = async (backend: string) => {
      await tf.setBackend(backend);
      assert.equal(!!tf.getKernel(CAUSAL_SOFTMAX_KERNEL, backend), backend === 'wasm');
      return tf.tidy(() => {
        const xt = tf.tensor(x, shape);
        const wt = tf.tensor(w, shape);
        const g = tf.grad((z: tf.Tensor) => tf.sum(tf.mul(causalSoftmax(z, 0.35), wt)))(xt);
        return [causalSoftmax(xt, 0.35).dataSync().slice(), g.dataSync().slice()];
      });
    };
    const cpu = await run('cpu');
    const fused = await run('wasm');
    for (let o = 0; o < 2; o++)
      for (let i = 0; i < n; i++)
        assert.ok(
          Math.abs(cpu[o]![i]! - fused[o]![i]!) <= 1e-6,
          `${shape} output ${o}[${i}]: ${cpu[o]![i]} vs ${fused[o]![i]}`,
        );
  }
  await tf.setBackend('wasm');
  const x = random(2 * 4 * 4);
  const w = tf.tensor(random(32), [2, 4, 4]);
  const scores = tf.tensor(x, [2, 4, 4]);
  assertFiniteDifferences('causal softmax', (xs) => tf.sum(tf.mul(causalSoftmax(xs[0]!, 0.7), w)), [scores], {
    indices: every(1),
    tolerance: () => 1e-3,
  });
  scores.dispose();
  w.dispose();
});
