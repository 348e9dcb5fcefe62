// Greedy block coordinate descent: GSL picks the block with the largest ‖g_b‖²/L_b; on least squares and
// logistic regression with variable blocks, GS and GSL reach the tolerance in fewer block updates than
// cyclic and random (Nutini, Laradji, Schmidt).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  BCD_RULES,
  BlockSelector,
  fullGradientOptimum,
  updatesToTolerance,
  variableBlockProblems,
  type BlockProblem,
} from '../src/bcd.js';

test('GSL picks argmax ‖g_b‖²/L_b, GS argmax ‖g_b‖², cyclic goes round, random ∝ L follows L', () => {
  const gradNormSq = [4, 9, 1, 16];
  const lipschitz = [1, 9, 0.1, 32];
  // ‖g‖²/L = 4, 1, 10, 0.5 → block 2; ‖g‖² → block 3.
  assert.equal(new BlockSelector('gsl', 4).pick({ gradNormSq, lipschitz }), 2);
  assert.equal(new BlockSelector('gs', 4).pick({ gradNormSq, lipschitz }), 3);
  const cyclic = new BlockSelector('cyclic', 4);
  assert.deepEqual(
    [0, 1, 2, 3, 4].map(() => cyclic.pick()),
    [0, 1, 2, 3, 0],
  );
  const sampler = new BlockSelector('random-lipschitz', 4, 3);
  const counts = [0, 0, 0, 0];
  for (let k = 0; k < 20_000; k++) counts[sampler.pick({ lipschitz })]!++;
  const total = lipschitz.reduce((s, l) => s + l, 0);
  counts.forEach((c, b) => assert.ok(Math.abs(c / 20_000 - lipschitz[b]! / total) < 0.015, `block ${b}: ${c}`));
  assert.throws(() => new BlockSelector('gsl', 4).pick({ gradNormSq }), /needs lipschitz/);
});

function problems(seed: number): { name: string; p: BlockProblem; fStar: number }[] {
  const { leastSquares, logistic } = variableBlockProblems(seed);
  return [
    { name: `least squares #${seed}`, p: leastSquares, fStar: fullGradientOptimum(leastSquares, 30_000) },
    { name: `logistic regression #${seed}`, p: logistic, fStar: fullGradientOptimum(logistic, 30_000) },
  ];
}

// Seed 5 is the problem the setting was looked at on; seed 11 was not.
test('on least squares and logistic regression, GS and GSL need fewer block updates than cyclic and random', (t) => {
  for (const { name, p, fStar } of [...problems(5), ...problems(11)]) {
    const updates = Object.fromEntries(
      BCD_RULES.map((rule) => [
        rule,
        updatesToTolerance(p, rule, { optimum: fStar, tolerance: 1e-3, maxUpdates: 40_000, seed: 1 }),
      ]),
    ) as Record<(typeof BCD_RULES)[number], number>;
    t.diagnostic(`${name}: ${JSON.stringify(updates)}`);
    for (const greedy of ['gs', 'gsl'] as const)
      for (const baseline of ['cyclic', 'random'] as const)
        assert.ok(
          updates[greedy] < updates[baseline],
          `${name}: ${greedy} ${updates[greedy]} vs ${baseline} ${updates[baseline]} (${JSON.stringify(updates)})`,
        );
    assert.ok(updates.gsl <= updates.gs, `${name}: GSL ${updates.gsl} vs GS ${updates.gs}`);
  }
});
