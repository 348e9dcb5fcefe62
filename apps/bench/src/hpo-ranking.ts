// `npm run bench:hpo-ranking [-- --tasks-dir DIR | --prior-tasks K [--relevance-tasks P]] [-- --at N] [-- --seeds S] [-- --weights W] [-- --json]`:
// how well ifBO's surrogate ranks the configurations a study has not tried yet, after N revealed steps of an
// ifBO replay (default 250): the Spearman correlation of its predicted final values with the table's, next to
// a model-free reference (the 5 nearest tried configurations' mean best value) and ifBO's configuration ranking
// (the same on the hyperparameters it selects; libs/surrogate's config-ranking.ts), and how many of the table's
// ten best configurations it puts in its top 50 (against what a random top 50 would hold). At small budgets
// regret is decided by which untried configurations come first; this measures that part of a prior alone.
// `--prior-tasks K` ranks on K tasks drawn from the surrogate's own prior instead (8 hyperparameters, 1,000
// configurations of 50 steps, as a TaskSet table): where the PFN ranks those but not the real ones, the data
// is off its prior, not the network off its training.
import { initBackend } from '@floe/ml-runtime';
import { Rng, deriveSeed } from '@floe/random';
import { FtPfnTask, curveValue, loadPfn } from '@floe/surrogate';
import { benchOptions, loadTask, rankUntried, type Task } from './hpo-replay.js';

const { opt, json, taskFiles } = benchOptions(process.argv.slice(2));
const at = Number(opt('at', '250'));
const seeds = Number(opt('seeds', '3'));
if (!(Number.isInteger(at) && at > 0)) throw new Error(`--at must be a positive integer, got ${opt('at', '')}`);
await initBackend('auto', { threads: 1 });
const { model } = loadPfn(opt('weights', 'ft-pfn'));
const priorTasks = Number(opt('prior-tasks', '0'));
if (!(Number.isInteger(priorTasks) && priorTasks >= 0))
  throw new Error(`--prior-tasks must be a non-negative integer, got ${opt('prior-tasks', '')}`);
// The share of those tasks whose hyperparameters matter unequally (PriorOptions.relevanceTasks).
const relevanceTasks = Number(opt('relevance-tasks', '0'));

/** A table drawn from the FT-PFN prior, as losses (1 − y, lower is better), noise included. */
function priorTask(index: number): Task {
  const rng = new Rng(deriveSeed(index, 'ranking-prior-task'));
  const prior = new FtPfnTask(rng, 8, { relevanceTasks });
  const configs = Array.from({ length: 1000 }, () => Array.from({ length: 8 }, () => rng.next()));
  const curves = configs.map((config) => {
    const p = prior.params(config);
    return Array.from(
      { length: 50 },
      (_, j) => 1 - Math.min(1, Math.max(0, curveValue(p, (j + 1) / 50) + rng.normal() * p.sigma)),
    );
  });
  const best = Math.min(...curves.flat());
  return { name: `ft-pfn-prior-${index}`, curves, configs, best };
}

const tasks =
  priorTasks > 0 ? Array.from({ length: priorTasks }, (_, i) => priorTask(i)) : taskFiles.map((f) => loadTask(f));
const perTask = tasks.map((task) => {
  const studies = Array.from({ length: seeds }, (_, seed) => rankUntried(task, model, seed, at));
  const mean = (f: (r: (typeof studies)[number]) => number) => studies.reduce((s, r) => s + f(r), 0) / studies.length;
  const row = {
    task: task.name,
    pfn_rho: Number(mean((r) => r.pfnRho).toFixed(3)),
    nearest_rho: Number(mean((r) => r.nearestRho).toFixed(3)),
    selected_nearest_rho: Number(mean((r) => r.selectedNearestRho).toFixed(3)),
    top_ten_in_predicted_top_50: Number(mean((r) => r.topTenInPredictedTop50).toFixed(2)),
    top_ten_in_selected_nearest_top_50: Number(mean((r) => r.selectedTopTenInTop50).toFixed(2)),
    random_top_50_would_hold: Number(mean((r) => (r.topTenUntried * 50) / r.untried).toFixed(2)),
  };
  if (!json)
    console.log(
      `${task.name.padEnd(56)} rho pfn ${row.pfn_rho.toFixed(3)}  5-NN ${row.nearest_rho.toFixed(3)}  ` +
        `5-NN selected ${row.selected_nearest_rho.toFixed(3)}  top ten in top 50: pfn ` +
        `${row.top_ten_in_predicted_top_50}, 5-NN selected ${row.top_ten_in_selected_nearest_top_50} ` +
        `(random ${row.random_top_50_would_hold})`,
    );
  return row;
});
const average = (key: keyof (typeof perTask)[number]) =>
  Number((perTask.reduce((s, r) => s + (r[key] as number), 0) / perTask.length).toFixed(3));
const result = {
  at_steps: at,
  seeds,
  tasks: perTask,
  mean: {
    pfn_rho: average('pfn_rho'),
    nearest_rho: average('nearest_rho'),
    selected_nearest_rho: average('selected_nearest_rho'),
    top_ten_in_predicted_top_50: average('top_ten_in_predicted_top_50'),
    top_ten_in_selected_nearest_top_50: average('top_ten_in_selected_nearest_top_50'),
    random_top_50_would_hold: average('random_top_50_would_hold'),
  },
};
if (json) console.log(JSON.stringify(result));
else
  console.log(
    `mean over ${perTask.length} tasks × ${seeds} studies at ${at} steps: rho pfn ${result.mean.pfn_rho}, 5-NN ` +
      `${result.mean.nearest_rho}, 5-NN selected ${result.mean.selected_nearest_rho}; top ten in top 50: pfn ` +
      `${result.mean.top_ten_in_predicted_top_50}, 5-NN selected ${result.mean.top_ten_in_selected_nearest_top_50} ` +
      `(random ${result.mean.random_top_50_would_hold})`,
  );
