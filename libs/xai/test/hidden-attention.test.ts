// The hidden attention of floe's Mamba layer: α·x rebuilds the selective scan's output (captured from the
// real layer) to 1e-4, the tiled computation matches the definition, and maps are causal.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { buildModel, disposeCapture, newCapture } from '@floe/models';
import { rngFor } from '@floe/random';
import { initBackend } from '@floe/ml-runtime';
import {
  channelAttention,
  layerAttention,
  mambaOutputGradients,
  reconstructScan,
  rollout,
  scanLayers,
  type ScanLayer,
} from '../src/index.js';

await initBackend('auto');

function randomBytes(n: number, seed: number): Uint8Array {
  const rng = rngFor(seed, 'bytes');
  return Uint8Array.from({ length: n }, () => rng.int(256));
}

/** α by the definition: products of exp(Δ_k A) over k = j+1..i. */
function naiveAlpha(l: ScanLayer, c: number, i: number, j: number): number {
  let total = 0;
  for (let n = 0; n < l.state; n++) {
    let prod = 1;
    for (let k = j + 1; k <= i; k++) prod *= Math.exp(l.delta[k * l.channels + c]! * l.A[c * l.state + n]!);
    total += l.C[i * l.state + n]! * prod * l.delta[j * l.channels + c]! * l.B[j * l.state + n]!;
  }
  return total;
}

test("α·x reproduces the real Mamba layer's scan output to 1e-4 (tiles across a 100-byte input)", () => {
  const model = buildModel('mamba-lm', 'tiny', 7);
  const layers = scanLayers(model, randomBytes(100, 1));
  assert.equal(layers.length, 2);
  for (const { block, layer } of layers) {
    const rebuilt = reconstructScan(layer);
    let worst = 0;
    for (let k = 0; k < rebuilt.length; k++) worst = Math.max(worst, Math.abs(rebuilt[k]! - layer.y![k]!));
    assert.ok(worst < 1e-4, `${block}: largest |α·x − y| ${worst}`);
  }
  model.dispose();
});

test('the tiled α equals the definition, and nothing attends to the future', () => {
  const model = buildModel('mamba-lm', 'tiny', 8);
  const [{ layer }] = scanLayers(model, randomBytes(70, 2));
  const t = layer.steps;
  for (const c of [0, 17, layer.channels - 1]) {
    const alpha = channelAttention(layer, c);
    for (const [i, j] of [
      [0, 0],
      [40, 3],
      [69, 35],
      [69, 69],
      [33, 31],
    ] as const) {
      const want = naiveAlpha(layer, c, i, j);
      assert.ok(Math.abs(alpha[i * t + j]! - want) <= 1e-5 * Math.max(1, Math.abs(want)), `α_${c}[${i},${j}]`);
    }
    for (let i = 0; i < t; i++) for (let j = i + 1; j < t; j++) assert.equal(alpha[i * t + j], 0);
  }
  const { map, reconstructionError } = layerAttention(layer, { selfCheck: true });
  assert.ok(reconstructionError! < 1e-4, `self-check ${reconstructionError}`);
  for (const v of map) assert.ok(v >= 0 && v <= 1 + 1e-6);
  const rolled = rollout([map, map], t);
  for (let i = 0; i < t; i++) {
    let s = 0;
    for (let j = 0; j < t; j++) s += rolled[i * t + j]!;
    assert.ok(Math.abs(s - 1) < 1e-4, `rollout row ${i} sums to ${s}`);
  }
  model.dispose();
});

test("Mamba-Attr's gradients match finite differences of log p(target) through the later blocks", () => {
  const model = buildModel('mamba-lm', 'tiny', 9);
  const bytes = randomBytes(12, 4);
  const grads = mambaOutputGradients(model, bytes);
  assert.deepEqual(
    grads.map((g) => g.block),
    ['block.0', 'block.1'],
  );
  const capture = newCapture();
  tf.tidy(() => {
    model.forward(tf.tensor2d(Int32Array.from(bytes), [1, 12], 'int32'), { training: false, capture });
  });
  const d = 32;
  for (const [b, { block, gradient, target }] of grads.entries()) {
    const h = capture.blocks.get(block)!.output;
    const base = Float32Array.from(h.dataSync());
    const f = (values: Float32Array) =>
      tf.tidy(() => {
        let y: tf.Tensor = tf.tensor(values, h.shape);
        for (const r of model.blocks.slice(b + 2)) y = r.forward(y, { training: false });
        return tf.logSoftmax(tf.reshape(y.slice([0, 11, 0], [1, 1, -1]), [1, -1])).dataSync()[target]!;
      });
    for (const k of [5, 11 * d + 3, 7 * d + 30]) {
      const eps = 3e-3;
      const plus = Float32Array.from(base);
      const minus = Float32Array.from(base);
      plus[k]! += eps;
      minus[k]! -= eps;
      const fd = (f(plus) - f(minus)) / (2 * eps);
      assert.ok(
        Math.abs(fd - gradient[k]!) < 2e-3 + 0.02 * Math.abs(fd),
        `${block}[${k}]: autodiff ${gradient[k]} vs ${fd}`,
      );
    }
  }
  disposeCapture(capture);
  model.dispose();
});
