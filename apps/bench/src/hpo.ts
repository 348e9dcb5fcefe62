// `npm run bench:hpo [-- --tasks-dir DIR] [-- --seeds N] [-- --budget B] [-- --methods a,b] [-- --json]
// [-- --svg FILE] [-- --context-max N] [-- --min-improvement-buckets N] [-- --ranked-new-candidates N]
// [-- --acquisition-temperature T] [-- --first-seed N] [-- --fail-diverged]`:
// freeze-thaw HPO replayed on tabular learning curves (default ../shared/data/taskset: TaskSet, 1000
// configurations × 50 validation-loss checkpoints per task). A trial "trains" by revealing the next point of
// its curve and sees only the points it paid for; each optimiser gets the same tasks, seeds and budget. A
// run that diverged in the table (a NaN loss) reads as the table's largest value, every step: the convention
// of the issue's Python replay and of the Optuna anchor, so the figures compare. --fail-diverged makes it
// fail at that step instead, as a trainer run does, never thawed again (floe's rules only: the anchor reads
// the tables its own way).
// Reports the mean normalised regret (best seen − best in table) ÷ (ln 2 − best in table), clipped to
// [0, 1], at 100/250/500/1000 revealed steps; Suggest latency of ifBO at 100/500/1000 observed points;
// the surrogate's log-likelihood and MSE of the final value on the tasks' own curves cut at 10/25/50 %,
// next to the power-law ensemble's; and, where Debian's python3-optuna is installed, Optuna 3.1 on the
// same tasks (../shared/anchors/optuna_taskset.py) in the same run. --svg plots regret against steps.
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { fork, spawn, spawnSync } from 'node:child_process';
import { availableParallelism, tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { initBackend } from '@floe/ml-runtime';
import { Rng } from '@floe/random';
import {
  CurveScale,
  DEFAULT_CONTEXT_MAX,
  DEFAULT_RANKED_NEW_CANDIDATES,
  ACQUISITION_TEMPERATURE,
  Ifbo,
  MIN_IMPROVEMENT_BUCKETS,
  OPTIMIZER_NAMES,
  bucketLogDensity,
  bucketMean,
  createOptimizer,
  loadPfn,
  powerLawPredict,
  type OptimizerName,
  type TrialCurve,
} from '@floe/surrogate';
import {
  LOCAL_CANDIDATES,
  RANDOM_CANDIDATES,
  WORST,
  benchOptions,
  decisionStates,
  readCurveTable,
  taskFromTable,
  traceRegret,
} from './hpo-replay.js';
import { meanRegretAt, meanRegretCurve, regretPlot, type RegretSeries } from './hpo-plot.js';
import { quantile } from './stats.js';

const args = process.argv.slice(2);
const { opt, json, root, tasksDir, taskFiles: files } = benchOptions(args);
const seeds = Number(opt('seeds', '20'));
// Replays use seeds first-seed … first-seed + seeds − 1 (a second sample of seeds, to see the noise of a figure).
const firstSeed = Number(opt('first-seed', '0'));
if (!(Number.isInteger(firstSeed) && firstSeed >= 0))
  throw new Error(`--first-seed must be a non-negative integer, got ${opt('first-seed', '')}`);
const budget = Number(opt('budget', '1000'));
const CHECKPOINTS = [100, 250, 500, 1000].filter((b) => b <= budget);
const log = (msg: string) => {
  if (!json) process.stderr.write(msg);
};
// Each file read once: the tasks, and (DPL's) the tables rewritten for the Optuna anchor.
const tables = files.map((file) => ({ file, ...readCurveTable(file) }));
const failDiverged = args.includes('--fail-diverged');
const tasks = tables.map((t) => taskFromTable(t.table, { failDiverged }));
const weights = opt('weights', 'ft-pfn');
/** An ifBO flag that is a number when given (undefined leaves the library's default), checked by `valid`. */
function optionalNumber(name: string, valid: (v: number) => boolean, requirement: string): number | undefined {
  if (!args.includes(`--${name}`)) return undefined;
  const v = Number(opt(name, ''));
  if (!valid(v)) throw new Error(`--${name} must be ${requirement}, got ${opt(name, '')}`);
  return v;
}
// ifBO's context size (observed points the PFN reads per decision; default DEFAULT_CONTEXT_MAX).
const contextMax = optionalNumber('context-max', (v) => Number.isInteger(v) && v > 0, 'a positive integer');
// ifBO's smallest improvement in buckets (default MIN_IMPROVEMENT_BUCKETS).
const minImprovementBuckets = optionalNumber('min-improvement-buckets', (v) => v >= 0, 'a number ≥ 0');
// ifBO's new candidates kept by the configuration ranking (default DEFAULT_RANKED_NEW_CANDIDATES; 0: all).
const rankedNewCandidates = optionalNumber(
  'ranked-new-candidates',
  (v) => Number.isInteger(v) && v >= 0,
  'an integer ≥ 0',
);
// MFPI-random's temperature on the PFN's predictions (default ACQUISITION_TEMPERATURE; 1: as predicted).
const acquisitionTemperature = optionalNumber(
  'acquisition-temperature',
  (v) => v > 0 && Number.isFinite(v),
  'a number > 0',
);
const ifboOptions = { contextMax, minImprovementBuckets, rankedNewCandidates, acquisitionTemperature };

const backend = await initBackend('auto');
const { model: pfn, meta } = loadPfn(weights);

const methods = opt('methods', OPTIMIZER_NAMES.join(',')).split(',') as OptimizerName[];
for (const m of methods)
  if (!OPTIMIZER_NAMES.includes(m)) throw new Error(`unknown method ${m}; known: ${OPTIMIZER_NAMES.join(', ')}`);

/** Runs every (task, seed) replay of `method` in child processes, one per core; the traces by task. */
async function replayAll(method: OptimizerName): Promise<number[][][]> {
  const jobs = files.flatMap((file, t) =>
    Array.from({ length: seeds }, (_, s) => ({
      id: t * seeds + s,
      file,
      method,
      seed: firstSeed + s,
      budget,
      weights,
      ifbo: ifboOptions,
      failDiverged,
    })),
  );
  const traces: number[][] = new Array(jobs.length);
  const workers = Math.min(jobs.length, Math.max(1, Number(opt('processes', String(availableParallelism())))));
  let next = 0;
  let done = 0;
  await Promise.all(
    Array.from({ length: workers }, () => {
      const child = fork(new URL('./hpo-replay-child.ts', import.meta.url).pathname, [], {
        execArgv: ['--import', 'tsx'],
        stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
      });
      return new Promise<void>((resolve, reject) => {
        const send = () => {
          if (next < jobs.length) child.send(jobs[next++]!);
          else child.kill();
        };
        child.on('message', (m: { ready?: boolean; id?: number; trace?: number[] }) => {
          if (m.trace) {
            traces[m.id!] = m.trace;
            done++;
            log(`\r${method.padEnd(20)} ${done}/${jobs.length} replays   `);
          }
          send();
        });
        child.on('exit', (code) =>
          next >= jobs.length && code !== 1 ? resolve() : reject(new Error(`a replay process exited with ${code}`)),
        );
      });
    }),
  );
  return files.map((_, t) => traces.slice(t * seeds, (t + 1) * seeds));
}

// Suggest latency: ifBO decisions of one replay at 100, 500 and 1000 observed points, timed here first, before
// any replay process or the Optuna anchor starts — so anything else on the machine in the run's first minute
// spoils it (the regret figures do not depend on timing); each repeated. 200 timed decisions a point, so that the p99 is
// a percentile (the second slowest) and not the slowest: with 50, a single stall of the machine set it.
const suggestSamples: Record<number, number[]> = {};
const SUGGEST_WARMUP = 10;
const SUGGEST_SAMPLES = 200;
{
  const states = decisionStates(tasks[0]!, pfn, [100, 500, 1000], Math.min(budget, 1000) + 1, ifboOptions);
  const ifbo = createOptimizer('ifbo', pfn, ifboOptions);
  for (const [observed, ctx] of states) {
    const times: number[] = [];
    for (let i = 0; i < SUGGEST_WARMUP + SUGGEST_SAMPLES; i++) {
      const t0 = performance.now();
      ifbo.decide({ ...ctx, rng: new Rng(i) });
      if (i >= SUGGEST_WARMUP) times.push(performance.now() - t0);
    }
    suggestSamples[observed] = times;
  }
}

// Optuna 3.1 beside, when Debian's python3-optuna is installed: started now, in its own process, while
// floe's replays run (regret does not depend on timing).
const anchor = join(root, '..', 'shared', 'anchors', 'optuna_taskset.py');
/** The tasks as the anchor reads them (our format only): DPL's files are rewritten to a temporary folder. */
function anchorTasksDir(): string {
  if (!tables.some((t) => t.fromDpl)) return tasksDir;
  const dir = mkdtempSync(join(tmpdir(), 'floe-bench-hpo-'));
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  for (const t of tables) writeFileSync(join(dir, basename(t.file)), JSON.stringify(t.table));
  return dir;
}
const optunaRun: Promise<Record<string, Record<string, number>> | undefined> =
  !args.includes('--no-optuna') &&
  existsSync(anchor) &&
  spawnSync('/usr/bin/python3', ['-c', 'import optuna'], { stdio: 'ignore' }).status === 0
    ? new Promise((resolveRun) => {
        log('optuna 3.1 (python3-optuna) on the same tasks, in the background …\n');
        const child = spawn(
          '/usr/bin/python3',
          [anchor, anchorTasksDir(), '--seeds', String(seeds), '--budget', String(budget)],
          { stdio: ['ignore', 'pipe', 'ignore'] },
        );
        let out = '';
        child.stdout.on('data', (b: Buffer) => (out += b.toString()));
        child.on('exit', (code) => {
          if (code !== 0) {
            log(`optuna anchor exited with ${code}\n`);
            return resolveRun(undefined);
          }
          const line = out.trim().split('\n').pop()!;
          resolveRun(
            (JSON.parse(line) as { mean_normalised_regret: Record<string, Record<string, number>> })
              .mean_normalised_regret,
          );
        });
      })
    : Promise.resolve(undefined);

const meanRegret: Record<string, Record<string, number>> = {};
// The same means task by task: where a rule's mean comes from (one hard task can carry it).
const regretByTask: Record<string, Record<string, Record<string, number>>> = {};
const regretSeries: RegretSeries[] = [];
const started = performance.now();
for (const method of methods) {
  const t0 = performance.now();
  const byTask = await replayAll(method);
  const flat = byTask.flatMap((traces, t) => traces.map((trace) => ({ trace, task: tasks[t]! })));
  const regretAt = (i: number, step: number) => traceRegret(flat[i]!.task, flat[i]!.trace, step);
  regretSeries.push({ method, points: meanRegretCurve(flat.length, regretAt, budget) });
  meanRegret[method] = Object.fromEntries(
    meanRegretAt(flat.length, regretAt, CHECKPOINTS).map((p) => [String(p.step), p.regret]),
  );
  regretByTask[method] = Object.fromEntries(
    byTask.map((traces, t) => [
      tasks[t]!.name,
      Object.fromEntries(
        meanRegretAt(traces.length, (i, step) => traceRegret(tasks[t]!, traces[i]!, step), CHECKPOINTS).map((p) => [
          String(p.step),
          p.regret,
        ]),
      ),
    ]),
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
  // A binary classifier's loss: bounded below by 0, untrained at chance (ln 2).
  const anchors = { lo: 0, start: WORST };
  const scale = new CurveScale(anchors.lo, anchors.start);
  const ifbo = new Ifbo(pfn, { anchors });
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
        const yFinal = scale.toY(final);
        // Density of the value = density of y ÷ (hi − lo).
        acc.pfn.nll += -(bucketLogDensity(probs, nb, yFinal) - Math.log(scale.hi - scale.lo));
        acc.pfn.mse += (scale.fromY(bucketMean(probs, nb)) - final) ** 2;
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

const suggestMs = Object.fromEntries(
  Object.entries(suggestSamples).map(([at, xs]) => [
    at,
    {
      p50: Number(quantile(xs, 0.5).toFixed(2)),
      p99: Number(quantile(xs, 0.99).toFixed(2)),
      max: Number(Math.max(...xs).toFixed(2)),
      samples: xs.length,
    },
  ]),
);

const optuna = await optunaRun;
// The anchor reports its fixed checkpoints; past a shorter --budget they only repeat its last value.
if (optuna)
  for (const [method, at] of Object.entries(optuna))
    meanRegret[method] = Object.fromEntries(Object.entries(at).filter(([b]) => Number(b) <= budget));

const svgFile = opt('svg', '');
if (svgFile) {
  const sparse = Object.entries(optuna ?? {}).map(([method]) => ({
    method,
    sparse: true,
    points: Object.entries(meanRegret[method]!).map(([step, r]) => ({ step: Number(step), regret: r })),
  }));
  const title = `${tasks.length} tasks × ${seeds} seeds`;
  writeFileSync(svgFile, await regretPlot([...regretSeries, ...sparse], title));
  log(`wrote ${svgFile}\n`);
}

const result = {
  tasks: tasks.map((t) => t.name),
  seeds,
  budget_steps: budget,
  candidates_per_decision: `${RANDOM_CANDIDATES} random unused + ${LOCAL_CANDIDATES} nearest to the incumbent, plus every paused trial (rules without a model draw from the random ones; ifBO's PFN scores the ${(rankedNewCandidates ?? DEFAULT_RANKED_NEW_CANDIDATES) || 'all'} new ones its configuration ranking keeps)`,
  ifbo_context_max: contextMax ?? DEFAULT_CONTEXT_MAX,
  ifbo_min_improvement_buckets: minImprovementBuckets ?? MIN_IMPROVEMENT_BUCKETS,
  ifbo_ranked_new_candidates: rankedNewCandidates ?? DEFAULT_RANKED_NEW_CANDIDATES,
  ifbo_acquisition_temperature: acquisitionTemperature ?? ACQUISITION_TEMPERATURE,
  first_seed: firstSeed,
  diverged_runs: failDiverged ? 'fail at their first missing value' : 'read as the table maximum',
  backend: backend.name,
  surrogate: {
    ...meta.config,
    parameters: meta.parameters,
    training_steps: meta.steps,
    training_seconds: meta.wall_seconds,
  },
  mean_normalised_regret: meanRegret,
  mean_normalised_regret_by_task: regretByTask,
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
  console.log("\nby task (floe's rules)");
  for (const task of tasks) {
    console.log(`  ${task.name}`);
    for (const [m, byName] of Object.entries(regretByTask))
      console.log(
        `    ${m.padEnd(24)}` + CHECKPOINTS.map((b) => byName[task.name]![String(b)]!.toFixed(3).padStart(8)).join(''),
      );
  }
  console.log(`\nifBO Suggest (${result.candidates_per_decision}; context ≤ ${result.ifbo_context_max} points):`);
  for (const [at, s] of Object.entries(suggestMs))
    console.log(
      `  at ${at} observed points: p50 ${s.p50} ms, p99 ${s.p99} ms, slowest ${s.max} ms (${s.samples} decisions)`,
    );
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
