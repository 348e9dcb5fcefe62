// The decision rules on a synthetic table where each configuration's curve is v(t) = q + 1/t with a known
// final quality q: every decision is legal (thaw a trial below the maximum, or start a candidate), successive
// halving keeps exactly the best third at each rung, ASHA promotes only from the top third of a rung,
// median stopping stops a trial worse than the median, the power-law ensemble extrapolates a power law, and
// the rules without a model take new configurations from the uniform sample, never from the local ones.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '@floe/random';
import {
  Asha,
  MedianStopping,
  PowerLawEnsemble,
  RandomSearch,
  SuccessiveHalving,
  CurveScale,
  TYPICAL_START_Y,
  powerLawPredict,
  type FreezeThawOptimizer,
  type TrialCurve,
} from '../src/index.js';

const MAX = 27;
const POOL = Array.from({ length: 300 }, (_, i) => ({ config: [i / 300], quality: ((i * 7919) % 300) / 300 }));
const value = (quality: number, step: number) => quality + 1 / step;

/** `localTail`: that many of the unused candidates, at the end of the list, are offered as local ones. */
function run(opt: FreezeThawOptimizer, budget: number, seed = 1, localTail = 0) {
  const trials: (TrialCurve & { pool: number })[] = [];
  const used = new Set<number>();
  const log: { kind: string; trial: number; step: number; lengths: number[] }[] = [];
  for (let spent = 0; spent < budget; spent++) {
    const unused = POOL.map((_, i) => i).filter((i) => !used.has(i));
    const lengths = trials.map((t) => t.values.length);
    const randomCandidates = Math.max(1, unused.length - localTail);
    const d = opt.decide({
      trials,
      maxFidelity: MAX,
      budgetLeft: budget - spent,
      newCandidates: unused.map((i) => POOL[i]!.config),
      randomCandidates: localTail ? randomCandidates : undefined,
      rng: new Rng(seed * 1000 + spent),
    });
    const modelFree = !(opt instanceof PowerLawEnsemble) || trials.filter((t) => t.values.length).length < 2;
    if (localTail && d.kind === 'new' && modelFree)
      assert.ok(d.candidate < randomCandidates, `${opt.name} drew a local candidate as its random one`);
    let index: number;
    if (d.kind === 'new') {
      assert.ok(d.candidate >= 0 && d.candidate < unused.length, 'a new configuration is one of the candidates');
      const pool = unused[d.candidate]!;
      used.add(pool);
      trials.push({ config: POOL[pool]!.config, values: [], pool });
      index = trials.length - 1;
    } else {
      index = d.trial;
      assert.ok(
        trials[index]!.values.length > 0 && trials[index]!.values.length < MAX,
        'a thawed trial is paused below the maximum',
      );
    }
    const t = trials[index]!;
    t.values.push(value(POOL[t.pool]!.quality, t.values.length + 1));
    log.push({ kind: d.kind, trial: index, step: t.values.length, lengths });
  }
  return { trials, log };
}

/** A fresh instance of every rule that runs without the PFN (rules keep bracket state between decisions). */
const rulesWithoutPfn = (): FreezeThawOptimizer[] => [
  new RandomSearch(),
  new SuccessiveHalving(false),
  new SuccessiveHalving(true),
  new Asha(),
  new MedianStopping(),
  new PowerLawEnsemble(),
];

test('every rule makes only legal decisions and spends exactly its budget', () => {
  for (const opt of rulesWithoutPfn()) {
    const { trials } = run(opt, 200);
    assert.equal(
      trials.reduce((s, t) => s + t.values.length, 0),
      200,
      opt.name,
    );
  }
});

test('the rules without a model draw their new configurations from the uniform sample, never the local ones', () => {
  for (const seed of [1, 2, 3]) for (const opt of rulesWithoutPfn()) run(opt, 120, seed, 150);
});

test('successive halving keeps exactly the best third of each rung (27 at 1 step, 9 to 3, 3 to 9, 1 to 27)', () => {
  const { trials } = run(new SuccessiveHalving(false), 27 + 9 * 2 + 3 * 6 + 18);
  assert.equal(trials.length, 27);
  const byQuality = [...trials].sort((a, b) => POOL[a.pool]!.quality - POOL[b.pool]!.quality);
  assert.deepEqual(
    byQuality.map((t) => t.values.length),
    [27, 9, 9, ...Array(6).fill(3), ...Array(18).fill(1)],
  );
});

