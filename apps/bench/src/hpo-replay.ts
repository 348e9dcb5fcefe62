// Tabular freeze-thaw replay for bench:hpo: a task's curves are the candidate pool; a trial "trains" by
// revealing the next point of its curve and the optimiser sees only the points it paid for.
import { readFileSync, readdirSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { Rng, deriveSeed } from '@floe/random';
import { spearman } from '@floe/xai';
import {
  Ifbo,
  createOptimizer,
  neighbourMean,
  relevantDimensions,
  type CurvePfn,
  type DecisionContext,
  type IfboOptions,
  type OptimizerName,
  type TrialCurve,
} from '@floe/surrogate';

export interface Task {
  name: string;
  /** [configs][steps] validation losses after step 0; missing values = the task's largest value. */
  curves: number[][];
  /**
   * With `failDiverged`: per configuration, the step (0-based) whose value is missing — its run diverged there
   * (a NaN or infinite loss in the table; none recovers) — or undefined. A replay then reports the trial
   * failed at that step, as the trainer does. Without it the missing values read as the task's largest value,
   * every step: the convention of the Python replay and of the Optuna anchor.
   */
  divergesAt?: (number | undefined)[];
  /**
   * Configurations normalised to [0, 1]^d: log scale where the table spans more than two decades, on
   * log(1 − x) where 1 − x spans more of them (Adam's β1 and β2 crowd below 1), otherwise linear.
   */
  configs: number[][];
  best: number;
}

/** The regret's scale: TaskSet's tasks are binary classifiers, whose chance-level loss is ln 2. */
export const WORST = Math.log(2);
/** New configurations scored per decision, as the hpo-surrogate service does: random ones plus local ones. */
export const RANDOM_CANDIDATES = 256;
export const LOCAL_CANDIDATES = 32;

/** A table of curves: ours (`{task, curves: [{hp, valid}]}`) or DPL's original (`[{hp, valid: {loss}}]`). */
type CurveTable =
  | { task: string; curves: { hp: Record<string, number>; valid: (number | null)[] }[] }
  | { hp: Record<string, number>; valid: { loss: (number | null)[] } }[];

/**
 * The command line bench:hpo's scripts share: `--name value` options, `--json`, and `--tasks-dir` (default
 * ../shared/data/taskset) with the task files in it, sorted.
 */
export function benchOptions(args: string[]) {
  const opt = (name: string, fallback: string) => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 ? args[i + 1]! : fallback;
  };
  const root = new URL('../../..', import.meta.url).pathname;
  const tasksDir = resolve(opt('tasks-dir', join(root, '..', 'shared', 'data', 'taskset')));
  const taskFiles = readdirSync(tasksDir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => join(tasksDir, f));
  if (taskFiles.length === 0) throw new Error(`no task files (*.json) in ${tasksDir}`);
  return { opt, json: args.includes('--json'), root, tasksDir, taskFiles };
}

/** A table file in our format (`{task, curves: [{hp, valid}]}`), and whether it was written in DPL's. */
export function readCurveTable(file: string): { table: Exclude<CurveTable, unknown[]>; fromDpl: boolean } {
  // Python's json writes diverged runs as bare NaN / Infinity (DPL's files do): read them as missing values.
  const text = readFileSync(file, 'utf8').replace(/-?\bInfinity\b|\bNaN\b/g, 'null');
  const raw = JSON.parse(text) as CurveTable;
  // DPL's files (releaunifreiburg/DPL, data/taskset) hold more TaskSet tasks than ../shared/data: the held-out ones.
  if (!Array.isArray(raw)) return { table: raw, fromDpl: false };
  const task = basename(file).replace(/\.json$/, '');
  return { table: { task, curves: raw.map((c) => ({ hp: c.hp, valid: c.valid.loss })) }, fromDpl: true };
}

/**
 * How a column of hyperparameter values maps to [0, 1], decided once per column: log where the values span
 * more than two decades, log(1 − x) where 1 − x (values in (0, 1)) spans more of them than x, else linear.
 * The same scales a search space declares (libs/surrogate's search-space.ts); the arithmetic is kept as the
 * committed bench figures were measured with it (the library's differs in the last bits, which moves the
 * power-law ensemble's near-tied choices).
 */
function columnEncoder(column: number[]): (x: number) => number {
  const lo = Math.min(...column);
  const hi = Math.max(...column);
  const decades = lo > 0 ? Math.log10(hi / lo) : 0;
  const decadesBelowOne = lo > 0 && hi < 1 ? Math.log10((1 - lo) / (1 - hi)) : 0;
  if (decadesBelowOne > 2 && decadesBelowOne > decades)
    return (x) => 1 - (Math.log(1 - x) - Math.log(1 - hi)) / (Math.log(1 - lo) - Math.log(1 - hi));
  if (decades > 2) return (x) => (Math.log(x) - Math.log(lo)) / (Math.log(hi) - Math.log(lo));
  return (x) => (x - lo) / (hi - lo + 1e-12);
}

