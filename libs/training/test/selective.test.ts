// Selective training in a session: masked entries stay put through training (frozen at θ0, pruned at
// zero), RigL keeps each layer's density, BCD updates one block a step and starves none, every strategy
// resumes from a checkpoint on the same curve, and a sparse artifact rebuilds the model exactly.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '@floe/ml-runtime';
import { buildModel, initialValues, sparseBytes, sparseState, type BlockModel } from '@floe/models';
import { loadBuiltin, selectSplit, type ImageDataset } from '@floe/data';
import { LocalArtifactStore } from '@floe/store';
import { tempDir } from '@floe/testing';
import {
  BlockCoordinateTraining,
  DEFAULT_OPTIMIZER,
  ExampleSource,
  MaskedTraining,
  TrainingSession,
  loadCheckpoint,
  loadModelArtifact,
  maskableParams,
  restoreSelective,
  saveCheckpoint,
  saveSparseModel,
  type BcdOptions,
  type MaskedTrainingOptions,
} from '../src/index.js';

before(async () => {
  await initBackend('wasm');
});

const mnist = () => selectSplit(loadBuiltin('mnist') as ImageDataset, 'train', 512);
const options = (totalSteps: number) => ({
  // Weight decay on: masked entries must not decay either.
  optimizer: { ...DEFAULT_OPTIMIZER, learningRate: 2e-3, weightDecay: 0.1 },
  schedule: { kind: 'constant' as const, warmupSteps: 0, minRatio: 1 },
  totalSteps,
});

type Selective = { masked: MaskedTrainingOptions } | { bcd: BcdOptions };

function session(model: BlockModel, how: Selective, steps: number): TrainingSession {
  const s = new TrainingSession(model, new ExampleSource(mnist(), 32, 4), options(steps));
  if ('masked' in how) {
    const batch = new ExampleSource(mnist(), 64, 5).next();
    s.selective = MaskedTraining.create(model, s.optimizer, how.masked, batch);
    tf.dispose([batch.x, batch.y]);
  } else s.selective = new BlockCoordinateTraining(model, s.optimizer, how.bcd, 3);
  return s;
}

const freezeNet: MaskedTrainingOptions = { rest: 'frozen', method: 'snip', keep: 0.05, scope: 'all' };

test('FreezeNet: frozen entries keep θ0 from the seed, trained entries move, counts follow the mask', () => {
  const model = buildModel('lenet5', 'small', 11);
  const s = session(model, { masked: freezeNet }, 4);
  for (let i = 0; i < 4; i++) s.trainStep();
  const masks = (s.selective as MaskedTraining).masks;
  let moved = 0;
  // FreezeNet masks every parameter, biases included.
  assert.equal(masks.size, model.params().length);
  for (const p of model.params()) {
    const theta0 = initialValues(11, p.name, p.variable.shape, p.init);
    const now = p.variable.dataSync();
    masks.get(p.name)!.forEach((m, k) => {
      if (m) moved += now[k] !== theta0[k] ? 1 : 0;
      else assert.equal(now[k], theta0[k], `${p.name}[${k}] is frozen`);
    });
  }
  const kept = [...masks.values()].reduce((n, m) => n + m.reduce((a, b) => a + b, 0), 0);
  assert.equal(kept, Math.floor(0.05 * model.countParams()));
  assert.ok(moved > 0.9 * kept, `${moved} of ${kept} trained entries moved`);
  assert.equal(s.selective!.trainableEntries(), kept);
  s.dispose();
  model.dispose();
});

test('pruning at initialisation: pruned entries are zero before and after training', () => {
  for (const method of ['snip', 'grasp', 'synflow', 'magnitude'] as const) {
    const model = buildModel('lenet5', 'small', 12);
    const s = session(model, { masked: { rest: 'pruned', method, keep: 0.2 } }, 3);
    for (let i = 0; i < 3; i++) s.trainStep();
    const masks = (s.selective as MaskedTraining).masks;
    for (const p of maskableParams(model)) {
      const now = p.variable.dataSync();
      masks.get(p.name)!.forEach((m, k) => {
        if (!m) assert.equal(now[k], 0, `${method}: ${p.name}[${k}] is pruned`);
      });
    }
    s.dispose();
    model.dispose();
  }
});

test('RigL changes the mask on its schedule and keeps each layer density; inactive weights are zero', () => {
  const model = buildModel('lenet5', 'small', 13);
  const s = session(
    model,
    { masked: { rest: 'pruned', method: 'magnitude', keep: 0.2, rigl: { every: 2, end: 6, alpha: 0.3 } } },
    6,
  );
  const masks = (s.selective as MaskedTraining).masks;
  const density = (name: string) => masks.get(name)!.reduce((a, b) => a + b, 0);
  const before = new Map([...masks].map(([n, m]) => [n, Float32Array.from(m)]));
  for (let i = 0; i < 6; i++) s.trainStep();
  let changed = 0;
  for (const p of maskableParams(model)) {
    assert.equal(
      density(p.name),
      before.get(p.name)!.reduce((a, b) => a + b, 0),
      `${p.name} keeps its density`,
    );
    masks.get(p.name)!.forEach((m, k) => (changed += m !== before.get(p.name)![k] ? 1 : 0));
    const now = p.variable.dataSync();
    masks.get(p.name)!.forEach((m, k) => {
      if (!m) assert.equal(now[k], 0);
    });
  }
  assert.ok(changed > 0, 'the mask changed');
  s.dispose();
  model.dispose();
});

