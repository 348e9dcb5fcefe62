// npm run bench:bcd [-- --json]
//
// Greedy block coordinate descent on the paper's convex problems (least squares and L2-regularised
// logistic regression with variable blocks, libs/training/src/bcd.ts): block updates x_b ← x_b − ∇_b f/L_b
// until f − f* ≤ 10⁻³·(f(0) − f*), for every rule, on two problem seeds.
// Then the transformer LM (tiny: embedding, two blocks, head) on builtin:spam-assassin through the trainer's
// BCD strategy (TrainingSession + BlockCoordinateTraining, AdamW): validation loss after the same number
// of block updates for every rule, beside full updates (every block each step) with (a) as many block
// updates (steps ÷ blocks) and (b) as much wall time as the slowest rule took. Several seeds.
import { loadBuiltin, selectSplit, type TextDataset } from '@floe/data';
import { initBackend } from '@floe/ml-runtime';
import { buildModel } from '@floe/models';
import { meanWithStandardError } from '@floe/metrics';
import {
  BCD_RULES,
  BlockCoordinateTraining,
  DEFAULT_OPTIMIZER,
  LmSource,
  TrainingSession,
  fullGradientOptimum,
  updatesToTolerance,
  variableBlockProblems,
  type BcdRule,
} from '@floe/training';

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

// ---- the transformer LM
const quick = process.argv.includes('--quick');
const UPDATES = quick ? 80 : 400;
const SEEDS = quick ? 1 : 3;
await initBackend('auto');
const text = loadBuiltin('spam-assassin') as TextDataset;
const train = selectSplit(text, 'train');
const validation = selectSplit(text, 'validation');
const options = (totalSteps: number) => ({
  optimizer: { ...DEFAULT_OPTIMIZER, learningRate: 3e-3, weightDecay: 0.01 },
  schedule: { kind: 'constant' as const, warmupSteps: 0, minRatio: 1 },
  totalSteps,
});

/** Trains `steps` steps (BCD with `rule`, or full) and answers the validation loss on 8 fixed batches and the seconds. */
function lmRun(
  rule: BcdRule | 'full',
  steps: number,
  seed: number,
  seconds?: number,
): { loss: number; seconds: number; steps: number } {
  const model = buildModel('transformer-lm', 'tiny', seed);
  const session = new TrainingSession(model, new LmSource(train, 8, 64, seed), options(steps));
  if (rule !== 'full')
    session.selective = new BlockCoordinateTraining(
      model,
      session.optimizer,
      { rule, refreshEvery: 10, maxSkipped: 0, lipschitz: 'secant' },
      seed,
    );
  const start = performance.now();
  let done = 0;
  // With a time budget: full steps until the wall time of the BCD run is spent.
  while (seconds !== undefined ? (performance.now() - start) / 1000 < seconds : done < steps) {
    session.trainStep();
    done++;
  }
  const elapsed = (performance.now() - start) / 1000;
  const loss = session.evaluate(new LmSource(validation, 8, 64, 7919), 8);
  session.dispose();
  model.dispose();
  return { loss, seconds: elapsed, steps: done };
}

const blocks = buildModel('transformer-lm', 'tiny', 1).blocks.length;
const lm: Record<string, { loss: number; loss_se: number; seconds: number; steps: number }> = {};
const summarise = (rs: { loss: number; seconds: number; steps: number }[]) => {
  const { mean, se } = meanWithStandardError(rs.map((r) => r.loss));
  return {
    loss: Math.round(mean * 1e4) / 1e4,
    loss_se: Math.round(se * 1e4) / 1e4,
    seconds: Math.round((rs.reduce((s, r) => s + r.seconds, 0) / rs.length) * 10) / 10,
    steps: Math.round(rs.reduce((s, r) => s + r.steps, 0) / rs.length),
  };
};
const seeds = Array.from({ length: SEEDS }, (_, i) => i + 1);
log(`\ntransformer-lm/tiny on spam-assassin: ${UPDATES} block updates per rule (${blocks} blocks), ${SEEDS} seeds`);
for (const rule of BCD_RULES) {
  lm[rule] = summarise(seeds.map((seed) => lmRun(rule, UPDATES, seed)));
  log(`${rule.padEnd(18)} loss ${lm[rule]!.loss} ± ${lm[rule]!.loss_se}  ${lm[rule]!.seconds} s`);
}
const slowest = Math.max(...BCD_RULES.map((r) => lm[r]!.seconds));
lm['full_same_updates'] = summarise(seeds.map((seed) => lmRun('full', Math.round(UPDATES / blocks), seed)));
lm['full_same_time'] = summarise(seeds.map((seed) => lmRun('full', 0, seed, slowest)));
for (const k of ['full_same_updates', 'full_same_time'])
  log(`${k.padEnd(18)} loss ${lm[k]!.loss} ± ${lm[k]!.loss_se}  ${lm[k]!.steps} full steps, ${lm[k]!.seconds} s`);
if (json) process.stdout.write(JSON.stringify({ convex, lm }, null, 2) + '\n');
