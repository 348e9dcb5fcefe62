// The native causal conv1d and selective scan (libs/native scan.cc) against the TF.js compositions
// (pad + depthwiseConv2d; the step-by-step scan) on the cpu
// backend — values and the gradients of all five inputs — on odd shapes, one step and one batch row
// included; and its gradients against central finite differences of the native forward pass itself.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { native } from '@floe/native';
import { Rng } from '@floe/random';
import { initBackend, SELECTIVE_SCAN_KERNEL } from '@floe/ml-runtime';
import { causalConv1d, selectiveScan } from '../src/mamba.js';
import { assertFiniteDifferences, every } from './finite-differences.js';

const randomValues = (r: Rng, shape: number[]) =>
  Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => r.normal());

/** One computation on cpu and on wasm (native kernels) from the same inputs: |wasm − cpu| ≤ tol·(1 + max|cpu|). */
async function sameOnCpuAndWasm(
  name: string,
  inputs: { shape: number[]; values: Float32Array }[],
  f: (...xs: tf.Tensor[]) => tf.Tensor[],
  tol: number,
) {
  const run = async (backend: string) => {
    await tf.setBackend(backend);
    return tf.tidy(() => f(...inputs.map((i) => tf.tensor(i.values, i.shape))).map((t) => t.dataSync().slice()));
  };
  const cpu = await run('cpu');
  const wasm = await run('wasm');
  cpu.forEach((a, o) => {
    const b = wasm[o]!;
    assert.equal(b.length, a.length, `${name}: output ${o} size`);
    let scale = 0;
    for (const v of a) scale = Math.max(scale, Math.abs(v));
    for (let i = 0; i < a.length; i++)
      assert.ok(Math.abs(a[i]! - b[i]!) <= tol * (1 + scale), `${name}: output ${o}[${i}] cpu ${a[i]} wasm ${b[i]}`);
  });
}

const skip = native ? false : 'the native addon was not built (FLOE_NATIVE=0)';
const rng = new Rng(33);

before(async () => {
  if (native) await initBackend('native');
});

/** Inputs as a Mamba layer makes them: Δ = softplus(·) > 0, A = −exp(·) < 0. */
function scanInputs(b: number, t: number, d: number, n: number) {
  return [
    [b, t, d],
    [b, t, d],
    [d, n],
    [b, t, n],
    [b, t, n],
    [b, t, d],
  ].map((shape) => ({ shape, values: randomValues(rng, shape) }));
}

const prepare = (rawDelta: tf.Tensor, rawA: tf.Tensor) => ({
  delta: tf.softplus(rawDelta),
  a: tf.neg(tf.exp(tf.mul(rawA, 0.5))),
});

for (const [b, t, d, n] of [
  [1, 2, 1, 1],
  [2, 7, 5, 3],
  [3, 17, 33, 16],
  [1, 64, 8, 17],
]) {
  test(
    `native selective scan ${b}×${t}×${d}, N = ${n}: values and all five gradients match the step-by-step scan`,
    { skip },
    async () => {
      await sameOnCpuAndWasm(
        `scan ${[b, t, d, n]}`,
        scanInputs(b!, t!, d!, n!),
        (u, rawDelta, rawA, bm, cm, w) => {
          // On cpu the kernel is not registered: selectiveScan runs the steps there.
          assert.equal(!!tf.getKernel(SELECTIVE_SCAN_KERNEL, tf.getBackend()), tf.getBackend() === 'wasm');
          const { delta, a } = prepare(rawDelta!, rawA!);
          const loss = (...xs: tf.Tensor[]) =>
            tf.sum(tf.mul(selectiveScan(xs[0]!, xs[1]!, xs[2]!, xs[3]!, xs[4]!), w!));
          return [selectiveScan(u!, delta, a, bm!, cm!), ...tf.grads(loss)([u!, delta, a, bm!, cm!])];
        },
        1e-4,
      );
    },
  );
}

test(
  'native selective scan: gradients match central finite differences of its own forward pass',
  { skip },
  async () => {
    await tf.setBackend('wasm');
    const [b, t, d, n] = [2, 9, 4, 3];
    const inputs = scanInputs(b, t, d, n).map((i) => tf.tensor(i.values, i.shape));
    const [u, rawDelta, rawA, bm, cm, w] = inputs as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
    const { delta, a } = prepare(rawDelta, rawA);
    const loss = (xs: tf.Tensor[]) => tf.sum(tf.mul(selectiveScan(xs[0]!, xs[1]!, xs[2]!, xs[3]!, xs[4]!), w));
    assertFiniteDifferences('scan', loss, [u, delta, a, bm, cm], {
      indices: (length) => [0, Math.floor(length / 2), length - 1],
      tolerance: (g) => 2e-2 * (1 + Math.abs(g)),
    });
    tf.dispose([...inputs, delta, a]);
  },
);

test('native selective scan refuses arrays shorter than the shapes it is given', { skip }, () => {
  const f = (k: number) => new Float32Array(k);
  assert.throws(
    () => native!.selectiveScan(f(6), f(6), f(6), f(6), f(6), f(6), [1, 2, 3, 4]),
    /shorter than its shape/,
  );
  assert.throws(() => native!.selectiveScan(f(1), f(1), f(1), f(1), f(1), f(1), [0, 1, 1, 1]), /at least 1/);
});

for (const [b, t, d, k] of [
  [1, 1, 1, 1],
  [2, 7, 5, 4],
  [3, 3, 9, 4],
  [2, 33, 16, 3],
])
  test(
    `native causal conv1d ${b}×${t}×${d}, K = ${k}: values and gradients match pad + depthwiseConv2d`,
    { skip },
    async () => {
      const inputs = [[b!, t!, d!], [1, k!, d!, 1], [d!], [b!, t!, d!]].map((shape) => ({
        shape,
        values: randomValues(rng, shape),
      }));
      await sameOnCpuAndWasm(
        `conv1d ${[b, t, d, k]}`,
        inputs,
        (x, w, bias, weights) => {
          const loss = (...xs: tf.Tensor[]) => tf.sum(tf.mul(causalConv1d(xs[0]!, xs[1]!, xs[2]!), weights!));
          return [causalConv1d(x!, w!, bias!), ...tf.grads(loss)([x!, w!, bias!])];
        },
        1e-5,
      );
    },
  );

test('native causal conv1d: gradients match central finite differences', { skip }, async () => {
  await tf.setBackend('wasm');
  const shapes = [[2, 6, 3], [1, 4, 3, 1], [3]];
  const args = shapes.map((shape) => tf.tensor(randomValues(rng, shape), shape));
  const weights = tf.tensor(randomValues(rng, [2, 6, 3]), [2, 6, 3]);
  const loss = (xs: tf.Tensor[]) => tf.sum(tf.mul(tf.square(causalConv1d(xs[0]!, xs[1]!, xs[2]!)), weights));
  assertFiniteDifferences('conv1d', loss, args, { indices: every(2), tolerance: (g) => 1e-2 * (1 + Math.abs(g)) });
  tf.dispose([...args, weights]);
});
