// The configuration ranking ifBO uses to choose which new configurations to score: Spearman's ρ against closed
// forms, the neighbour mean against a brute-force sort, forward selection finding the one input that matters
// among eight, the kept candidates being the better ones, ifBO's decision naming a candidate by its index in
// the caller's list, a study with more hyperparameters than the PFN's inputs reaching it with the ones that
// matter, and the importance of each hyperparameter the same model reports (its invariants).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { initBackend } from '@floe/ml-runtime';
import { Rng } from '@floe/random';
import {
  Ifbo,
  MAX_DIMS,
  MIN_RANKED_OBSERVATIONS,
  NEIGHBOURS,
  dimensionImportance,
  dimensionMask,
  leaveOneOutFit,
  loadPfn,
  neighbourMean,
  rankCandidates,
  pfnInputDimensions,
  rankCorrelation,
  relevantDimensionOrder,
  relevantDimensions,
  type ConfigObservation,
} from '../src/index.js';

await initBackend('auto');

test('rank correlation: 1 for any increasing map, −1 reversed, and the closed form with ties', () => {
  const a = [0.3, 1.2, -4, 9, 2.5];
  assert.ok(
    Math.abs(
      rankCorrelation(
        a,
        a.map((x) => Math.exp(x)),
      ) - 1,
    ) < 1e-12,
  );
  assert.ok(
    Math.abs(
      rankCorrelation(
        a,
        a.map((x) => -(x ** 3)),
      ) + 1,
    ) < 1e-12,
  );
  assert.equal(rankCorrelation(a, [1, 1, 1, 1, 1]), 0);
  // Ties share their mean rank: ranks [0.5, 0.5, 2] against [0, 1, 2] → Pearson of those = √3 / 2.
  assert.ok(Math.abs(rankCorrelation([1, 1, 2], [1, 2, 3]) - Math.sqrt(3) / 2) < 1e-12);
});

/** Eight inputs, the value a function of input 3 only (a learning rate's valley). */
function valley(rng: Rng, n: number): ConfigObservation[] {
  return Array.from({ length: n }, () => {
    const config = Array.from({ length: 8 }, () => rng.uniform(0, 1));
    return { config, value: (config[3]! - 0.3) ** 2 };
  });
}

test('the neighbour mean is the mean value of the NEIGHBOURS nearest on the selected inputs', () => {
  const rng = new Rng(7);
  const obs = valley(rng, 60);
  const use = [true, false, false, true, false, false, false, true];
  for (let q = 0; q < 10; q++) {
    const c = Array.from({ length: 8 }, () => rng.uniform(0, 1));
    const skip = q % 2 === 0 ? q : -1;
    const brute = obs
      .map((o, i) => ({ i, v: o.value, d: o.config.reduce((s, x, j) => s + (use[j] ? (x - c[j]!) ** 2 : 0), 0) }))
      .filter((o) => o.i !== skip)
      .sort((a, b) => a.d - b.d)
      .slice(0, NEIGHBOURS);
    const expected = brute.reduce((s, o) => s + o.v, 0) / NEIGHBOURS;
    assert.ok(Math.abs(neighbourMean(obs, c, use, skip) - expected) < 1e-12);
  }
});

test('forward selection keeps the input that matters and drops most that do not; nothing predictive → all', () => {
  const use = relevantDimensions(valley(new Rng(3), 80));
  assert.equal(use[3], true);
  assert.ok(use.filter(Boolean).length <= 3, `selected ${use.map(Number).join('')}`);
  // Pure noise: whatever is selected, the model must not crash or select nothing.
  const rng = new Rng(4);
  const noise = Array.from({ length: 40 }, () => ({
    config: Array.from({ length: 4 }, () => rng.uniform(0, 1)),
    value: rng.uniform(0, 1),
  }));
  assert.ok(relevantDimensions(noise).some(Boolean));
});

test('the selection order matches recomputing every leave-one-out distance from scratch', () => {
  // The selection keeps running distance sums; the reference here recomputes each fit with neighbourMean.
  const rng = new Rng(8);
  const obs = Array.from({ length: 90 }, () => {
    const c = Array.from({ length: 12 }, () => rng.uniform(0, 1));
    const value = (c[9]! - 0.6) ** 2 + 0.6 * (c[2]! - 0.2) ** 2 + 0.4 * (c[5]! - 0.5) ** 2 + 0.3 * (c[0]! - 0.7) ** 2;
    return { config: c, value };
  });
  const fitOf = (use: boolean[]) =>
    rankCorrelation(
      obs.map((o, i) => neighbourMean(obs, o.config, use, i)),
      obs.map((o) => o.value),
    );
  const use = new Array<boolean>(12).fill(false);
  const expected: number[] = [];
  let fit = 0;
  for (;;) {
    let add = -1;
    let addFit = fit;
    for (let j = 0; j < 12; j++) {
      if (use[j]) continue;
      const f = fitOf(use.map((u, k) => u || k === j));
      if (f > addFit + 1e-9) [add, addFit] = [j, f];
    }
    if (add < 0) break;
    use[add] = true;
    expected.push(add);
    fit = addFit;
  }
  assert.deepEqual(relevantDimensionOrder(obs), expected);
  assert.ok(expected.length >= 3, `selected ${expected.join(', ')}`);
});