test('ASHA promotes only trials in the top third of their rung; random search trains one trial at a time to the end', () => {
  const { trials, log } = run(new Asha(), 150);
  for (const e of log.filter((x) => x.kind === 'thaw' && (x.step === 2 || x.step === 4))) {
    const rung = e.step === 2 ? 1 : 3;
    // What the rung held when the decision was made.
    const at = trials
      .filter((t, i) => (e.lengths[i] ?? 0) >= rung)
      .map((t) => t.values[rung - 1]!)
      .sort((a, b) => a - b);
    const mine = trials[e.trial]!.values[rung - 1]!;
    assert.ok(at.length >= 3 && mine <= at[Math.floor(at.length / 3) - 1]! + 1e-12, 'promoted from the top third');
  }
  const r = run(new RandomSearch(), 60);
  assert.deepEqual(
    r.trials.map((t) => t.values.length),
    [27, 27, 6],
  );
});

test('median stopping stops a trial whose best so far is worse than the median of the others at that step', () => {
  const { trials } = run(new MedianStopping(5, 5), 400);
  const full = trials.filter((t) => t.values.length === MAX);
  const stopped = trials.filter((t) => t.values.length < MAX).slice(0, -1);
  assert.ok(stopped.length > 0 && full.length >= 5);
  for (const t of stopped) {
    const step = t.values.length;
    const others = trials
      .filter((o) => o !== t && o.values.length >= step && trials.indexOf(o) < trials.indexOf(t))
      .map((o) => o.values[step - 1]!)
      .sort((a, b) => a - b);
    assert.ok(Math.min(...t.values) > others[Math.floor((others.length - 1) / 2)]!);
  }
});

test('the power-law ensemble extrapolates an exact power law and its uncertainty shrinks with more points', () => {
  const curve = Array.from({ length: 40 }, (_, i) => 0.3 + 0.5 * Math.pow(i + 1, -0.5));
  const g10 = powerLawPredict(curve.slice(0, 10), 40);
  const g30 = powerLawPredict(curve.slice(0, 30), 40);
  assert.ok(Math.abs(g30.mean - curve[39]!) < 1e-3, `${g30.mean} vs ${curve[39]}`);
  assert.ok(g30.std <= g10.std);
});

test('the surrogate scale puts a typical start at y = 1/3, a loss of 0 at 1, and clips diverged values to 0', () => {
  const trials: TrialCurve[] = [
    { config: [0], values: [0.7, 0.69, 0.69] },
    { config: [1], values: [0.69, 0.5, 0.4] },
    { config: [2], values: [0.68, 1e30] },
    { config: [3], values: [] },
  ];
  const scale = CurveScale.fit(trials);
  assert.ok(Math.abs(scale.start - 0.69) < 1e-12, `${scale.start}`);
  assert.ok(Math.abs(scale.toY(0.69) - TYPICAL_START_Y) < 1e-12);
  assert.equal(scale.toY(0), 1);
  assert.equal(scale.toY(1e30), 0);
  assert.equal(scale.toY(Infinity), 0);
  // Values up to half a start worse than a typical start stay on the scale, ordered.
  assert.ok(scale.toY(0.9) > scale.toY(1) && scale.toY(1) > 0);
  for (const v of [0.05, 0.4, 0.69, 1]) assert.ok(Math.abs(scale.fromY(scale.toY(v)) - v) < 1e-12);
  // Known anchors win over what the trials say; negative objectives get a lower bound below their minimum.
  const known = CurveScale.fit(trials, { lo: 0, start: Math.LN2 });
  assert.ok(Math.abs(known.toY(Math.LN2) - TYPICAL_START_Y) < 1e-12);
  const negative = CurveScale.fit([{ config: [0], values: [-1, -2, -3] }]);
  assert.ok(negative.lo < -3 && Math.abs(negative.toY(-1) - TYPICAL_START_Y) < 1e-12 && negative.toY(-3) < 1);
});
