// `npm run bench:contention [-- --json] [-- --quick] [-- --tasks-dir DIR]`
// How the native kernels' thread pool copes with a machine whose cores are busy with other work (CI running test
// files side by side, a Kubernetes node shared with other pods). Two workloads — an ifBO Suggest at 1,000
// observed points (the PFN's forward pass, ~100 small kernels) and a training step of the adaptation study's
// transformer — each timed under two schedules of the pool in this one process, alternated block by block:
//   static  — each kernel thread runs the task of its own index and every call waits for all of them (the
//             pool before; native.setStaticSchedule(true));
//   claimed — the caller and the woken threads claim the next unclaimed task, so a thread the OS has not
//             scheduled yet holds up nothing (the default).
// On a quiet machine, and with one busy process per core started beside it. Prints p50 / p99 per schedule and
// the ratio static ÷ claimed (above 1: claiming is faster).
import { spawn, type ChildProcess } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { initBackend } from '@floe/ml-runtime';
import { native } from '@floe/native';
import { Rng } from '@floe/random';
import { buildModel } from '@floe/models';
import { loadBuiltin, selectSplit, type TextDataset } from '@floe/data';
import { createOptimizer, loadPfn } from '@floe/surrogate';
import { DEFAULT_OPTIMIZER, LmSource, TrainingSession } from '@floe/training';
import { benchOptions, decisionStates, loadTask } from './hpo-replay.js';
import { quantile } from './stats.js';

const args = process.argv.slice(2);
const { json, taskFiles } = benchOptions(args);
const quick = args.includes('--quick');
const log = (s: string) => process.stderr.write(s + '\n');

if (!native) {
  log('bench:contention measures the native kernels’ thread pool, and the addon is not built here.');
  process.exit(1);
}
const kernels = native;
await initBackend('native');
const cores = availableParallelism();

interface Workload {
  name: string;
  /** One timed call, in ms. */
  run: () => number;
  /** Timed calls per schedule and condition, split into blocks that alternate the schedules. */
  samples: number;
  block: number;
}

/** The ifBO decision at the 1,000-observed-point state of the first task's seed-0 replay (as bench:hpo times it). */
function suggestWorkload(): Workload {
  const task = loadTask(taskFiles[0]!);
  const { model: pfn } = loadPfn('ft-pfn');
  const state = decisionStates(task, pfn, [1000], 1001).get(1000)!;
  const ifbo = createOptimizer('ifbo', pfn);
  let i = 0;
  return {
    name: 'suggest_1000',
    run: () => {
      const t0 = performance.now();
      ifbo.decide({ ...state, rng: new Rng(i++) });
      return performance.now() - t0;
    },
    samples: quick ? 60 : 200,
    block: 20,
  };
}

/** A training step (forward, backward, AdamW) of the adaptation study's transformer LM on e-mails. */
function trainingWorkload(): Workload {
  const model = buildModel('transformer-lm', 'small', 0);
  const text = selectSplit(loadBuiltin('spam-assassin') as TextDataset, 'train', 2000);
  const session = new TrainingSession(model, new LmSource(text, 16, 128, 0), {
    optimizer: { ...DEFAULT_OPTIMIZER, learningRate: 1e-3 },
    schedule: { kind: 'constant', warmupSteps: 0, minRatio: 1 },
    totalSteps: 100_000,
  });
  for (let w = 0; w < 3; w++) session.trainStep();
  return { name: 'training_step', run: () => session.trainStep().ms, samples: quick ? 10 : 40, block: 5 };
}

/** Alternates the two schedules block by block (the order flipped every block), so drift hits both alike. */
function measure(w: Workload): Record<'static' | 'claimed', number[]> {
  const times = { static: [] as number[], claimed: [] as number[] };
  for (let k = 0; k < 3; k++) w.run(); // warm-up
  for (let b = 0; times.claimed.length < w.samples; b++) {
    const order: ('static' | 'claimed')[] = b % 2 === 0 ? ['static', 'claimed'] : ['claimed', 'static'];
    for (const schedule of order) {
      kernels.setStaticSchedule(schedule === 'static');
      for (let i = 0; i < w.block; i++) times[schedule].push(w.run());
    }
  }
  kernels.setStaticSchedule(false);
  return times;
}

function startBusyProcesses(n: number): ChildProcess[] {
  return Array.from({ length: n }, () => spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' }));
}

const workloads = [suggestWorkload(), trainingWorkload()];
const results: Record<string, Record<string, Record<string, { p50: number; p99: number }>>> = {};
const ratios: Record<string, Record<string, { p50: number; p99: number }>> = {};
const round = (x: number) => Math.round(x * 100) / 100;
for (const condition of ['quiet', 'busy'] as const) {
  const busy = condition === 'busy' ? startBusyProcesses(cores) : [];
  try {
    if (busy.length) await new Promise((r) => setTimeout(r, 500));
    for (const w of workloads) {
      log(`${condition}: ${w.name} (${w.samples} calls a schedule) …`);
      const t = measure(w);
      const stats = (xs: number[]) => ({ p50: round(quantile(xs, 0.5)), p99: round(quantile(xs, 0.99)) });
      ((results[condition] ??= {})[w.name] ??= {}).static = stats(t.static);
      results[condition][w.name]!.claimed = stats(t.claimed);
      const s = results[condition][w.name]!;
      (ratios[condition] ??= {})[w.name] = {
        p50: round(s.static!.p50 / s.claimed!.p50),
        p99: round(s.static!.p99 / s.claimed!.p99),
      };
    }
  } finally {
    for (const p of busy) p.kill('SIGKILL');
  }
}

const summary = {
  cores,
  kernel_threads: kernels.threads(),
  busy_processes: cores,
  ms: results,
  ratio_static_over_claimed: ratios,
};
if (json) console.log(JSON.stringify(summary));
else {
  console.log(
    `native kernels, ${kernels.threads()} threads on ${cores} cores; busy: ${cores} spinning processes beside`,
  );
  console.log('condition  workload        static p50 / p99 ms   claimed p50 / p99 ms   static ÷ claimed p50 / p99');
  for (const [condition, byWorkload] of Object.entries(results))
    for (const [name, s] of Object.entries(byWorkload)) {
      const r = ratios[condition]![name]!;
      console.log(
        `${condition.padEnd(10)} ${name.padEnd(15)} ${`${s.static!.p50} / ${s.static!.p99}`.padEnd(21)} ${`${s.claimed!.p50} / ${s.claimed!.p99}`.padEnd(22)} ${r.p50} / ${r.p99}`,
      );
    }
}
process.exit(0);
