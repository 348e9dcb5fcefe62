// npm run bench:bcd [-- --json]
//
// Greedy block coordinate descent on the paper's convex problems (least squares and L2-regularised
// logistic regression with variable blocks, libs/training/src/bcd.ts): block updates x_b ← x_b − ∇_b f/L_b
// until f − f* ≤ 10⁻³·(f(0) − f*), for every rule, on two problem seeds.
// Not measured yet: the transformer-LM half (loss after a fixed number of block updates per rule beside
// full updates of the same compute) waits for the trainer's BCD strategy.
import { BCD_RULES, fullGradientOptimum, updatesToTolerance, variableBlockProblems } from '@floe/training';

const json = process.argv.includes('--json');
const log = (s: string) => process.stderr.write(s + '\n');

const convex: Record<string, Record<string, { updates_to_tolerance: number }>> = {};
for (const seed of [5, 11]) {
  const problems = variableBlockProblems(seed);
  for (const [name, p] of [
    [`least_squares_${seed}`, problems.leastSquares],
    [`logistic_${seed}`, problems.logistic],
  ] as const) {
    const optimum = fullGradientOptimum(p, 30_000);
    convex[name] = Object.fromEntries(
      BCD_RULES.map((rule) => [
        rule,
        {
          updates_to_tolerance: updatesToTolerance(p, rule, { optimum, tolerance: 1e-3, maxUpdates: 100_000, seed: 1 }),
        },
      ]),
    );
    log(`${name.padEnd(18)} ${BCD_RULES.map((r) => `${r} ${convex[name]![r]!.updates_to_tolerance}`).join('  ')}`);
  }
}
if (json) process.stdout.write(JSON.stringify({ convex, lm: null }, null, 2) + '\n');
