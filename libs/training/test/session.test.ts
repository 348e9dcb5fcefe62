import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '@floe/ml-runtime';
import { Rng } from '@floe/random';
import { buildModel } from '@floe/models';
import { loadBuiltin, selectSplit, type ImageDataset, type TabularDataset, type TextDataset } from '@floe/data';
import {
  DEFAULT_OPTIMIZER,
  ExampleSource,
  LmSource,
  TrainingSession,
  builtinShape,
  learningRateAt,
  schemaOf,
} from '../src/index.js';
import { applyStrategy } from '../src/strategy.js';

before(async () => {
  await initBackend('wasm');
});

const opts = (totalSteps: number, lr = 3e-3) => ({
  optimizer: { ...DEFAULT_OPTIMIZER, learningRate: lr },
  schedule: { kind: 'constant' as const, warmupSteps: 0, minRatio: 1 },
  totalSteps,
});

test('frozen blocks get no gradients and do not change; counts follow the strategy', () => {
  const model = buildModel('transformer-lm', 'tiny', 1);
  model.setTrainable((b) => b.id === 'block.1' || b.id === 'head');
  const before = new Map(model.params().map((p) => [p.name, p.variable.dataSync().slice()]));
  const s = new TrainingSession(
    model,
    new LmSource(selectSplit(loadBuiltin('spam-assassin') as TextDataset, 'train', 200), 4, 32, 1),
    opts(3),
  );
  const m = s.trainStep();
  s.trainStep();
  assert.equal(m.blockGradNorms['embedding'], 0);
  assert.equal(m.blockGradNorms['block.0'], 0);
  assert.ok(m.blockGradNorms['block.1']! > 0);
  for (const b of model.blocks) {
    for (const p of b.params) {
      const same = tf.util.arraysEqual(before.get(p.name)!, p.variable.dataSync());
      assert.equal(same, !b.trainable, `${p.name} ${b.trainable ? 'should' : 'should not'} change`);
    }
  }
  assert.ok(model.countParams(true) < model.countParams());
  s.dispose();
  model.dispose();
});

test('an ADE plan without expansion sites adds no block and trains exactly the blocks it tunes', () => {
  const model = buildModel('transformer-lm', 'tiny', 1);
  const blocks = model.blocks.length;
  const added = applyStrategy(model, {
    kind: 'ade',
    freeze: ['embedding', 'block.0'],
    expandAfter: [],
    expandCount: 0,
    tune: ['block.1', 'head'],
  });
  assert.equal(added.length, 0);
  assert.equal(model.blocks.length, blocks);
  assert.deepEqual(
    model.blocks.filter((b) => b.trainable).map((b) => b.id),
    ['block.1', 'head'],
  );
  model.dispose();
});

test('LeNet-5 learns MNIST and the MLP learns iris (real data, loss falls)', () => {
  const mnist = loadBuiltin('mnist') as ImageDataset;
  const lenet = buildModel('lenet5', 'small', 2);
  const s = new TrainingSession(lenet, new ExampleSource(selectSplit(mnist, 'train'), 32, 2), opts(40, 2e-3));
  const first = s.trainStep().loss;
  let last = first;
  for (let i = 0; i < 39; i++) last = s.trainStep().loss;
  assert.ok(last < first * 0.6, `LeNet loss ${first} → ${last}`);
  const iris = loadBuiltin('iris') as TabularDataset;
  const mlp = buildModel('mlp', 'small', 2);
  const t = new TrainingSession(mlp, new ExampleSource(selectSplit(iris, 'train'), 32, 2), opts(150, 1e-2));
  const f = t.trainStep().loss;
  let l = f;
  for (let i = 0; i < 149; i++) l = t.trainStep().loss;
  assert.ok(l < 0.3, `MLP loss ${f} → ${l}`);
  [s, t].forEach((x) => x.dispose());
  [lenet, mlp].forEach((x) => x.dispose());
});

