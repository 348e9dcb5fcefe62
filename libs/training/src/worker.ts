// Training off the event loop: a worker thread owns TF.js and the model of a trainer run, and posts each
// step's metrics back. The native kernels run synchronously on whichever thread calls them, so running
// them here keeps the gRPC server's event loop free.
import { spawnWorker } from './tasks.js';
import type { RunEvent, RunJob } from './run-job.js';

/** Starts a trainer run in a worker thread; events arrive through `onEvent`. */
export function startRunWorker(
  job: RunJob,
  onEvent: (e: RunEvent) => void,
): { pause(): void; terminate(): Promise<number>; exited: Promise<number> } {
  const worker = spawnWorker(new URL('./run-worker-entry.ts', import.meta.url), job, job.priority);
  worker.on('message', onEvent);
  worker.on('error', (err) => onEvent({ type: 'error', message: err.message }));
  const exited = new Promise<number>((resolve) => worker.on('exit', resolve));
  return { pause: () => worker.postMessage({ type: 'pause' }), terminate: () => worker.terminate(), exited };
}
