// A FreezeNet model stored as seed + indices + trained values rebuilds with identical outputs, and its
// stored arrays are at least 50x smaller than the dense model's; a pruned one keeps its zeros.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '@floe/ml-runtime';
import {
  buildModel,
  compressionOf,
  decodeGaps,
  encodeGaps,
  rebuildSparse,
  sparseBytes,
  sparseState,
  type Batch,
} from '@floe/models';
import { rngFor } from '@floe/random';
import { globalMask, maskableParams, snipScores } from '../src/masks.js';
import { DEFAULT_OPTIMIZER, Optimizer } from '../src/optimizer.js';

await initBackend('auto');

function digitsBatch(seed: number): Batch {
  const rng = rngFor(seed, 'digits');
  return {
    x: tf.tensor4d(
      Float32Array.from({ length: 8 * 28 * 28 }, () => rng.next()),
      [8, 28, 28, 1],
    ),
    y: tf.tensor1d(
      Int32Array.from({ length: 8 }, () => rng.int(10)),
      'int32',
    ),
  };
}

for (const rest of ['frozen', 'pruned'] as const) {
  test(`LeNet-5 at 99 % ${rest}: rebuilt from seed + indices + values, identical outputs, ≥ 50x smaller`, () => {
    const model = buildModel('lenet5', 'caffe', 7);
    const batch = digitsBatch(1);
    const params = maskableParams(model);
    const mask = globalMask(snipScores(model, batch), 0.01);
    if (rest === 'pruned')
      for (const p of params) p.variable.assign(tf.mul(p.variable, tf.tensor(mask.get(p.name)!, p.variable.shape)));
    const optimizer = new Optimizer({ ...DEFAULT_OPTIMIZER, learningRate: 1e-2 });
    optimizer.setMasks(params, mask);
    const all = model.params();
    for (let step = 0; step < 3; step++) {
      const { value, grads } = tf.variableGrads(
        () => model.loss(batch),
        all.map((p) => p.variable),
      );
      optimizer.apply(all, new Map(all.map((p) => [p.name, grads[p.variable.name]!])), 1e-2);
      tf.dispose([value, ...Object.values(grads)]);
    }
    const state = sparseState(model, mask, rest);
    // Through a copy of every array, as an artifact round trip would.
    const copy = structuredClone(state);
    const rebuilt = rebuildSparse(copy);
    const probe = digitsBatch(2).x;
    const a = model.forward(probe).dataSync();
    const b = rebuilt.forward(probe).dataSync();
    assert.deepEqual(b, a, 'identical outputs');
    const denseBytes = model.countParams() * 4;
    const ratio = denseBytes / sparseBytes(state);
    assert.ok(ratio >= 50, `stored arrays ${sparseBytes(state)} bytes, dense ${denseBytes}: ${ratio.toFixed(1)}x`);
    // All parameters ÷ (the kept 1 % of the weights + the biases, stored whole).
    const kept = [...mask.values()].reduce((n, m) => n + m.reduce((a, b) => a + b, 0), 0);
    const whole = model
      .params()
      .filter((p) => !mask.has(p.name))
      .reduce((n, p) => n + p.variable.size, 0);
    assert.equal(compressionOf(state, model), model.countParams() / (kept + whole));
    assert.ok(compressionOf(state, model) > 80);
    optimizer.dispose();
    model.dispose();
    rebuilt.dispose();
  });
}

test('index gaps round-trip through LEB128 varints, large gaps included', () => {
  const indices = [0, 1, 2, 130, 131, 20_000, 2_000_000, 2_000_001];
  const bytes = encodeGaps(indices);
  assert.deepEqual(Array.from(decodeGaps(bytes, indices.length)), indices);
  assert.equal(encodeGaps([5, 6, 7]).length, 3, 'small gaps take a byte each');
  assert.throws(() => encodeGaps([3, 2]), /ascend/);
});