/** A table as a replayable task; `failDiverged`: its diverged runs fail where they diverge (Task.divergesAt). */
export function taskFromTable(d: Exclude<CurveTable, unknown[]>, { failDiverged = false } = {}): Task {
  let max = -Infinity;
  for (const c of d.curves) for (const v of c.valid) if (v !== null && Number.isFinite(v)) max = Math.max(max, v);
  const missing = (v: number | null) => v === null || !Number.isFinite(v);
  const afterStart = d.curves.map((c) => c.valid.slice(1));
  const curves = afterStart.map((values) => values.map((v) => (missing(v) ? max : v!)));
  const encoders = Object.keys(d.curves[0]!.hp).map((name) => ({
    name,
    encode: columnEncoder(d.curves.map((c) => c.hp[name]!)),
  }));
  const configs = d.curves.map((c) => encoders.map(({ name, encode }) => encode(c.hp[name]!)));
  let best = Infinity;
  for (const c of curves) for (const v of c) best = Math.min(best, v);
  if (!failDiverged) return { name: d.task, curves, configs, best };
  const divergesAt = afterStart.map((values) => {
    const at = values.findIndex(missing);
    return at >= 0 ? at : undefined;
  });
  return { name: d.task, curves, configs, best, divergesAt };
}

export const loadTask = (file: string, options?: { failDiverged?: boolean }): Task =>
  taskFromTable(readCurveTable(file).table, options);

export const regret = (task: Task, v: number) => Math.min(1, Math.max(0, (v - task.best) / (WORST - task.best)));

/** The regret of a replay's trace after `step` revealed steps (its last value when it stopped earlier). */
export const traceRegret = (task: Task, trace: readonly number[], step: number) =>
  regret(task, trace[Math.min(step, trace.length) - 1]!);

/**
 * The clairvoyant screen on `task`: for one order of the configurations and a budget, its regret. Having
 * touched the first n (one step each, at least), at most budget − n + 1 steps are left for any one of them; n
 * is chosen with hindsight for the order. Any blind rule's best after `budget` steps is a value of one of the
 * configurations it touched, within that many of its steps — so its regret is at least this.
 */
export function clairvoyantScreen(task: Task): (order: readonly number[], budget: number) => number {
  const length = task.curves[0]!.length;
  // bestWithin[i][k − 1]: configuration i's best value in its first k steps (once per task, not per order).
  const bestWithin = task.curves.map((c) => {
    let m = Infinity;
    return c.map((v) => (m = Math.min(m, v)));
  });
  return (order, budget) => {
    const n = Math.min(order.length, budget);
    // Up to n = budget − length + 1 every touched configuration can still be run to its end: more is better.
    const full = Math.min(n, Math.max(0, budget - length + 1));
    let best = Infinity;
    for (let i = 0; i < full; i++) best = Math.min(best, bestWithin[order[i]!]![length - 1]!);
    // Past it, the one configuration that goes deepest gets budget − n + 1 steps.
    for (let touched = full + 1; touched <= n; touched++) {
      const k = budget - touched + 1;
      for (let i = 0; i < touched; i++) best = Math.min(best, bestWithin[order[i]!]![k - 1]!);
    }
    return regret(task, best);
  };
}

/**
 * One replay of `method` on `task` with `seed`: the best value seen after each revealed step. `onDecision`
 * sees each decision's context before it is answered (the latency phase keeps some to time them);
 * `ifbo` sets ifBO's options (the context size).
 */
