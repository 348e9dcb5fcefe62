import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '@floe/ml-runtime';
import {
  buildModel,
  deserializeModel,
  disposeCapture,
  initialValues,
  newCapture,
  selectiveScan,
  serializeModel,
} from '../src/index.js';

before(async () => {
  await initBackend('wasm');
});

const tokens = (b: number, t: number, seed = 1) =>
  tf.tensor2d(
    Int32Array.from({ length: b * t }, (_, i) => (i * 37 + seed * 11) % 256),
    [b, t],
    'int32',
  );

function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]!);
}

for (const arch of ['transformer-lm', 'mamba-lm'] as const) {
  test(`${arch}: expansion after any block preserves the function (1e-6)`, () => {
    const model = buildModel(arch, 'tiny', 7);
    // Make the copied blocks non-trivial: perturb every parameter away from its init.
    for (const p of model.params())
      p.variable.assign(tf.add(p.variable, tf.mul(tf.randomNormal(p.variable.shape, 0, 1, 'float32', 3), 0.05)));
    const x = tokens(2, 16);
    const before = model.forward(x);
    model.expandAfter('block.0');
    model.expandAfter('block.1');
    model.expandAfter('block.0');
    assert.deepEqual(
      model.blocks.map((b) => b.id),
      ['embedding', 'block.0', 'block.0.exp2', 'block.0.exp1', 'block.1', 'block.1.exp1', 'head'],
    );
    const after = model.forward(x);
    assert.ok(maxAbsDiff(before, after) <= 1e-6, `max diff ${maxAbsDiff(before, after)}`);
    assert.throws(() => model.expandAfter('embedding'), /cannot be expanded/);
    const even = buildModel(arch, 'small', 7);
    assert.deepEqual(
      even.expandEvenly(2).map((b) => b.id),
      ['block.1.exp1', 'block.3.exp1'],
    );
    model.dispose();
    even.dispose();
  });
}

test('seeded initialisation: identical across builds and backends, regenerable from (seed, name)', async () => {
  const a = buildModel('transformer-lm', 'tiny', 42);
  await tf.setBackend('cpu');
  const b = buildModel('transformer-lm', 'tiny', 42);
  await tf.setBackend('wasm');
  const c = buildModel('transformer-lm', 'tiny', 43);
  for (const [i, p] of a.params().entries()) {
    const q = b.params()[i]!;
    assert.deepEqual(p.variable.dataSync(), q.variable.dataSync(), p.name);
    assert.deepEqual(
      p.variable.dataSync(),
      initialValues(42, p.name, p.variable.shape, p.init),
      `${p.name} regenerates`,
    );
  }
  assert.notDeepEqual(a.params()[0]!.variable.dataSync(), c.params()[0]!.variable.dataSync());
  [a, b, c].forEach((m) => m.dispose());
});

test('freezing: frozen blocks drop out of the trainable set and the parameter counts', () => {
  const model = buildModel('transformer-lm', 'tiny', 1);
  const total = model.countParams();
  model.setTrainable((b) => b.id === 'block.1');
  assert.equal(
    model.countParams(true),
    model.block('block.1').params.reduce((n, p) => n + p.variable.size, 0),
  );
  assert.equal(model.countParams(), total);
  model.dispose();
});

test('serialisation round trip keeps outputs, expansions and frozen blocks', () => {
  const model = buildModel('mamba-lm', 'tiny', 5);
  model.expandAfter('block.1');
  model.setTrainable((b) => b.id.includes('exp'));
  const x = tokens(2, 12);
  const y = model.forward(x);
  const state = serializeModel(model);
  const back = deserializeModel(
    JSON.parse(
      JSON.stringify(state, (_k, v) => (v instanceof Float32Array ? Array.from(v) : v)),
      (_k, v) => v,
    ) as never,
  );
  // JSON loses Float32Array; the loader takes arrays of numbers too.
  assert.equal(maxAbsDiff(y, back.forward(x)), 0);
  assert.deepEqual(
    back.blocks.filter((b) => b.trainable).map((b) => b.id),
    ['block.1.exp1'],
  );
  model.dispose();
  back.dispose();
});

