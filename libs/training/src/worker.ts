// Training off the event loop: a worker thread owns TF.js and the model, and posts each step's metrics
// back. The native kernels run synchronously on whichever thread calls them, so running them here keeps
// the gRPC server's event loop free.
import { Worker } from 'node:worker_threads';
import type { StepMetrics } from './session.js';

/** What a worker trains: a builtin model on a builtin or file dataset, for a number of steps. */
export interface WorkerJob {
  backend: 'auto' | 'native' | 'wasm' | 'cpu';
  architecture: 'transformer-lm' | 'mamba-lm' | 'lenet5' | 'mlp';
  size: string;
  seed: number;
  dataset: string;
  batchSize: number;
  sequenceLength: number;
  steps: number;
  learningRate: number;
  dataRoots: string[];
}

export type WorkerMessage =
  | { type: 'ready'; backend: string }
  | { type: 'step'; metrics: StepMetrics }
  | { type: 'done' }
  | { type: 'error'; message: string };

const bootstrap = new URL('./worker-bootstrap.mjs', import.meta.url);

/** A worker running `entry` (a TypeScript file beside this one) with `job` as its work. */
function spawn(entry: string, job: unknown): Worker {
  return new Worker(bootstrap, { workerData: { entry: new URL(entry, import.meta.url).href, job } });
}

/** Starts a training worker; `onMessage` sees every message; resolves when it finishes. */
export function runTrainingWorker(
  job: WorkerJob,
  onMessage: (m: WorkerMessage) => void,
): { done: Promise<void>; stop: () => Promise<number> } {
  const worker = spawn('./worker-entry.ts', job);
  const done = new Promise<void>((resolve, reject) => {
    worker.on('message', (m: WorkerMessage) => {
      onMessage(m);
      if (m.type === 'done') resolve();
      if (m.type === 'error') reject(new Error(m.message));
    });
    worker.on('error', reject);
    worker.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`training worker exited with ${code}`))));
  });
  return { done, stop: () => worker.terminate() };
}

/** Starts a trainer run in a worker thread; events arrive through `onEvent`. */
export function startRunWorker(
  job: import('./run-job.js').RunJob,
  onEvent: (e: import('./run-job.js').RunEvent) => void,
): { pause(): void; terminate(): Promise<number>; exited: Promise<number> } {
  const worker = spawn('./run-worker-entry.ts', job);
  worker.on('message', onEvent);
  worker.on('error', (err) => onEvent({ type: 'error', message: err.message }));
  const exited = new Promise<number>((resolve) => worker.on('exit', resolve));
  return { pause: () => worker.postMessage({ type: 'pause' }), terminate: () => worker.terminate(), exited };
}
