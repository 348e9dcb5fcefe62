// The worker thread's side of runTrainingWorker.
import { parentPort, workerData } from 'node:worker_threads';
import { initBackend } from '@floe/ml-runtime';
import { buildModel } from '@floe/models';
import { openDataset, type TextDataset } from '@floe/data';
import { DEFAULT_OPTIMIZER } from './optimizer.js';
import { ExampleSource, LmSource } from './sources.js';
import { TrainingSession } from './session.js';
import type { WorkerJob, WorkerMessage } from './worker.js';

const job = (workerData as { job: WorkerJob }).job;
const post = (m: WorkerMessage) => parentPort!.postMessage(m);

try {
  const backend = await initBackend(job.backend);
  post({ type: 'ready', backend: backend.name });
  const data = openDataset({ uri: job.dataset, split: 'train' }, { dataRoots: job.dataRoots });
  const model = buildModel(job.architecture, job.size, job.seed);
  const source =
    data.kind === 'text'
      ? new LmSource(data as TextDataset, job.batchSize, job.sequenceLength, job.seed)
      : new ExampleSource(data, job.batchSize, job.seed);
  const session = new TrainingSession(model, source, {
    optimizer: { ...DEFAULT_OPTIMIZER, learningRate: job.learningRate },
    schedule: { kind: 'constant', warmupSteps: 0, minRatio: 1 },
    totalSteps: job.steps,
  });
  for (let i = 0; i < job.steps; i++) post({ type: 'step', metrics: session.trainStep() });
  post({ type: 'done' });
} catch (err) {
  post({ type: 'error', message: (err as Error).message });
}