test('hooks capture block inputs/outputs and Mamba Δ, A, B, C; α·x reproduces the scan', () => {
  const model = buildModel('mamba-lm', 'tiny', 2);
  const capture = newCapture();
  model.forward(tokens(1, 10), { training: false, capture });
  assert.deepEqual([...capture.blocks.keys()], ['embedding', 'block.0', 'block.1', 'head']);
  const s = capture.ssm.get('block.0')!;
  const [, t, di] = s.delta.shape as number[];
  // Hidden attention (docs/ALGORITHMS.md §6): y_i = Σ_j α_ij x_j with α_ij = Σ_n C_i[n] exp(A_n Σ_{k=j+1..i} Δ_k) Δ_j B_j[n].
  const delta = s.delta.arraySync() as number[][][];
  const A = s.A.arraySync() as number[][];
  const B = s.B.arraySync() as number[][][];
  const C = s.C.arraySync() as number[][][];
  const x = s.x.arraySync() as number[][][];
  const y = s.y.arraySync() as number[][][];
  let worst = 0;
  for (const d of [0, 5, di! - 1]) {
    for (let i = 0; i < t!; i++) {
      let acc = 0;
      for (let j = 0; j <= i; j++) {
        let between = 0;
        for (let k = j + 1; k <= i; k++) between += delta[0]![k]![d]!;
        let alpha = 0;
        for (let n = 0; n < A[d]!.length; n++)
          alpha += C[0]![i]![n]! * Math.exp(A[d]![n]! * between) * delta[0]![j]![d]! * B[0]![j]![n]!;
        acc += alpha * x[0]![j]![d]!;
      }
      worst = Math.max(worst, Math.abs(acc - y[0]![i]![d]!));
    }
  }
  assert.ok(worst < 1e-5, `α·x differs from the scan by ${worst}`);
  assert.ok(selectiveScan);
  disposeCapture(capture);
  model.dispose();
});

test('closed-form gradients of GELU and softmax cross-entropy equal autodiff of their definitions', async () => {
  const { gelu, crossEntropy } = await import('../src/layers.js');
  const x = tf.randomNormal([6, 7], 0, 2, 'float32', 4);
  const naiveGelu = (z: tf.Tensor) => tf.mul(tf.mul(z, 0.5), tf.add(tf.erf(tf.mul(z, Math.SQRT1_2)), 1));
  const g1 = tf.grad((z: tf.Tensor) => tf.sum(tf.mul(gelu(z), tf.range(0, 42).reshape([6, 7]))))(x);
  const g2 = tf.grad((z: tf.Tensor) => tf.sum(tf.mul(naiveGelu(z), tf.range(0, 42).reshape([6, 7]))))(x);
  assert.ok(maxAbsDiff(g1, g2) < 1e-4, `gelu grad differs by ${maxAbsDiff(g1, g2)}`);
  assert.ok(maxAbsDiff(gelu(x), naiveGelu(x)) < 1e-6);
  const logits = tf.randomNormal([5, 11], 0, 3, 'float32', 5);
  const targets = tf.tensor1d([0, 3, 10, 7, 7], 'int32');
  const naiveCe = (l: tf.Tensor) => tf.neg(tf.mean(tf.sum(tf.mul(tf.oneHot(targets, 11), tf.logSoftmax(l)), -1)));
  assert.ok(Math.abs(crossEntropy(logits, targets).dataSync()[0]! - naiveCe(logits).dataSync()[0]!) < 1e-5);
  const c1 = tf.grad((l: tf.Tensor) => crossEntropy(l, targets))(logits);
  const c2 = tf.grad((l: tf.Tensor) => naiveCe(l))(logits);
  assert.ok(maxAbsDiff(c1, c2) < 1e-6, `cross-entropy grad differs by ${maxAbsDiff(c1, c2)}`);
});

