// bench:hpo's task tables: the shared format and DPL's original one load to the same task (curves after
// step 0, missing values as the table's worst, hyperparameters on a log scale where they span decades — of
// 1 − x for Adam's β2 and its like; DPL's rewritten in ours, as the Optuna anchor reads them), and a replay only
// ever reveals points of the table, one per budget step; the clairvoyant screen's bound on closed forms.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '@floe/testing';
import { initBackend } from '@floe/ml-runtime';
import { OPTIMIZER_NAMES, loadPfn, type TrialCurve } from '@floe/surrogate';
import {
  clairvoyantScreen,
  loadTask,
  rankUntried,
  readCurveTable,
  regret,
  replay,
  type Task,
} from '../src/hpo-replay.js';

const dir = tempDir();
after(() => dir.remove());

const rows = Array.from({ length: 40 }, (_, i) => ({
  hp: {
    learning_rate: 1e-6 * Math.pow(10, (6 * i) / 39),
    beta1: 0.5 + i / 100,
    beta2: 1 - Math.pow(10, -1 - (5 * i) / 39),
  },
  valid: [
    0.7,
    ...Array.from({ length: 8 }, (_, s) => ((i === 3 || i === 5) && s === 2 ? null : 0.7 - ((i % 7) * (s + 1)) / 100)),
  ],
}));

test('both table formats load to the same task; a replay reveals only table points, one per step', () => {
  const shared = join(dir.path, 'toy.json');
  const dpl = join(dir.path, 'toy-dpl.json');
  writeFileSync(shared, JSON.stringify({ task: 'toy-dpl', curves: rows }));
  // DPL's files come from Python's json: a diverged run's values are bare NaN (and Infinity), not null.
  const pythonJson = JSON.stringify(rows.map((r) => ({ hp: r.hp, valid: { loss: r.valid }, train: { loss: [] } })))
    .replace(/null/, 'NaN')
    .replace(/null/, '-Infinity');
  writeFileSync(dpl, pythonJson);
  const a = loadTask(shared);
  const b = loadTask(dpl);
  assert.deepEqual(a, b);
  assert.equal(b.name, 'toy-dpl');
  // What bench:hpo hands the Optuna anchor: DPL's table rewritten in ours, loading to the same task again.
  const rewritten = readCurveTable(dpl);
  assert.equal(rewritten.fromDpl, true);
  assert.equal(readCurveTable(shared).fromDpl, false);
  const again = join(dir.path, 'toy-dpl-rewritten.json');
  writeFileSync(again, JSON.stringify(rewritten.table));
  assert.deepEqual(loadTask(again), b);
  assert.equal(a.curves[0]!.length, 8, 'step 0 is dropped');
  assert.equal(a.curves[3]![2], 0.7, 'a missing value is the table’s worst');
  assert.equal(b.curves[5]![2], 0.7, 'so is a bare -Infinity (and NaN, row 3) from Python');
  // learning_rate spans six decades: log scale, so the middle row sits near the middle.
  assert.ok(Math.abs(a.configs[20]![0]! - 20 / 39) < 1e-9);
  // beta1 spans no decades either way: linear. beta2's 1 − x spans five: log(1 − x), larger x still larger.
  assert.ok(Math.abs(a.configs[20]![1]! - 20 / 39) < 1e-9);
  assert.ok(Math.abs(a.configs[20]![2]! - 20 / 39) < 1e-9);
  assert.ok(a.configs[39]![2]! === 1 && a.configs[0]![2]! === 0);
  assert.equal(a.best, Math.min(...a.curves.flat()));
  const trace = replay(a, 'successive_halving', undefined, 1, 60);
  assert.equal(trace.length, 60);
  const values = new Set(a.curves.flat());
  for (let k = 0; k < trace.length; k++) {
    assert.ok(values.has(trace[k]!), 'the best seen is a point of the table');
    if (k > 0) assert.ok(trace[k]! <= trace[k - 1]!, 'the best seen never gets worse');
  }
  assert.ok(regret(a, trace.at(-1)!) >= 0 && regret(a, trace.at(-1)!) <= 1);
});