export function replay(
  task: Task,
  method: OptimizerName,
  pfn: CurvePfn | undefined,
  seed: number,
  budget: number,
  onDecision?: (ctx: DecisionContext, observed: number) => void,
  ifbo?: IfboOptions,
): number[] {
  const optimizer = createOptimizer(method, pfn, ifbo);
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
    // Candidates: a random sample of the unused table, plus the unused neighbours of the incumbent.
    const pick = rng.shuffle(unused.slice()).slice(0, RANDOM_CANDIDATES);
    const randomCandidates = pick.length;
    if (bestPool >= 0) {
      const c0 = task.configs[bestPool]!;
      const near = unused
        .map((i) => ({ i, d: task.configs[i]!.reduce((s, v, j) => s + (v - c0[j]!) ** 2, 0) }))
        .sort((a, b) => a.d - b.d)
        .slice(0, LOCAL_CANDIDATES)
        .map((x) => x.i);
      for (const i of near) if (!pick.includes(i)) pick.push(i);
    }
    if (pick.length === 0 && trials.every((t) => t.values.length >= maxFidelity)) break;
    const ctx: DecisionContext = {
      trials,
      maxFidelity,
      budgetLeft: budget - spent,
      newCandidates: pick.map((i) => task.configs[i]!),
      randomCandidates,
      rng: new Rng(deriveSeed(seed, `decision:${spent}`)),
    };
    onDecision?.(ctx, spent);
    const decision = optimizer.decide(ctx);
    let trial: TrialCurve & { pool: number };
    if (decision.kind === 'new' && pick.length > 0) {
      const pool = pick[decision.candidate]!;
      used[pool] = 1;
      trial = { config: task.configs[pool]!, values: [], pool };
      trials.push(trial);
    } else if (decision.kind === 'thaw') {
      trial = trials[decision.trial]!;
      if (trial.failed) throw new Error(`${optimizer.name} thawed trial ${decision.trial}, which failed`);
    } else break;
    if (trial.values.length === task.divergesAt?.[trial.pool]) {
      // The step was trained and the run diverged: spent, nothing observed, the trial over.
      trial.failed = true;
      trace.push(best);
      continue;
    }
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

/**
 * ifBO's decision contexts in the seed-0 replay of `task` (`budget` steps) at the given counts of observed
 * points, the trials copied so that later steps do not change them: the states Suggest latency is timed on.
 */
export function decisionStates(
  task: Task,
  pfn: CurvePfn,
  observedAt: readonly number[],
  budget: number,
  ifbo?: IfboOptions,
): Map<number, DecisionContext> {
  const states = new Map<number, DecisionContext>();
  replay(
    task,
    'ifbo',
    pfn,
    0,
    budget,
    (ctx, observed) => {
      if (observedAt.includes(observed))
        states.set(observed, { ...ctx, trials: ctx.trials.map((t) => ({ ...t, values: [...t.values] })) });
    },
    ifbo,
  );
  return states;
}

/** How well a study state ranks the configurations it has not tried (bench:hpo-ranking). */
export interface UntriedRanking {
  untried: number;
  /** Spearman correlation of ifBO's predicted final value with each untried configuration's best in the table. */
  pfnRho: number;
  /** The same for the mean best value of the 5 nearest tried configurations (a model-free reference). */
  nearestRho: number;
  /** The same, distance over the hyperparameters ifBO's configuration ranking selects (relevantDimensions). */
  selectedNearestRho: number;
  /** The table's ten best configurations among the untried ones, and how many ifBO ranks in its top 50. */
  topTenUntried: number;
  topTenInPredictedTop50: number;
  /** How many of them the configuration ranking (5 nearest on the selected hyperparameters) ranks in its top 50. */
  selectedTopTenInTop50: number;
}

/**
 * Replays ifBO on `task` for `at` steps with `seed`, then ranks every configuration it has not tried by the
 * PFN's predicted value at the curve's end (in context of the study so far) and compares with the table.
 */
export function rankUntried(task: Task, pfn: CurvePfn, seed: number, at: number): UntriedRanking {
  let trials: (TrialCurve & { pool?: number })[] = [];
  replay(task, 'ifbo', pfn, seed, at + 1, (ctx, observed) => {
    if (observed === at) trials = ctx.trials.map((t) => ({ ...t, values: [...t.values] }));
  });
  const truth = task.curves.map((c) => Math.min(...c));
  const tried = new Set(trials.map((t) => t.pool));
  const untried = truth.map((_, i) => i).filter((i) => !tried.has(i));
  const length = task.curves[0]!.length;
  const predicted = new Ifbo(pfn)
    .predict(
      trials,
      length,
      untried.map((i) => ({ config: task.configs[i]!, step: length })),
      seed,
    )
    .map((p) => p.mean);
  const observations = trials.map((t) => ({ config: t.config, value: Math.min(...t.values) }));
  const everyDimension = task.configs[0]!.map(() => true);
  const nearest = untried.map((i) => neighbourMean(observations, task.configs[i]!, everyDimension));
  const selected = relevantDimensions(observations);
  const selectedNearest = untried.map((i) => neighbourMean(observations, task.configs[i]!, selected));
  const untriedTruth = untried.map((i) => truth[i]!);
  const topTen = new Set(
    truth
      .map((_, i) => i)
      .sort((a, b) => truth[a]! - truth[b]!)
      .slice(0, 10),
  );
  const top50 = (by: number[]) =>
    untried
      .map((_, k) => k)
      .sort((a, b) => by[a]! - by[b]!)
      .slice(0, 50)
      .map((k) => untried[k]!);
  return {
    untried: untried.length,
    pfnRho: spearman(predicted, untriedTruth),
    nearestRho: spearman(nearest, untriedTruth),
    topTenUntried: untried.filter((i) => topTen.has(i)).length,
    selectedNearestRho: spearman(selectedNearest, untriedTruth),
    topTenInPredictedTop50: top50(predicted).filter((i) => topTen.has(i)).length,
    selectedTopTenInTop50: top50(selectedNearest).filter((i) => topTen.has(i)).length,
  };
}