test('schedules: warm-up, then linear or cosine decay to the floor', () => {
  const s = { warmupSteps: 10, minRatio: 0.1 };
  assert.equal(learningRateAt(5, 1, 110, { ...s, kind: 'linear' }), 0.5);
  assert.equal(learningRateAt(10, 1, 110, { ...s, kind: 'cosine' }), 1);
  assert.ok(Math.abs(learningRateAt(110, 1, 110, { ...s, kind: 'cosine' }) - 0.1) < 1e-12);
  assert.ok(Math.abs(learningRateAt(60, 1, 110, { ...s, kind: 'linear' }) - 0.55) < 1e-12);
  assert.equal(learningRateAt(99, 1, 110, { ...s, kind: 'constant' }), 1);
});

/**
 * The test accuracy of a fresh MLP shaped by `train` (its overrides changed by `shape`), after `steps` steps at lr
 * 1e-3, batch 16; each missing value of the test rows enters as the model's fill for its column.
 */
function mlpAccuracy(
  train: TabularDataset,
  test: TabularDataset,
  seed: number,
  steps: number,
  shape: (overrides: Record<string, unknown>) => Record<string, unknown>,
): number {
  const model = buildModel('mlp', 'small', seed, shape(builtinShape('mlp', train).overrides));
  const session = new TrainingSession(
    model,
    new ExampleSource(train, 16, seed, { schema: schemaOf(model) }),
    opts(steps, 1e-3),
  );
  for (let i = 0; i < steps; i++) session.trainStep();
  const batch = new ExampleSource(test, test.rows, 0, { schema: schemaOf(model) }).next();
  const predicted = Array.from(tf.tidy(() => tf.argMax(model.forward(batch.x), 1).dataSync()));
  const truth = batch.y.dataSync();
  tf.dispose([batch.x, batch.y]);
  session.dispose();
  model.dispose();
  return predicted.filter((p, i) => p === truth[i]).length / truth.length;
}

test('an MLP shaped by its table standardises its inputs: on penguins (grams beside millimetres) it learns where raw inputs stall', () => {
  const penguins = loadBuiltin('penguins') as TabularDataset;
  const [train, test] = [selectSplit(penguins, 'train'), selectSplit(penguins, 'test')];
  const raw = mlpAccuracy(train, test, 3, 200, (o) => ({ ...o, inputShift: undefined, inputScale: undefined }));
  const standardised = mlpAccuracy(train, test, 3, 200, (o) => o);
  assert.ok(standardised >= 0.9, `standardised inputs: test accuracy ${standardised}`);
  assert.ok(standardised > raw + 0.1, `standardised ${standardised} against raw ${raw}`);
});

test('a categorical column of 20 values whose effects have no order: read one-hot the MLP learns it, read as its code it does not', () => {
  const r = new Rng(7);
  const K = 20;
  const effect = Array.from({ length: K }, () => (r.next() < 0.5 ? 1 : -1));
  const rows = 1200;
  const x = new Float32Array(rows * 2);
  const labels = new Int32Array(rows);
  for (let i = 0; i < rows; i++) {
    const city = Math.floor(r.next() * K);
    const v = r.normal();
    x.set([v, city], i * 2);
    labels[i] = effect[city]! + 0.5 * v + 0.3 * r.normal() > 0 ? 1 : 0;
  }
  const data: TabularDataset = {
    kind: 'tabular',
    name: 'cities',
    features: ['v', 'city'],
    x,
    rows,
    categories: { city: Array.from({ length: K }, (_, i) => `city ${i}`) },
    target: { type: 'class', labels, classes: ['no', 'yes'], name: 'label' },
  };
  const [train, test] = [selectSplit(data, 'train'), selectSplit(data, 'test')];
  const code = mlpAccuracy(train, test, 1, 300, (o) => ({ ...o, inputCategories: undefined }));
  const oneHot = mlpAccuracy(train, test, 1, 300, (o) => o);
  assert.ok(oneHot >= 0.9, `one-hot: test accuracy ${oneHot}`);
  assert.ok(oneHot > code + 0.2, `one-hot ${oneHot} against the code ${code}`);
});
