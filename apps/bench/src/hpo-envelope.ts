// `npm run bench:hpo-envelope [-- --tasks-dir DIR] [-- --seeds N] [-- --json]`: how low the normalised regret
// of bench:hpo can go on a set of tasks for rules that screen configurations by their early values — the
// context for its targets. Per task: how many of the table's configurations ever come within a regret of
// 0.08 / 0.20, and when the best one gets there; then successive halving over a grid of its three settings
// (configurations per bracket, first rung, η), each budget's best grid point picked AFTER seeing the
// results on these same tasks: an optimistic reference for "screen, then promote", not a method. Last, a
// bound no rule that draws its configurations blind (uniformly, as random search, successive halving,
// Hyperband and ASHA do) can beat: a clairvoyant screen that knows every drawn configuration's whole curve
// after one step and spends the rest of the budget on the best of them.
import { Rng, deriveSeed } from '@floe/random';
import { benchOptions, clairvoyantScreen, loadTask, regret, traceRegret, type Task } from './hpo-replay.js';

const { opt, json, taskFiles } = benchOptions(process.argv.slice(2));
const seeds = Number(opt('seeds', '40'));
const BUDGETS = [250, 1000];
const THRESHOLDS = [0.08, 0.2];

const tasks: Task[] = taskFiles.map((f) => loadTask(f));

const perTask = tasks.map((task) => {
  const bestOf = task.curves.map((c) => Math.min(...c));
  const within = Object.fromEntries(
    THRESHOLDS.map((r) => [String(r), bestOf.filter((v) => regret(task, v) <= r).length]),
  );
  const bestIndex = bestOf.indexOf(Math.min(...bestOf));
  const firstStepWithin = (r: number) => task.curves[bestIndex]!.findIndex((v) => regret(task, v) <= r) + 1;
  return {
    task: task.name,
    configurations: task.curves.length,
    within,
    best_configuration_reaches: Object.fromEntries(THRESHOLDS.map((r) => [String(r), firstStepWithin(r)])),
  };
});

/** Successive halving on the table: brackets of n configurations at r0 steps, the best 1/η promoted ×η. */
function successiveHalving(task: Task, seed: number, n: number, r0: number, eta: number): number[] {
  const length = task.curves[0]!.length;
  const order = new Rng(deriveSeed(seed, `envelope:${task.name}`)).shuffle(task.curves.map((_, i) => i));
  const budget = Math.max(...BUDGETS);
  const trace: number[] = [];
  let best = Infinity;
  const reveal = (i: number, upTo: number, have: Map<number, number>) => {
    while ((have.get(i) ?? 0) < upTo && trace.length < budget) {
      const step = have.get(i) ?? 0;
      best = Math.min(best, task.curves[i]![step]!);
      have.set(i, step + 1);
      trace.push(best);
    }
  };
  while (trace.length < budget && order.length > 0) {
    let members = order.splice(0, n);
    const have = new Map<number, number>();
    for (let r = r0; members.length > 0 && trace.length < budget; r = Math.min(length, r * eta)) {
      for (const i of members) reveal(i, r, have);
      if (r >= length) break;
      const at = (i: number) => task.curves[i]![(have.get(i) ?? 1) - 1]!;
      members = [...members].sort((a, b) => at(a) - at(b)).slice(0, Math.max(1, Math.floor(members.length / eta)));
    }
  }
  return trace;
}

const grid: { n: number; r0: number; eta: number; regret: Record<string, number> }[] = [];
for (const n of [27, 54, 81, 128, 200, 300])
  for (const r0 of [1, 2, 3, 5])
    for (const eta of [2, 3, 4]) {
      const sums = Object.fromEntries(BUDGETS.map((b) => [String(b), 0]));
      for (const task of tasks)
        for (let s = 0; s < seeds; s++) {
          const trace = successiveHalving(task, s, n, r0, eta);
          for (const b of BUDGETS) sums[String(b)]! += traceRegret(task, trace, b);
        }
      grid.push({
        n,
        r0,
        eta,
        regret: Object.fromEntries(BUDGETS.map((b) => [String(b), sums[String(b)]! / (tasks.length * seeds)])),
      });
    }
const envelope = Object.fromEntries(
  BUDGETS.map((b) => {
    const best = [...grid].sort((x, y) => x.regret[String(b)]! - y.regret[String(b)]!)[0]!;
    return [
      String(b),
      { mean_normalised_regret: Number(best.regret[String(b)]!.toFixed(4)), n: best.n, r0: best.r0, eta: best.eta },
    ];
  }),
);

const screens = tasks.map(clairvoyantScreen);
const clairvoyant = Object.fromEntries(
  [100, ...BUDGETS].map((b) => {
    let sum = 0;
    tasks.forEach((task, t) => {
      for (let s = 0; s < seeds; s++) {
        const order = new Rng(deriveSeed(s, `clairvoyant:${task.name}`)).shuffle(task.curves.map((_, i) => i));
        sum += screens[t]!(order, b);
      }
    });
    return [String(b), Number((sum / (tasks.length * seeds)).toFixed(4))];
  }),
);

const result = {
  tasks: perTask,
  seeds,
  successive_halving_grid_points: grid.length,
  hindsight_best_successive_halving: envelope,
  clairvoyant_screen: clairvoyant,
};
if (json) console.log(JSON.stringify(result));
else {
  console.log('configurations that ever come within a normalised regret of 0.08 / 0.20 (of 1000), and the step');
  console.log('at which the best configuration first does:');
  for (const t of perTask)
    console.log(
      `  ${t.task.padEnd(56)} ${String(t.within['0.08']).padStart(3)} / ${String(t.within['0.2']).padStart(3)}   step ${t.best_configuration_reaches['0.08']} / ${t.best_configuration_reaches['0.2']}`,
    );
  console.log(
    `\nsuccessive halving, the best of ${grid.length} settings per budget chosen in hindsight (${seeds} seeds):`,
  );
  for (const [b, e] of Object.entries(envelope))
    console.log(`  at ${b} steps: ${e.mean_normalised_regret.toFixed(3)}  (n ${e.n}, first rung ${e.r0}, η ${e.eta})`);
  console.log(
    `\nthe clairvoyant screen (every drawn configuration's curve known after one step), a bound for blind rules:`,
  );
  for (const [b, r] of Object.entries(clairvoyant)) console.log(`  at ${b} steps: ${r.toFixed(3)}`);
}
