// `npm run bench:hpo [-- --tasks-dir DIR] [-- --seeds N] [-- --budget B] [-- --methods a,b] [-- --json]`:
// freeze-thaw HPO replayed on tabular learning curves (default ../shared/data/taskset: TaskSet, 1000
// configurations × 50 validation-loss checkpoints per task). A trial "trains" by revealing the next point of
// its curve and sees only the points it paid for; each optimiser gets the same tasks, seeds and budget.
// Reports the mean normalised regret (best seen − best in table) ÷ (ln 2 − best in table), clipped to
// [0, 1], at 100/250/500/1000 revealed steps; Suggest latency of ifBO at 100/500/1000 observed points;
// the surrogate's log-likelihood and MSE of the final value on the tasks' own curves cut at 10/25/50 %,
// next to the power-law ensemble's; and, where Debian's python3-optuna is installed, Optuna 3.1 on the
// same tasks (../shared/anchors/optuna_taskset.py) in the same run.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import { initBackend } from '@floe/ml-runtime';
import { Rng, deriveSeed } from '@floe/random';
import {
  Asha,
  Ifbo,
  MedianStopping,
  PowerLawEnsemble,
  RandomSearch,
  SuccessiveHalving,
  bucketLogDensity,
  bucketMean,
  loadPfn,
  powerLawPredict,
  type FreezeThawOptimizer,
  type TrialCurve,
} from '@floe/surrogate';

const args = process.argv.slice(2);
const opt = (name: string, fallback: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1]! : fallback;
};
const json = args.includes('--json');
const root = new URL('../../..', import.meta.url).pathname;
const tasksDir = resolve(opt('tasks-dir', join(root, '..', 'shared', 'data', 'taskset')));
const seeds = Number(opt('seeds', '20'));
const budget = Number(opt('budget', '1000'));
const CHECKPOINTS = [100, 250, 500, 1000].filter((b) => b <= budget);
const RANDOM_CANDIDATES = Number(opt('candidates', '200'));
const LOCAL_CANDIDATES = 32;
const log = (msg: string) => {
  if (!json) process.stderr.write(msg);
};

interface Task {
  name: string;
  /** [configs][50] validation losses after step 0; missing values = the task's largest value. */
  curves: number[][];
  /** Configurations normalised to [0, 1]^8 (log scale where the table spans decades). */
  configs: number[][];
  best: number;
}

const KEYS = ['learning_rate', 'beta1', 'beta2', 'epsilon', 'l1', 'l2', 'linear_decay', 'exponential_decay'];

function loadTask(file: string): Task {
  const d = JSON.parse(readFileSync(file, 'utf8')) as {
    task: string;
    curves: { hp: Record<string, number>; valid: (number | null)[] }[];
  };
  let max = -Infinity;
  for (const c of d.curves) for (const v of c.valid) if (v !== null && Number.isFinite(v)) max = Math.max(max, v);
  const curves = d.curves.map((c) => c.valid.slice(1).map((v) => (v === null || !Number.isFinite(v) ? max : v)));
  const keys = Object.keys(d.curves[0]!.hp).length ? Object.keys(d.curves[0]!.hp) : KEYS;
  const cols = keys.map((k) => d.curves.map((c) => c.hp[k]!));
  const configs = d.curves.map((_, i) =>
    cols.map((col) => {
      const lo = Math.min(...col);
      const hi = Math.max(...col);
      const x = col[i]!;
      if (lo > 0 && hi / lo > 100) return (Math.log(x) - Math.log(lo)) / (Math.log(hi) - Math.log(lo));
      return (x - lo) / (hi - lo + 1e-12);
    }),
  );
  let best = Infinity;
  for (const c of curves) for (const v of c) best = Math.min(best, v);
  return { name: d.task, curves, configs, best };
}

const files = readdirSync(tasksDir)
  .filter((f) => f.endsWith('.json'))
  .sort();
if (files.length === 0) throw new Error(`no task files (*.json) in ${tasksDir}`);
const tasks = files.map((f) => loadTask(join(tasksDir, f)));
const WORST = Math.log(2);

const backend = await initBackend('auto');
const { model: pfn, meta } = loadPfn();