test('with failDiverged, a run fails where its table diverges: every rule spends that step and never thaws it', async () => {
  await initBackend('auto');
  const { model } = loadPfn();
  // Rows 3 and 5 diverge at their third step; in the table's convention that value reads as the worst.
  const file = join(dir.path, 'toy-fail.json');
  writeFileSync(file, JSON.stringify({ task: 'toy-fail', curves: rows }));
  const task = loadTask(file, { failDiverged: true });
  assert.deepEqual(task.curves, loadTask(file).curves, 'the values are those of the default convention');
  assert.equal(loadTask(file).divergesAt, undefined);
  assert.deepEqual(
    task.divergesAt!.flatMap((at, i) => (at === undefined ? [] : [[i, at]])),
    [
      [3, 2],
      [5, 2],
    ],
  );
  let failures = 0;
  for (const method of OPTIMIZER_NAMES) {
    const seen: TrialCurve[][] = [];
    // The replay throws if a rule thaws a failed trial.
    const trace = replay(task, method, model, 2, 300, (ctx) => seen.push(ctx.trials));
    // Rules that stop once every configuration is tried (ASHA promotes only a top third) end early.
    assert.ok(trace.length >= rows.length && trace.length <= 300, `${method}: ${trace.length} steps`);
    const trials = seen.at(-1)! as (TrialCurve & { pool: number })[];
    for (const t of trials) {
      const at = task.divergesAt![t.pool];
      if (t.failed) failures++;
      if (t.failed) assert.equal(t.values.length, at, `${method}: failed where the table diverges`);
      else assert.ok(at === undefined || t.values.length < at, `${method}: nothing revealed past a divergence`);
    }
  }
  assert.ok(failures >= 4, `${failures} failed trials seen across the rules`);
});

test('rankUntried: on a task whose curves improve with the configuration, ifBO and the 5 nearest rank the untried ones in order', async () => {
  await initBackend('auto');
  const { model } = loadPfn();
  // One hyperparameter x ∈ [0, 1]: every curve leaves chance (ln 2) towards ln 2 − 0.4·x, so the best is at x = 1.
  const n = 200;
  const configs = Array.from({ length: n }, (_, i) => [i / (n - 1)]);
  const curves = configs.map(([x]) =>
    Array.from({ length: 20 }, (_, s) => Math.log(2) - 0.4 * x! * (1 - Math.exp(-(s + 1) / 4))),
  );
  const task: Task = { name: 'monotone', curves, configs, best: Math.min(...curves.flat()) };
  // Five studies (10–22 of 200 tried, spread by each study): the neighbours' trend is coarse, the PFN's close.
  // The mean over seeds: which configurations one study happens to try moves a single ρ by ±0.1.
  const runs = [0, 1, 2, 3, 4].map((seed) => rankUntried(task, model, seed, 40));
  for (const r of runs) {
    assert.ok(r.untried > 0 && r.untried < n, `${r.untried} untried after 40 steps`);
    assert.ok(r.topTenUntried <= 10 && r.topTenInPredictedTop50 <= r.topTenUntried);
    assert.ok(r.selectedTopTenInTop50 <= r.topTenUntried);
  }
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const nearestRho = mean(runs.map((r) => r.nearestRho));
  const pfnRho = mean(runs.map((r) => r.pfnRho));
  assert.ok(nearestRho > 0.5, `5-NN rho ${nearestRho}`);
  // One hyperparameter, and it matters: the selection keeps it, so the selected neighbours rank as the 5 nearest.
  assert.ok(Math.abs(mean(runs.map((r) => r.selectedNearestRho)) - nearestRho) < 1e-9);
  assert.ok(pfnRho > 0.85 && pfnRho > nearestRho, `PFN rho ${pfnRho} (5-NN ${nearestRho})`);
});

test('the clairvoyant screen: the best value any blind rule can hold after a budget, closed forms', () => {
  // C stays at chance, B settles at 0.3 at once, A reaches the table's best 0.1 only at its third step.
  const task: Task = {
    name: 'three',
    curves: [
      [0.6, 0.5, 0.1],
      [0.3, 0.3, 0.3],
      [0.69, 0.69, 0.69],
    ],
    configs: [[0], [0.5], [1]],
    best: 0.1,
  };
  const clairvoyantRegret = clairvoyantScreen(task);
  const order = [2, 1, 0]; // C, B, A
  // One step: C's first value.
  assert.equal(clairvoyantRegret(order, 1), regret(task, 0.69));
  // Two: touching B beats a second step of C.
  assert.equal(clairvoyantRegret(order, 2), regret(task, 0.3));
  // Four: A can be touched but get only two steps (C and B took one each) — 0.5, so B's 0.3 stands.
  assert.equal(clairvoyantRegret(order, 4), regret(task, 0.3));
  // Five: C and B one step each, A its three: the table's best.
  assert.equal(clairvoyantRegret(order, 5), 0);
  // A first: three steps reach it.
  assert.equal(clairvoyantRegret([0, 1, 2], 3), 0);
  // Two, A first: B's first step (0.3) beats A's second (0.5).
  assert.equal(clairvoyantRegret([0, 1, 2], 2), regret(task, 0.3));
  assert.equal(clairvoyantRegret([0, 1, 2], 1), regret(task, 0.6));
});