test('rankCandidates keeps the better-predicted candidates, in the caller order; too little to rank on → all', () => {
  const rng = new Rng(11);
  const obs = valley(rng, 40);
  const candidates = Array.from({ length: 200 }, () => Array.from({ length: 8 }, () => rng.uniform(0, 1)));
  const truth = candidates.map((c) => (c[3]! - 0.3) ** 2);
  const kept = rankCandidates(obs, candidates, 20);
  assert.equal(kept.length, 20);
  assert.deepEqual(
    kept,
    [...kept].sort((a, b) => a - b),
  );
  const keptSet = new Set(kept);
  const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
  const keptMean = mean(kept.map((i) => truth[i]!));
  const droppedMean = mean(truth.filter((_, i) => !keptSet.has(i)));
  assert.ok(keptMean < droppedMean / 5, `kept ${keptMean} against dropped ${droppedMean}`);
  assert.deepEqual(
    rankCandidates(obs.slice(0, MIN_RANKED_OBSERVATIONS - 1), candidates, 20),
    candidates.map((_, i) => i),
  );
  assert.deepEqual(rankCandidates(obs, candidates.slice(0, 5), 20), [0, 1, 2, 3, 4]);
});

test('ifBO scores only the ranked new candidates and names its choice by the index in the caller list', () => {
  const { model } = loadPfn();
  const rng = new Rng(5);
  // Twelve one-step trials on a valley in input 0; the other input is noise.
  const trials = Array.from({ length: 12 }, (_, i) => {
    const config = [i / 11, rng.uniform(0, 1)];
    return { config, values: [0.4 + (config[0]! - 0.5) ** 2] };
  });
  const candidates = Array.from({ length: 100 }, () => [rng.uniform(0, 1), rng.uniform(0, 1)]);
  const kept = new Set(
    rankCandidates(
      trials.map((t) => ({ config: t.config, value: t.values[0]! })),
      candidates,
      4,
    ),
  );
  let newDecisions = 0;
  for (let seed = 0; seed < 10; seed++) {
    const ctx = { trials, maxFidelity: 20, budgetLeft: 200, newCandidates: candidates, rng: new Rng(seed) };
    // The PFN's own distribution (temperature 1): on this small context it starts new configurations in some
    // decisions, where the sharpened default thaws every time; the index mapping is what is tested.
    const decision = new Ifbo(model, { rankedNewCandidates: 4, acquisitionTemperature: 1 }).decide(ctx);
    if (decision.kind !== 'new') continue;
    newDecisions++;
    assert.ok(kept.has(decision.candidate), `candidate ${decision.candidate} is not among the ranked ${[...kept]}`);
  }
  assert.ok(newDecisions > 0, 'no decision started a new configuration');
});

test("past the PFN's inputs, it reads the hyperparameters the ranking selects, not the first ones", () => {
  // Sixteen inputs, the value a function of input 13 only.
  const rng = new Rng(21);
  const obs = Array.from({ length: 80 }, () => {
    const config = Array.from({ length: 16 }, () => rng.uniform(0, 1));
    return { config, value: (config[13]! - 0.3) ** 2 };
  });
  assert.equal(relevantDimensionOrder(obs)[0], 13);
  const dims = pfnInputDimensions(obs, 16)!;
  assert.equal(dims.length, MAX_DIMS);
  assert.equal(dims[0], 13);
  assert.equal(new Set(dims).size, MAX_DIMS);
  assert.equal(
    pfnInputDimensions(
      obs.map((o) => ({ config: o.config.slice(0, 8), value: o.value })),
      8,
    ),
    undefined,
  );
  // Too few observations to select on: the first MAX_DIMS, in order.
  assert.deepEqual(
    pfnInputDimensions(obs.slice(0, MIN_RANKED_OBSERVATIONS - 1), 16),
    Array.from({ length: MAX_DIMS }, (_, j) => j),
  );

  // Through ifBO: a decision on sixteen hyperparameters, and predictions that move with input 13 and not with
  // an input left out.
  const { model } = loadPfn();
  const trials = obs.slice(0, 24).map((o) => ({ config: o.config, values: [0.5 + o.value, 0.45 + o.value] }));
  const candidates = obs.slice(24, 74).map((o) => o.config);
  const ifbo = new Ifbo(model);
  const decision = ifbo.decide({
    trials,
    maxFidelity: 20,
    budgetLeft: 100,
    newCandidates: candidates,
    rng: new Rng(1),
  });
  assert.ok(decision.kind === 'thaw' ? decision.trial < trials.length : decision.candidate < candidates.length);
  const read = pfnInputDimensions(
    trials.map((t) => ({ config: t.config, value: Math.min(...t.values) })),
    16,
  )!;
  const unread = Array.from({ length: 16 }, (_, j) => j).find((j) => !read.includes(j))!;
  const base = Array.from({ length: 16 }, () => 0.5);
  const moved = (j: number) => base.map((x, i) => (i === j ? 0.95 : x));
  const [atBase, moved13, movedUnread] = ifbo.predict(
    trials,
    20,
    [base, moved(13), moved(unread)].map((config) => ({ config, step: 10 })),
    3,
  );
  assert.notEqual(moved13!.mean, atBase!.mean);
  assert.equal(movedUnread!.mean, atBase!.mean);
});