test('BCD updates exactly one block a step, and a starved block is updated within the floor', () => {
  for (const rule of ['gs', 'gsl', 'gs-quadratic', 'cyclic'] as const) {
    const model = buildModel('lenet5', 'small', 14);
    const s = session(model, { bcd: { rule, refreshEvery: 3, maxSkipped: 5, lipschitz: 'secant' } }, 12);
    const updated = new Set<string>();
    for (let i = 0; i < 12; i++) {
      const before = new Map(model.blocks.map((b) => [b.id, b.params.map((p) => p.variable.dataSync().slice())]));
      const m = s.trainStep();
      assert.equal(m.updatedBlocks?.length, 1, `${rule}: one block a step`);
      const id = m.updatedBlocks![0]!;
      updated.add(id);
      for (const b of model.blocks) {
        const same = b.params.every((p, j) => tf.util.arraysEqual(before.get(b.id)![j]!, p.variable.dataSync()));
        assert.equal(same, b.id !== id, `${rule} step ${i + 1}: ${b.id} ${b.id === id ? 'changes' : 'stays'}`);
      }
    }
    // Four blocks, a floor of 5 skipped steps: every block is updated within 12 steps.
    assert.equal(updated.size, model.blocks.length, `${rule}: ${[...updated].join(', ')}`);
    s.dispose();
    model.dispose();
  }
});

test('every selective strategy resumes from a checkpoint on the same curve', async () => {
  const dir = tempDir();
  try {
    const store = new LocalArtifactStore(dir.path);
    const cases: [string, Selective][] = [
      ['freezenet', { masked: freezeNet }],
      ['rigl', { masked: { rest: 'pruned', method: 'snip', keep: 0.3, rigl: { every: 2, end: 7, alpha: 0.3 } } }],
      ['bcd-gsl-secant', { bcd: { rule: 'gsl', refreshEvery: 2, maxSkipped: 0, lipschitz: 'secant' } }],
      [
        'bcd-random-lipschitz-backtracking',
        { bcd: { rule: 'random-lipschitz', refreshEvery: 3, maxSkipped: 0, lipschitz: 'backtracking' } },
      ],
      ['bcd-gs-quadratic', { bcd: { rule: 'gs-quadratic', refreshEvery: 3, maxSkipped: 0, lipschitz: 'secant' } }],
    ];
    for (const [name, how] of cases) {
      const full = session(buildModel('lenet5', 'small', 15), how, 8);
      const expected = Array.from({ length: 8 }, () => full.trainStep().loss);
      const first = session(buildModel('lenet5', 'small', 15), how, 8);
      const losses = Array.from({ length: 3 }, () => first.trainStep().loss);
      const id = (await saveCheckpoint(store, first.model, first.getState())).manifest.id;
      const restored = await loadCheckpoint(store, id);
      const resumed = new TrainingSession(restored.model, new ExampleSource(mnist(), 32, 4), options(8));
      resumed.setState(restored.session);
      resumed.selective = restoreSelective(restored.model, resumed.optimizer, restored.session.selective!, 3);
      for (let i = 0; i < 5; i++) losses.push(resumed.trainStep().loss);
      assert.deepEqual(losses, expected, name);
      for (const s of [full, first, resumed]) {
        s.dispose();
        s.model.dispose();
      }
    }
  } finally {
    dir.remove();
  }
});

test('a FreezeNet model stored as a sparse artifact rebuilds with identical outputs and ≥ 50x fewer bytes', async () => {
  const dir = tempDir();
  try {
    const store = new LocalArtifactStore(dir.path);
    const model = buildModel('lenet5', 'caffe', 16);
    const s = session(model, { masked: { ...freezeNet, keep: 0.01 } }, 2);
    s.trainStep();
    s.trainStep();
    const masks = (s.selective as MaskedTraining).masks;
    const saved = await saveSparseModel(store, model, masks, 'frozen');
    const dense = await saveCheckpoint(store, model, s.getState());
    const rebuilt = await loadModelArtifact(store, saved.artifact.manifest.id);
    const x = new ExampleSource(mnist(), 16, 9).next().x;
    assert.ok(tf.util.arraysEqual(model.forward(x).dataSync(), rebuilt.forward(x).dataSync()), 'identical outputs');
    const denseWeights = model.countParams() * 4;
    assert.ok(denseWeights / saved.artifact.sizeBytes >= 50, `${denseWeights} vs ${saved.artifact.sizeBytes} bytes`);
    assert.ok(dense.sizeBytes / saved.artifact.sizeBytes >= 50);
    assert.ok(saved.compression > 50, `compression ${saved.compression}`);
    assert.equal(saved.artifact.sizeBytes - sparseBytes(sparseState(model, masks, 'frozen')) < 2048, true);
    // The same weights, bit for bit, rebuilt on another backend (the seeded values come from floe's own generator).
    await tf.setBackend('cpu');
    const onCpu = await loadModelArtifact(store, saved.artifact.manifest.id);
    for (const [i, p] of onCpu.params().entries())
      assert.ok(tf.util.arraysEqual(p.variable.dataSync(), rebuilt.params()[i]!.variable.dataSync()), p.name);
    onCpu.dispose();
    await tf.setBackend('wasm');
    // A model whose frozen entries did not come from its seed does not pass as sparse.
    maskableParams(model)[0]!.variable.assign(tf.onesLike(maskableParams(model)[0]!.variable));
    await assert.rejects(saveSparseModel(store, model, masks, 'frozen'), /do not come from its seed/);
    s.dispose();
    model.dispose();
    rebuilt.dispose();
  } finally {
    dir.remove();
  }
});
