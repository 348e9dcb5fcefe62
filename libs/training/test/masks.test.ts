// Masks for sparse and selective training: SNIP's scores, GraSP's Hessian–vector product against the
// closed form, SynFlow's independence of data, global thresholds, and masked weights left alone.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '@floe/ml-runtime';
import { buildModel, type Batch } from '@floe/models';
import { rngFor } from '@floe/random';
import {
  globalMask,
  graspScores,
  hessianVectorProduct,
  maskableParams,
  snipScores,
  synflowScores,
} from '../src/masks.js';
import { DEFAULT_OPTIMIZER, Optimizer } from '../src/optimizer.js';

await initBackend('auto');

function irisLikeBatch(seed: number): Batch {
  const rng = rngFor(seed, 'batch');
  return {
    x: tf.tensor2d(
      Float32Array.from({ length: 16 * 4 }, () => rng.normal()),
      [16, 4],
    ),
    y: tf.tensor1d(
      Int32Array.from({ length: 16 }, () => rng.int(3)),
      'int32',
    ),
  };
}

test('SNIP scores are |g ⊙ θ0| of the loss on a batch', () => {
  const model = buildModel('mlp', 'tiny', 3);
  const batch = irisLikeBatch(1);
  const params = maskableParams(model);
  const { value, grads } = tf.variableGrads(
    () => model.loss(batch, { training: false }),
    params.map((p) => p.variable),
  );
  const scores = snipScores(model, batch);
  for (const p of params) {
    const g = grads[p.variable.name]!.dataSync();
    const theta = p.variable.dataSync();
    scores.get(p.name)!.forEach((s, k) => assert.ok(Math.abs(s - Math.abs(g[k]! * theta[k]!)) < 1e-7));
  }
  tf.dispose([value, ...Object.values(grads)]);
  model.dispose();
});

test("GraSP's Hessian–vector product equals softmax regression's closed form, at T = 1 and T = 200", () => {
  // logits = xW + b; H_W·V = (1/B) Σ_i x_i s_iᵀ / T², s_i = p_i ⊙ u_i − p_i (p_i·u_i), u_i = Vᵀx_i / 1.
  const model = buildModel('mlp', 'tiny', 6, { hidden: [] });
  const batch = irisLikeBatch(3);
  const [w] = maskableParams(model);
  const rng = rngFor(4, 'v');
  const v = Float32Array.from({ length: w!.variable.size }, () => rng.normal());
  const x = batch.x.arraySync() as number[][];
  const d = 4;
  const c = 3;
  for (const temperature of [1, 200]) {
    const logits = model.forward(batch.x).arraySync() as number[][];
    const expected = new Float64Array(d * c);
    x.forEach((xi, i) => {
      const z = logits[i]!.map((l) => l / temperature);
      const top = Math.max(...z);
      const e = z.map((zz) => Math.exp(zz - top));
      const p = e.map((ee) => ee / e.reduce((a, b) => a + b, 0));
      const u = Array.from({ length: c }, (_, k) => xi.reduce((s, xv, j) => s + xv * v[j * c + k]!, 0));
      const pu = p.reduce((s, pk, k) => s + pk * u[k]!, 0);
      const sv = p.map((pk, k) => pk * u[k]! - pk * pu);
      for (let j = 0; j < d; j++)
        for (let k = 0; k < c; k++) expected[j * c + k]! += (xi[j]! * sv[k]!) / x.length / temperature ** 2;
    });
    const hv = hessianVectorProduct(model, batch, new Map([[w!.name, v]]), temperature).get(w!.name)!;
    const scale = Math.max(...expected.map(Math.abs));
    hv.forEach((h, k) =>
      assert.ok(Math.abs(h - expected[k]!) < 0.01 * scale, `T=${temperature} [${k}]: ${h} vs ${expected[k]}`),
    );
  }
  const before = Float32Array.from(w!.variable.dataSync());
  const scores = graspScores(model, batch);
  assert.deepEqual(Float32Array.from(w!.variable.dataSync()), before, 'the weights are restored');
  assert.equal(scores.get(w!.name)!.length, d * c);
  model.dispose();
});

test("SynFlow's scores need no data and do not change from call to call; the model is left as it was", () => {
  const model = buildModel('mlp', 'small', 4);
  const before = model.params().map((p) => Float32Array.from(p.variable.dataSync()));
  const a = synflowScores(model, [4], 0.1, 20);
  const b = synflowScores(model, [4], 0.1, 20);
  for (const [name, s] of a) assert.deepEqual(s, b.get(name));
  model.params().forEach((p, i) => assert.deepEqual(Float32Array.from(p.variable.dataSync()), before[i]));
  const mask = globalMask(a, 0.1);
  const kept = [...mask.values()].reduce((n, m) => n + m.reduce((s, x) => s + x, 0), 0);
  const total = [...mask.values()].reduce((n, m) => n + m.length, 0);
  assert.equal(kept, Math.floor(0.1 * total));
  model.dispose();
});

test('a global mask keeps exactly the top fraction over all parameters, ties included', () => {
  const scores = new Map([
    ['a', Float32Array.of(5, 1, 3, 3)],
    ['b', Float32Array.of(3, 0, 9)],
  ]);
  const mask = globalMask(scores, 3 / 7);
  assert.deepEqual([...mask.get('a')!, ...mask.get('b')!], [1, 0, 1, 0, 0, 0, 1]);
  assert.throws(() => globalMask(scores, 0), /kept fraction/);
});

test('masked weights are unchanged by training steps with weight decay: frozen stay θ0, pruned stay zero', () => {
  for (const kind of ['adamw', 'adam', 'sgd'] as const) {
    for (const pruned of [false, true]) {
      const model = buildModel('mlp', 'small', 5);
      const batch = irisLikeBatch(2);
      const params = maskableParams(model);
      const mask = globalMask(snipScores(model, batch), 0.1);
      if (pruned)
        for (const p of params) p.variable.assign(tf.mul(p.variable, tf.tensor(mask.get(p.name)!, p.variable.shape)));
      const initial = params.map((p) => Float32Array.from(p.variable.dataSync()));
      const optimizer = new Optimizer({ ...DEFAULT_OPTIMIZER, kind, weightDecay: 0.1, learningRate: 1e-2 });
      optimizer.setMasks(params, mask);
      const all = model.params();
      for (let step = 0; step < 5; step++) {
        const { value, grads } = tf.variableGrads(
          () => model.loss(batch),
          all.map((p) => p.variable),
        );
        optimizer.apply(all, new Map(all.map((p) => [p.name, grads[p.variable.name]!])), 1e-2);
        tf.dispose([value, ...Object.values(grads)]);
      }
      let moved = 0;
      params.forEach((p, i) => {
        const now = p.variable.dataSync();
        const keep = mask.get(p.name)!;
        for (let k = 0; k < now.length; k++) {
          // === on purpose: a pruned weight may read −0, which is zero.
          if (!keep[k])
            assert.ok(now[k] === (pruned ? 0 : initial[i]![k]), `${kind}: ${p.name}[${k}] moved to ${now[k]}`);
          else if (now[k] !== initial[i]![k]) moved++;
        }
      });
      assert.ok(moved > 0, `${kind}: the kept weights train`);
      optimizer.dispose();
      model.dispose();
    }
  }
});