/** One replay: the best value seen after each revealed step. */
function replay(
  task: Task,
  optimizer: FreezeThawOptimizer,
  seed: number,
  onDecide?: (observed: number, ms: number) => void,
): number[] {
  const maxFidelity = task.curves[0]!.length;
  const trials: (TrialCurve & { pool: number })[] = [];
  const used = new Uint8Array(task.curves.length);
  const trace: number[] = [];
  let best = Infinity;
  let bestPool = -1;
  const rng = new Rng(deriveSeed(seed, `replay:${task.name}`));
  for (let spent = 0; spent < budget; spent++) {
    const unused: number[] = [];
    for (let i = 0; i < used.length; i++) if (!used[i]) unused.push(i);
    if (unused.length === 0 && trials.every((t) => t.values.length >= maxFidelity)) break;
    // Candidates: a random sample of the unused table, plus the unused neighbours of the incumbent.
    const pick = rng.shuffle(unused.slice()).slice(0, RANDOM_CANDIDATES);
    if (bestPool >= 0) {
      const c0 = task.configs[bestPool]!;
      const near = unused
        .map((i) => ({ i, d: task.configs[i]!.reduce((s, v, j) => s + (v - c0[j]!) ** 2, 0) }))
        .sort((a, b) => a.d - b.d)
        .slice(0, LOCAL_CANDIDATES)
        .map((x) => x.i);
      for (const i of near) if (!pick.includes(i)) pick.push(i);
    }
    const started = performance.now();
    const decision = optimizer.decide({
      trials,
      maxFidelity,
      budgetLeft: budget - spent,
      newCandidates: pick.map((i) => task.configs[i]!),
      rng: new Rng(deriveSeed(seed, `decision:${spent}`)),
    });
    onDecide?.(spent, performance.now() - started);
    let trial: TrialCurve & { pool: number };
    if (decision.kind === 'new' && pick.length > 0) {
      const pool = pick[decision.candidate]!;
      used[pool] = 1;
      trial = { config: task.configs[pool]!, values: [], pool };
      trials.push(trial);
    } else if (decision.kind === 'thaw') trial = trials[decision.trial]!;
    else break;
    const v = task.curves[trial.pool]![trial.values.length]!;
    trial.values.push(v);
    if (v < best) {
      best = v;
      bestPool = trial.pool;
    }
    trace.push(best);
  }
  return trace;
}

const regret = (task: Task, v: number) => Math.min(1, Math.max(0, (v - task.best) / (WORST - task.best)));

const factories: Record<string, () => FreezeThawOptimizer> = {
  ifbo: () => new Ifbo(pfn),
  power_law: () => new PowerLawEnsemble(),
  successive_halving: () => new SuccessiveHalving(false),
  hyperband: () => new SuccessiveHalving(true),
  asha: () => new Asha(),
  median_stopping: () => new MedianStopping(),
  random: () => new RandomSearch(),
};
const methods = opt('methods', Object.keys(factories).join(',')).split(',');

const meanRegret: Record<string, Record<string, number>> = {};
const suggestSamples: Record<number, number[]> = { 100: [], 500: [], 1000: [] };
const started = performance.now();
for (const method of methods) {
  const make = factories[method];
  if (!make) throw new Error(`unknown method ${method}; known: ${Object.keys(factories).join(', ')}`);
  const sums: Record<number, number[]> = Object.fromEntries(CHECKPOINTS.map((b) => [b, []]));
  const t0 = performance.now();
  for (const task of tasks) {
    for (let s = 0; s < seeds; s++) {
      const onDecide =
        method === 'ifbo'
          ? (observed: number, ms: number) => {
              for (const at of [100, 500, 1000])
                if (observed >= at - 5 && observed < at + 5) suggestSamples[at]!.push(ms);
            }
          : undefined;
      const trace = replay(task, make(), s, onDecide);
      for (const b of CHECKPOINTS) sums[b]!.push(regret(task, trace[Math.min(b, trace.length) - 1]!));
      log(`\r${method.padEnd(20)} ${task.name.slice(0, 40).padEnd(40)} seed ${s + 1}/${seeds}   `);
    }
  }
  meanRegret[method] = Object.fromEntries(
    CHECKPOINTS.map((b) => [String(b), Number((sums[b]!.reduce((a, x) => a + x, 0) / sums[b]!.length).toFixed(4))]),
  );
  log(
    `\r${method.padEnd(20)} ${CHECKPOINTS.map((b) => `${b}: ${meanRegret[method]![String(b)]!.toFixed(3)}`).join('  ')}   (${((performance.now() - t0) / 1000).toFixed(0)} s)\n`,
  );
}

// Curve prediction on the tasks' own curves: final value from the first 10/25/50 % of a curve.
const CUTS = [10, 25, 50];
const curveNll: Record<string, Record<string, number>> = { pfn: {}, power_law: {} };
const curveMse: Record<string, Record<string, number>> = { pfn: {}, power_law: {} };
let curvesScored = 0;
{
  const ifbo = new Ifbo(pfn, { bounds: { lo: 0, hi: WORST } });
  const rng = new Rng(7);
  for (const cut of CUTS) {
    const acc = { pfn: { nll: 0, mse: 0 }, power_law: { nll: 0, mse: 0 } };
    let n = 0;
    for (const task of tasks) {
      const length = task.curves[0]!.length;
      const k = Math.max(2, Math.round((length * cut) / 100));
      // Curves whose values stay on the scale (0, ln 2): the density of a clipped value is not comparable.
      const eligible = task.curves.map((c, i) => i).filter((i) => task.curves[i]!.every((v) => v > 0 && v < WORST));
      const sample = rng.shuffle(eligible).slice(0, 100);
      for (const i of sample) {
        const curve = task.curves[i]!;
        const final = curve[length - 1]!;
        const prefix = curve.slice(0, k);
        const probs = pfnPredictFinal(ifbo, task.configs[i]!, prefix, length);
        const nb = pfn.config.buckets;
        const yFinal = 1 - final / WORST;
        // Density of the value = density of y ÷ (hi − lo).
        acc.pfn.nll += -(bucketLogDensity(probs, nb, yFinal) - Math.log(WORST));
        acc.pfn.mse += ((1 - bucketMean(probs, nb)) * WORST - final) ** 2;
        const g = powerLawPredict(prefix, length);
        acc.power_law.nll += 0.5 * Math.log(2 * Math.PI * g.std ** 2) + (final - g.mean) ** 2 / (2 * g.std ** 2);
        acc.power_law.mse += (g.mean - final) ** 2;
        n++;
      }
    }
    curvesScored = n;
    for (const m of ['pfn', 'power_law'] as const) {
      curveNll[m]![String(cut)] = Number((acc[m].nll / n).toFixed(4));
      curveMse[m]![String(cut)] = Number((acc[m].mse / n).toExponential(3));
    }
  }
}

