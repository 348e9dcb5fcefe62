// A bench:hpo child process: replays the (task, seed) jobs its parent sends and answers their traces.
// One process per core, each with one native thread: replays are independent, so they scale with cores.
import { initBackend } from '@floe/ml-runtime';
import { loadPfn, type IfboOptions, type OptimizerName } from '@floe/surrogate';
import { loadTask, replay, type Task } from './hpo-replay.js';

interface Job {
  id: number;
  file: string;
  method: OptimizerName;
  seed: number;
  budget: number;
  weights: string;
  ifbo: IfboOptions;
  failDiverged: boolean;
}

await initBackend('auto', { threads: 1 });
const tasks = new Map<string, Task>();
const models = new Map<string, ReturnType<typeof loadPfn>['model']>();
process.on('message', (job: Job) => {
  let task = tasks.get(job.file);
  if (!task) tasks.set(job.file, (task = loadTask(job.file, { failDiverged: job.failDiverged })));
  let pfn = models.get(job.weights);
  if (job.method === 'ifbo' && !pfn) models.set(job.weights, (pfn = loadPfn(job.weights).model));
  const trace = replay(task, job.method, pfn, job.seed, job.budget, undefined, job.ifbo);
  process.send!({ id: job.id, trace });
});
process.send!({ ready: true });
