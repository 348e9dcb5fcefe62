// Each kernel of the wasm pack against the cpu backend, on random inputs: values and gradients.
// Tolerance: |wasm − cpu| ≤ 1e-4 · (1 + max|cpu|) per output: float32 sums in a different order, whose
// rounding error scales with the size of the terms, not of the (possibly cancelling) result.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '@floe/random';
import { initBackend } from '../src/index.js';
import { randomValues, sameOnCpuAndWasm } from './compare.js';

const TOL = 1e-4;
const rng = new Rng(11);

before(async () => {
  await initBackend('wasm');
});

/** The same computation on cpu and on wasm (floe's pack), from the same random inputs. */
async function sameOnBoth(
  name: string,
  inputs: { shape: number[]; values?: Float32Array | Int32Array; dtype?: 'float32' | 'int32' }[],
  f: (...xs: tf.Tensor[]) => tf.Tensor | tf.Tensor[],
) {
  await sameOnCpuAndWasm(
    name,
    inputs.map((i) => ({ ...i, values: i.values ?? randomValues(rng, i.shape) })),
    f,
    TOL,
  );
  assert.equal(tf.getBackend(), 'wasm');
}

test('BatchMatMul: transposes, batches, broadcasting, odd sizes — values and gradients', async () => {
  const cases: [number[], number[], boolean, boolean][] = [
    [[7, 5], [5, 3], false, false],
    [[5, 7], [5, 3], true, false],
    [[7, 5], [3, 5], false, true],
    [[5, 7], [3, 5], true, true],
    [[4, 9, 6], [4, 6, 5], false, false],
    [[4, 6, 9], [4, 5, 6], true, true],
    [[2, 3, 9, 6], [6, 5], false, false],
    [[9, 6], [3, 6, 5], false, false],
    [[2, 3, 6, 9], [2, 3, 5, 6], true, true],
  ];
  for (const [sa, sb, ta, tb] of cases) {
    // tfjs's own BatchMatMul gradient rejects broadcast batch dims on every backend: values only there.
    const broadcast = sa.length !== sb.length;
    await sameOnBoth(`matMul ${sa}×${sb} ${ta} ${tb}`, [{ shape: sa }, { shape: sb }], (a, b) => {
      if (broadcast) return tf.matMul(a!, b!, ta, tb);
      const g = tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.square(tf.matMul(x, y, ta, tb))));
      return [tf.matMul(a!, b!, ta, tb), ...g([a!, b!])];
    });
  }
});

test('UnsortedSegmentSum, and the gradient of gather (embeddings)', async () => {
  const ids = Int32Array.from({ length: 37 }, () => rng.int(11));
  await sameOnBoth('unsortedSegmentSum', [{ shape: [37, 6] }, { shape: [37], values: ids, dtype: 'int32' }], (x, s) =>
    tf.unsortedSegmentSum(x!, s! as tf.Tensor1D, 11),
  );
  const idx = Int32Array.from({ length: 4 * 9 }, () => rng.int(13));
  await sameOnBoth(
    'gather grad',
    [{ shape: [13, 5] }, { shape: [4, 9], values: idx, dtype: 'int32' }, { shape: [4, 9, 5] }],
    (table, i, w) => tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.gather(t, i!), w!)))(table!),
  );
});

test('Conv2D backprops (filter and input): strides, padding, odd sizes', async () => {
  const cases: [number[], number[], number, 'valid' | 'same'][] = [
    [[2, 9, 9, 3], [5, 5, 3, 4], 1, 'valid'],
    [[3, 8, 7, 2], [3, 3, 2, 5], 2, 'same'],
    [[1, 11, 10, 1], [4, 2, 1, 3], 3, 'same'],
    [[4, 12, 12, 20], [5, 5, 20, 50], 1, 'valid'],
  ];
  for (const [xs, ws, stride, pad] of cases) {
    await sameOnBoth(`conv2d ${xs} ${ws} s${stride} ${pad}`, [{ shape: xs }, { shape: ws }], (x, w) => {
      const g = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
        tf.sum(tf.square(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, stride, pad))),
      );
      return g([x!, w!]);
    });
  }
});

test('depthwise conv2d backprops: channel multipliers, strides, padding', async () => {
  const cases: [number[], number[], number, 'valid' | 'same'][] = [
    [[2, 1, 9, 6], [1, 4, 6, 1], 1, 'valid'],
    [[2, 7, 8, 3], [3, 3, 3, 2], 2, 'same'],
  ];
  for (const [xs, ws, stride, pad] of cases) {
    await sameOnBoth(`depthwise ${xs} ${ws}`, [{ shape: xs }, { shape: ws }], (x, w) => {
      const g = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
        tf.sum(tf.square(tf.depthwiseConv2d(a as tf.Tensor4D, b as tf.Tensor4D, stride, pad))),
      );
      return g([x!, w!]);
    });
  }
});

test('a perturbed kernel would fail this comparison (the check can fail)', async () => {
  await assert.rejects(
    sameOnBoth('perturbed', [{ shape: [6, 5] }, { shape: [5, 4] }], (a, b) =>
      tf.getBackend() === 'wasm' ? tf.mul(tf.matMul(a!, b!), 1.001) : tf.matMul(a!, b!),
    ),
    /perturbed/,
  );
});
