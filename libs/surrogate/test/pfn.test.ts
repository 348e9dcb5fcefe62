// The PFN's structural invariants (no positional encoding; queries see only the context and themselves):
// predictions do not depend on the order of the context or on the other queries; each row is a
// probability distribution; weights round-trip through their buffer exactly. And the committed weights:
// they match their sha256, beat a uniform prediction on held-out prior sequences, and continue a flat
// observed curve near its level. MFPI-random's threshold keeps its floor above the incumbent.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { initBackend } from '@floe/ml-runtime';
import { Rng } from '@floe/random';
import {
  ACQUISITION_TEMPERATURE,
  CurvePfn,
  CurveScale,
  Ifbo,
  MIN_IMPROVEMENT_BUCKETS,
  bucketExceedance,
  bucketSharpen,
  loadPfn,
  mfpiThreshold,
  packSequences,
  sampleFtPfnSequence,
  type PfnInput,
} from '../src/index.js';

await initBackend('auto');
const small = { width: 32, layers: 2, heads: 4, ffn: 64, buckets: 50 };

function permuteContext(input: PfnInput, order: number[]): PfnInput {
  const d = input.contextConfig.length / input.nContext;
  const out = {
    ...input,
    contextId: new Int32Array(order.length),
    contextT: new Float32Array(order.length),
    contextY: new Float32Array(order.length),
    contextConfig: new Float32Array(input.contextConfig.length),
  };
  order.forEach((src, k) => {
    out.contextId[k] = input.contextId[src]!;
    out.contextT[k] = input.contextT[src]!;
    out.contextY[k] = input.contextY[src]!;
    out.contextConfig.set(input.contextConfig.subarray(src * d, (src + 1) * d), k * d);
  });
  return out;
}

test('predictions are rows of probabilities, independent of the context order and of the other queries', () => {
  const model = CurvePfn.create(small, 3);
  const { input } = packSequences([sampleFtPfnSequence(new Rng(2), 60, 40)]);
  const p = model.predict(input);
  for (let q = 0; q < input.nQuery; q++) {
    const row = p.subarray(q * small.buckets, (q + 1) * small.buckets);
    assert.ok(Math.abs(row.reduce((a, b) => a + b, 0) - 1) < 1e-5);
  }
  const order = new Rng(5).shuffle(Array.from({ length: input.nContext }, (_, i) => i));
  const permuted = model.predict(permuteContext(input, order));
  for (let i = 0; i < p.length; i++)
    assert.ok(Math.abs(p[i]! - permuted[i]!) < 1e-5, 'context order changed a prediction');
  // The first query alone gets the same distribution as inside the batch of queries.
  const d = input.queryConfig.length / input.nQuery;
  const alone = model.predict({
    ...input,
    nQuery: 1,
    queryId: input.queryId.subarray(0, 1),
    queryT: input.queryT.subarray(0, 1),
    queryConfig: input.queryConfig.subarray(0, d),
  });
  for (let b = 0; b < small.buckets; b++)
    assert.ok(Math.abs(alone[b]! - p[b]!) < 1e-5, 'another query changed a prediction');
  model.dispose();
});

test('the native fast path computes what the TF.js graph computes (to 1e-6), from no context to a large one', () => {
  const { model } = loadPfn();
  const answers: [ReturnType<typeof packSequences>['input'], Float32Array, Float32Array][] = [];
  for (const [length, context] of [
    [20, 0],
    [40, 1],
    [120, 60],
    [700, 512],
  ] as const) {
    const { input } = packSequences([sampleFtPfnSequence(new Rng(length), length, context)]);
    const viaTfjs = model.predict(input, 'tfjs');
    const fast = model.predict(input);
    let diff = 0;
    for (let i = 0; i < fast.length; i++) diff = Math.max(diff, Math.abs(fast[i]! - viaTfjs[i]!));
    assert.ok(diff < 1e-6, `largest difference ${diff} at ${context} context points`);
    answers.push([input, fast, fast.slice()]);
  }
  // The fast path reuses its buffers between calls (grown on the large context): asked again, largest
  // first, it answers the same bits, and no answer handed out earlier has changed.
  for (const [input, , first] of [...answers].reverse()) assert.deepEqual(model.predict(input), first);
  for (const [, held, first] of answers) assert.deepEqual(held, first);
});

test('weights round-trip through their buffer bit for bit, and the loaded model predicts the same, call after call', () => {
  const model = CurvePfn.create(small, 8);
  const copy = CurvePfn.fromBuffer(small, model.toBuffer());
  assert.deepEqual(copy.toBuffer(), model.toBuffer());
  const { input } = packSequences([sampleFtPfnSequence(new Rng(4), 50, 30)]);
  const want = model.predict(input);
  const got = copy.predict(input);
  for (let i = 0; i < want.length; i++) assert.ok(Math.abs(got[i]! - want[i]!) < 1e-6);
  assert.deepEqual(copy.predict(input), got, 'the loaded model caches what it needs without changing its answers');
  assert.throws(() => CurvePfn.fromBuffer(small, model.toBuffer().subarray(1)), /weights/);
  model.dispose();
  copy.dispose();
});

