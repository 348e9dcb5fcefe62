// A worker thread starts without the parent's module hooks: register tsx here, then load the TypeScript
// entry named in workerData (its job travels beside it).
import { setPriority } from 'node:os';
import { workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();

// Compute yields to the server's event loop, which answers health checks and Gets. On Linux a scheduling
// policy belongs to a thread, so this lowers only this worker (and the native kernel pool). SCHED_IDLE
// first: a waking event loop preempts it at once, where a nice-10 thread was seen keeping a core for
// 20 ms. Without the native addon, nice 10.
const { native } = await import('@floe/native');
if (!native?.idleScheduling()) {
  try {
    setPriority(10);
  } catch {
    // not permitted here; the worker runs at the process's priority
  }
}
await import(workerData.entry);