test('dimension importance: the input that matters carries the fit; shares sum to 1; equal under a sign flip and a permutation of the inputs', () => {
  const obs = valley(new Rng(12), 80);
  const imp = dimensionImportance(obs)!;
  assert.equal(imp.observations, 80);
  assert.equal(imp.order[0], 3);
  assert.ok(imp.fit > 0.7, `fit ${imp.fit}`);
  assert.ok(imp.share[3]! > 0.5, `share ${imp.share.join(', ')}`);
  assert.ok(Math.abs(imp.share.reduce((a, b) => a + b, 0) - 1) < 1e-12);
  imp.share.forEach((s, j) => assert.ok(imp.order.includes(j) ? s >= 0 : s === 0));
  assert.ok(imp.alone[3]! > 0.7, `alone ${imp.alone[3]}`);
  for (let j = 0; j < 8; j++)
    if (j !== 3) assert.ok(imp.alone[j]! >= 0 && imp.alone[j]! < 0.35, `alone[${j}] ${imp.alone[j]}`);
  // The fit it reports is the leave-one-out fit on the selection, computed here with neighbourMean.
  const mask = dimensionMask(imp.order, 8);
  const looPredicted = obs.map((o, i) => neighbourMean(obs, o.config, mask, i));
  assert.equal(
    imp.fit,
    rankCorrelation(
      looPredicted,
      obs.map((o) => o.value),
    ),
  );
  assert.equal(leaveOneOutFit(obs, mask), imp.fit);

  // A maximised objective (values negated) has the same importance; so do the inputs in another order.
  assert.deepEqual(dimensionImportance(obs.map((o) => ({ config: o.config, value: -o.value }))), imp);
  const perm = [5, 2, 7, 0, 6, 1, 3, 4]; // input j moves to position perm[j]
  const permuted = obs.map((o) => {
    const c = new Array<number>(8);
    o.config.forEach((x, j) => (c[perm[j]!] = x));
    return { config: c, value: o.value };
  });
  const p = dimensionImportance(permuted)!;
  assert.deepEqual(
    p.order,
    imp.order.map((j) => perm[j]!),
  );
  for (let j = 0; j < 8; j++) {
    assert.ok(Math.abs(p.share[perm[j]!]! - imp.share[j]!) < 1e-9);
    assert.ok(Math.abs(p.alone[perm[j]!]! - imp.alone[j]!) < 1e-9);
  }
});

test('dimension importance: two inputs that matter equally share the fit; too few observations → none', () => {
  const rng = new Rng(13);
  const obs = Array.from({ length: 90 }, () => {
    const config = Array.from({ length: 8 }, () => rng.uniform(0, 1));
    return { config, value: (config[1]! - 0.5) ** 2 + (config[6]! - 0.5) ** 2 };
  });
  const imp = dimensionImportance(obs)!;
  assert.ok(imp.order.includes(1) && imp.order.includes(6), `order ${imp.order.join(', ')}`);
  assert.ok(imp.share[1]! > 0.25 && imp.share[6]! > 0.25, `share ${imp.share.join(', ')}`);
  assert.ok(imp.share[1]! + imp.share[6]! > 0.8);
  assert.equal(dimensionImportance(obs.slice(0, MIN_RANKED_OBSERVATIONS - 1)), undefined);
  // Leaving every input out tells nothing.
  assert.equal(leaveOneOutFit(obs, new Array<boolean>(8).fill(false)), 0);
});
