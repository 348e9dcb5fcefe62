// Block scores on closed forms: the angle of an identity block and of a freshly expanded block is 0, a
// known small rotation is measured accurately in float32, and the plan follows the scores and the drift.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '@floe/ml-runtime';
import { buildModel } from '@floe/models';
import { loadBuiltin, type TextDataset } from '@floe/data';
import { LmSource } from '@floe/training';
import { angularDistance, planAdaptation, scoreBlocks, type BlockScore } from '../src/index.js';

await initBackend('wasm');

test('angular distance: 0 for identical vectors, accurate for a small known angle in float32', () => {
  const h = tf.randomNormal([2, 8, 64], 0, 1, 'float32', 1);
  assert.equal(tf.max(angularDistance(h, h)).dataSync()[0], 0);
  // Rotate in the plane of two axes by θ: the measured angle ÷ π must match θ/π to float32 precision.
  const theta = 1e-3;
  const x = tf.tensor2d([[1, 0, 0, 0]]);
  const y = tf.tensor2d([[Math.cos(theta), Math.sin(theta), 0, 0]]);
  const d = angularDistance(x, y).dataSync()[0]!;
  assert.ok(Math.abs(d - theta / Math.PI) < 1e-7, `${d} vs ${theta / Math.PI}`);
  // arccos of the dot product would round cos(1e-3) to 1 - 5e-7 and lose most digits; here they stay.
  assert.ok(Math.abs(angularDistance(x, x.mul(3)).dataSync()[0]!) < 1e-7, 'scale does not change the angle');
  tf.dispose([h, x, y]);
});

test('a freshly expanded block has angular distance 0 (1e-4); original blocks do not', async () => {
  const model = buildModel('transformer-lm', 'tiny', 3);
  const added = model.expandAfter('block.0');
  const data = loadBuiltin('spam-assassin') as TextDataset;
  const source = new LmSource(data, 4, 32, 1);
  const batches = [source.next(), source.next()];
  const scores = await scoreBlocks(model, batches);
  const byId = Object.fromEntries(scores.blocks.map((b) => [b.blockId, b]));
  assert.ok(
    byId[added.id]!.angularDistanceAll <= 1e-4 && byId[added.id]!.angularDistanceLast <= 1e-4,
    JSON.stringify(byId[added.id]),
  );
  assert.ok(byId['block.0']!.angularDistanceAll > 1e-3);
  assert.ok(
    scores.loss > 6 && scores.loss < 9,
    `an untrained byte LM is near log2(256) = 8 bits per byte, got ${scores.loss}`,
  );
  for (const b of scores.blocks) assert.ok(Number.isFinite(b.gradNorm) && b.gradNorm >= 0 && b.fisher >= 0, b.blockId);
  assert.ok(byId['block.0']!.gradNorm > 0);
  model.dispose();
});

const block = (id: string, angle: number, residual = true): BlockScore => ({
  blockId: id,
  angularDistanceAll: angle,
  angularDistanceLast: angle,
  gradNorm: 1,
  fisher: 1,
  residual,
});
const blocks = [
  block('embedding', 0, false),
  block('block.0', 0.1),
  block('block.1', 0.4),
  block('block.2', 0.2),
  block('block.3', 0.3),
  block('head', 0, false),
];

test('plans: shifted data expands where the data moves the stream and replays; stable data expands nothing', () => {
  const shifted = planAdaptation({
    blocks,
    drift: { verdict: 'shifted', psi: 1.2 },
    maxExpansions: 0,
    newDataUnits: 1e6,
  });
  // Copies after every block the data moves (angle ≥ half the median 0.25): blocks 1, 2 and 3.
  assert.deepEqual(
    shifted.expansions.map((e) => e.afterBlockId),
    ['block.1', 'block.2', 'block.3'],
  );
  assert.equal(shifted.replayFraction, 0.2);
  // Under a shift everything the data moves trains (the expanded originals too); block.0 moves the stream
  // less than half the median angle and freezes.
  assert.deepEqual(shifted.tune, ['embedding', 'block.1', 'block.2', 'block.3', 'head']);
  assert.deepEqual(shifted.freeze, ['block.0']);
  assert.ok(shifted.decisions.every((d) => d.reason.length > 10));
  assert.deepEqual(
    shifted.decisions.map((d) => d.blockId),
    blocks.map((b) => b.blockId),
    'one decision per block',
  );
  const stable = planAdaptation({
    blocks,
    drift: { verdict: 'stable', psi: 0.01 },
    maxExpansions: 0,
    newDataUnits: 1e6,
  });
  assert.deepEqual(stable.expansions, []);
  assert.deepEqual(stable.tune, ['block.1', 'block.3']);
  assert.ok(stable.freeze.includes('embedding') && stable.freeze.includes('block.0'));
  assert.equal(stable.replayFraction, 0);
  // Without residual blocks (an MLP) stable drift still trains the head; tied angles train the first-ranked.
  const mlp = [block('dense.0', 0, false), block('dense.1', 0, false), block('head', 0, false)];
  for (const verdict of ['stable', 'moderate'] as const) {
    const plan = planAdaptation({ blocks: mlp, drift: { verdict, psi: 0.01 }, maxExpansions: 0, newDataUnits: 1e4 });
    assert.deepEqual([plan.tune, plan.freeze, plan.expansions], [['head'], ['dense.0', 'dense.1'], []]);
  }
  const tied = [block('block.0', 0.2), block('block.1', 0.2), block('head', 0, false)];
  assert.deepEqual(
    planAdaptation({ blocks: tied, drift: { verdict: 'stable', psi: 0.01 }, maxExpansions: 0, newDataUnits: 1e4 }).tune,
    ['block.0'],
  );
  assert.deepEqual(
    planAdaptation({ blocks, drift: { verdict: 'shifted', psi: 1.2 }, maxExpansions: 0, newDataUnits: 1e6 }),
    shifted,
    'deterministic',
  );
  assert.deepEqual(
    planAdaptation({ blocks, drift: { verdict: 'shifted', psi: 1.2 }, maxExpansions: 1, newDataUnits: 1e6 }).expansions,
    [{ afterBlockId: 'block.1', copies: 1 }],
    'max_expansions keeps the largest angles',
  );
  assert.equal(
    planAdaptation({ blocks, drift: { verdict: 'moderate', psi: 0.15 }, maxExpansions: 0, newDataUnits: 1e6 })
      .expansions.length,
    1,
  );
});
