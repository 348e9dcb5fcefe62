// The fused native GELU kernel (registered by ml-runtime where the addon is built) against the composed
// ops on the cpu backend, on each instruction set's path (vector bodies and scalar tails): values and
// gradients, |native − cpu| ≤ 1e-5 · (1 + max|cpu|).
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { native } from '@floe/native';
import { initBackend } from '@floe/ml-runtime';
import { gelu } from '../src/layers.js';

const skip = native ? false : 'the native addon was not built (FLOE_NATIVE=0)';

before(async () => {
  if (native) await initBackend('native');
});

for (const isa of ['avx512', 'avx2', 'portable'] as const)
  test(`native GELU and its gradient match the composed ops (${isa})`, { skip }, async () => {
    const used = native!.forceIsa(isa);
    try {
      const x = Float32Array.from({ length: 7 * 333 }, (_, i) => Math.sin(i * 12.9898) * 6);
      const w = Float32Array.from({ length: 7 * 333 }, (_, i) => Math.cos(i * 78.233));
      const run = async (backend: string) => {
        await tf.setBackend(backend);
        return tf.tidy(() => {
          const xt = tf.tensor(x, [7, 333]);
          const wt = tf.tensor(w, [7, 333]);
          const g = tf.grad((z: tf.Tensor) => tf.sum(tf.mul(gelu(z), wt)))(xt);
          return [gelu(xt).dataSync().slice(), g.dataSync().slice()];
        });
      };
      const cpu = await run('cpu');
      assert.ok(!tf.getKernel('FloeGelu', 'cpu'), 'cpu runs the composed ops');
      const nat = await run('wasm');
      assert.ok(tf.getKernel('FloeGelu', 'wasm'), 'wasm runs the native kernel');
      cpu.forEach((c, o) => {
        let scale = 0;
        for (const v of c) scale = Math.max(scale, Math.abs(v));
        c.forEach((v, i) =>
          assert.ok(
            Math.abs(v - nat[o]![i]!) <= 1e-5 * (1 + scale),
            `${used} output ${o}[${i}]: ${v} vs ${nat[o]![i]}`,
          ),
        );
      });
    } finally {
      native!.forceIsa('avx512');
    }
  });