test('the committed surrogate matches its sha256, beats a uniform prediction on held-out prior data, and continues a flat curve', () => {
  const { model, meta } = loadPfn();
  assert.equal(model.parameterCount(), meta.parameters);
  const rng = new Rng(424242);
  let sum = 0;
  let count = 0;
  const n = model.config.buckets;
  for (let b = 0; b < 4; b++) {
    const { input, queryY } = packSequences([sampleFtPfnSequence(rng, 200, 100), sampleFtPfnSequence(rng, 200, 100)]);
    const p = model.predict(input);
    for (let q = 0; q < queryY.length; q++)
      sum -= Math.log(Math.max(1e-12, p[q * n + Math.min(n - 1, Math.floor(queryY[q]! * n))]! * n));
    count += queryY.length;
  }
  const nll = sum / count;
  assert.ok(nll < -0.3, `held-out prior NLL ${nll} (uniform is 0)`);
  // A curve that has sat at 0.40 (lower is better, first value 1.0) for 30 of 50 steps stays near 0.40.
  const values = [1, ...Array.from({ length: 29 }, () => 0.4)];
  const ifbo = new Ifbo(model);
  const [pred] = ifbo.predict([{ config: [0.5, 0.5], values }], 50, [{ trial: 0, config: [0.5, 0.5], step: 50 }], 1);
  assert.ok(Math.abs(pred!.mean - 0.4) < 0.1, `predicted final ${pred!.mean}`);
  assert.ok(pred!.q05 <= pred!.mean && pred!.mean <= pred!.q95);
});

test('MFPI-random asks for at least MIN_IMPROVEMENT_BUCKETS of the output above the incumbent', () => {
  // The reference's threshold where τ·(1 − f_best) is above the floor; the floor where it is below.
  assert.equal(mfpiThreshold(0.5, 0.1, 3 / 512), 0.5 + 0.05);
  assert.equal(mfpiThreshold(0.5, 1e-4, 3 / 512), 0.5 + 3 / 512);
  assert.equal(mfpiThreshold(0.5, 1e-4, 0), 0.5 + 0.5e-4);
  // decide() uses it: a floor of every bucket puts the threshold at 1, which nothing exceeds.
  const { model } = loadPfn();
  const trials = [
    { config: [0.2, 0.7], values: [Math.LN2, Math.LN2, Math.LN2, Math.LN2] },
    { config: [0.6, 0.1], values: [0.7, 0.6, 0.55] },
  ];
  const ctx = (seed: number) => ({
    trials,
    maxFidelity: 20,
    budgetLeft: 100,
    newCandidates: [[0.4, 0.4]],
    rng: new Rng(seed),
  });
  const ceiling = new Ifbo(model, { minImprovementBuckets: model.config.buckets });
  const reference = new Ifbo(model, { minImprovementBuckets: 0 });
  let positive = 0;
  for (let seed = 0; seed < 20; seed++) {
    assert.equal(ceiling.decide(ctx(seed)).acquisition, 0);
    if (reference.decide(ctx(seed)).acquisition > 0) positive++;
  }
  assert.ok(positive >= 15, `the reference threshold left a chance of improvement in ${positive} of 20 decisions`);
  assert.ok(MIN_IMPROVEMENT_BUCKETS >= 1 && MIN_IMPROVEMENT_BUCKETS < model.config.buckets / 10);
});

test('at the acquisition temperature a long plateau just above the incumbent stops looking like a chance to improve', () => {
  const { model } = loadPfn();
  const n = model.config.buckets;
  // The incumbent reached 0.50; another trial has sat at 0.52 for 29 steps (first value 1.0, lower is better).
  const trials = [
    { config: [0.3, 0.6], values: [0.9, 0.7, 0.6, 0.55, 0.5] },
    { config: [0.7, 0.2], values: [1, ...Array.from({ length: 29 }, () => 0.52)] },
  ];
  const scale = CurveScale.fit(trials);
  const threshold = mfpiThreshold(scale.toY(0.5), 1e-3, MIN_IMPROVEMENT_BUCKETS / n);
  const ifbo = new Ifbo(model);
  for (const step of [31, 40, 50]) {
    const probs = ifbo.predictBuckets(trials, 50, [{ trial: 1, config: [0.7, 0.2], step }], 1);
    const own = bucketExceedance(probs, n, threshold);
    const sharpened = bucketExceedance(bucketSharpen(probs, n, ACQUISITION_TEMPERATURE), n, threshold);
    // The PFN's own tails give it a real chance; its likeliest values (the plateau) do not reach the threshold.
    assert.ok(own > 0.05, `P at step ${step} under the PFN's own distribution: ${own}`);
    assert.ok(sharpened < own / 100, `P at step ${step}: ${sharpened} sharpened against ${own}`);
  }
  // The decision reports the PFN's own probability beside the sharpened score that chose it.
  const decision = ifbo.decide({
    trials,
    maxFidelity: 50,
    budgetLeft: 100,
    newCandidates: [[0.5, 0.5]],
    rng: new Rng(3),
  });
  const own = decision.predicted!.probabilityOfImprovement!;
  assert.ok(own >= 0 && own <= 1 && Number.isFinite(decision.acquisition));
});