function pfnPredictFinal(ifbo: Ifbo, config: number[], prefix: number[], length: number): Float32Array {
  // The prediction's bucket probabilities, through the same input path the optimiser uses.
  const trials: TrialCurve[] = [{ config, values: prefix }];
  const preds = ifbo.predictBuckets(trials, length, [{ trial: 0, config, step: length }], 1);
  return preds;
}

const percentile = (xs: number[], p: number) => {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};
const suggestMs = Object.fromEntries(
  Object.entries(suggestSamples).map(([at, xs]) => [
    at,
    { p50: Number(percentile(xs, 50).toFixed(2)), p99: Number(percentile(xs, 99).toFixed(2)), samples: xs.length },
  ]),
);

// Optuna 3.1 beside, when Debian's python3-optuna is installed.
let optuna: Record<string, Record<string, number>> | undefined;
const anchor = join(root, '..', 'shared', 'anchors', 'optuna_taskset.py');
if (
  !args.includes('--no-optuna') &&
  existsSync(anchor) &&
  spawnSync('/usr/bin/python3', ['-c', 'import optuna'], { stdio: 'ignore' }).status === 0
) {
  log('optuna 3.1 (python3-optuna) on the same tasks …\n');
  const r = spawnSync('/usr/bin/python3', [anchor, tasksDir, '--seeds', String(seeds), '--budget', String(budget)], {
    encoding: 'utf8',
    maxBuffer: 1 << 26,
  });
  if (r.status === 0) {
    const line = r.stdout.trim().split('\n').pop()!;
    optuna = (JSON.parse(line) as { mean_normalised_regret: Record<string, Record<string, number>> })
      .mean_normalised_regret;
    Object.assign(meanRegret, optuna);
  } else log(`optuna anchor failed: ${r.stderr.slice(-500)}\n`);
}

const result = {
  tasks: tasks.map((t) => t.name),
  seeds,
  budget_steps: budget,
  candidates_per_decision: `${RANDOM_CANDIDATES} random unused + ${LOCAL_CANDIDATES} nearest to the incumbent, plus every paused trial`,
  backend: backend.name,
  surrogate: {
    ...meta.config,
    parameters: meta.parameters,
    training_steps: meta.steps,
    training_seconds: meta.wall_seconds,
  },
  mean_normalised_regret: meanRegret,
  suggest_ms: suggestMs,
  curve_nll: curveNll,
  curve_mse: curveMse,
  curves_scored_per_cut: curvesScored,
  total_s: Math.round((performance.now() - started) / 1000),
};
if (json) console.log(JSON.stringify(result));
else {
  console.log(`\nmean normalised regret (${tasks.length} tasks × ${seeds} seeds, budget ${budget} revealed steps)`);
  console.log('method'.padEnd(28) + CHECKPOINTS.map((b) => String(b).padStart(8)).join(''));
  for (const [m, r] of Object.entries(meanRegret))
    console.log(m.padEnd(28) + CHECKPOINTS.map((b) => (r[String(b)] ?? NaN).toFixed(3).padStart(8)).join(''));
  console.log(`\nifBO Suggest (${result.candidates_per_decision}):`);
  for (const [at, s] of Object.entries(suggestMs))
    console.log(`  at ${at} observed points: p50 ${s.p50} ms, p99 ${s.p99} ms (${s.samples} decisions)`);
  console.log(
    `\nfinal value from the first 10/25/50 % of a real curve (${curvesScored} curves per cut; NLL in nats, lower is better)`,
  );
  for (const cut of CUTS)
    console.log(
      `  ${String(cut).padStart(2)} %: NLL pfn ${curveNll.pfn![String(cut)]!.toFixed(3)} vs power law ${curveNll.power_law![String(cut)]!.toFixed(3)};` +
        ` MSE pfn ${curveMse.pfn![String(cut)]} vs power law ${curveMse.power_law![String(cut)]}`,
    );
  console.log('\n' + JSON.stringify(result));
}