test('LeNet reads any image of at least 16 pixels a side: rectangular, odd and colour inputs', () => {
  // 24 → conv 20 → pool 10 → conv 6 → pool 3; 31 → 27 → 13 → 9 → 4 (pools floor, as TF's valid pooling does).
  for (const [h, w, c, side] of [
    [24, 31, 3, [3, 4]],
    [16, 16, 1, [1, 1]],
    [28, 28, 1, [4, 4]],
  ] as const) {
    const model = buildModel('lenet5', 'small', 1, { inputSize: h, inputWidth: w, inChannels: c, classes: 5 });
    const fc1 = model.params().find((p) => p.name === 'fc1.w')!;
    assert.deepEqual(fc1.variable.shape, [side[0] * side[1] * 16, 120], `${h}×${w}×${c}`);
    const logits = model.forward(tf.zeros([2, h, w, c]));
    assert.deepEqual(logits.shape, [2, 5]);
    tf.dispose(logits);
  }
});

test("an MLP's input and output standardisation: f_μσ(x) = σ_y·f((x − μ)/σ) + μ_y, kept by serialisation", () => {
  const [inputShift, inputScale] = [
    [1000, -2, 0.5],
    [250, 4, 1],
  ];
  const [outputShift, outputScale] = [
    [11, -3],
    [5.5, 0.25],
  ];
  const shape = { inputs: 3, outputs: 2 };
  const plain = buildModel('mlp', 'small', 4, shape, 'regression');
  const standardised = buildModel(
    'mlp',
    'small',
    4,
    { ...shape, inputShift, inputScale, outputShift, outputScale },
    'regression',
  );
  const x = tf.tensor2d([1200, 2, 0.5, 700, -10, 3, 1000, -2, 0.5], [3, 3]);
  const expected = tf.tidy(() =>
    tf.add(
      tf.mul(plain.forward(tf.div(tf.sub(x, tf.tensor1d(inputShift)), tf.tensor1d(inputScale))), outputScale),
      outputShift,
    ),
  );
  assert.ok(maxAbsDiff(standardised.forward(x), expected) < 1e-4);
  const restored = deserializeModel(serializeModel(standardised));
  assert.ok(maxAbsDiff(restored.forward(x), expected) < 1e-4, 'the checkpoint keeps the standardisation');
  [plain, standardised, restored].forEach((m) => m.dispose());
  tf.dispose([x, expected]);
});

test('an MLP reads a categorical input one-hot through hat functions: exact at whole codes, none outside, linear between', () => {
  // Inputs: a number, a column of 3 categories, a number.
  const [inputShift, inputScale] = [
    [10, 0, -1],
    [2, 1, 4],
  ];
  const encoded = buildModel('mlp', 'small', 6, {
    inputs: 3,
    outputs: 2,
    inputShift,
    inputScale,
    inputCategories: [0, 3, 0],
  });
  // The same first-layer weights read [(x0 − 10)/2, (x2 + 1)/4, one-hot of x1] from a plain 5-input MLP.
  const plain = buildModel('mlp', 'small', 6, { inputs: 5, outputs: 2 });
  const rows = [
    [12, 0, 3],
    [8, 2, -5],
    [10, 1, -1],
    [11, -1, 0], // no category (missing or unknown)
    [9, 0.5, 1], // half of 0 and half of 1
  ];
  const hats = (c: number) => [0, 1, 2].map((k) => Math.max(0, 1 - Math.abs(c - k)));
  const x = tf.tensor2d(rows);
  const byHand = tf.tensor2d(rows.map(([a, c, b]) => [(a! - 10) / 2, (b! + 1) / 4, ...hats(c!)]));
  assert.deepEqual(hats(0.5), [0.5, 0.5, 0]);
  assert.ok(maxAbsDiff(encoded.forward(x), plain.forward(byHand)) < 1e-5);
  const restored = deserializeModel(serializeModel(encoded));
  assert.ok(maxAbsDiff(restored.forward(x), plain.forward(byHand)) < 1e-5, 'the checkpoint keeps the encoding');
  [encoded, plain, restored].forEach((m) => m.dispose());
  tf.dispose([x, byHand]);
});
