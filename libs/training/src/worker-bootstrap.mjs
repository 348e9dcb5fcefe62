// A worker thread starts without the parent's module hooks: register tsx here, then load the TypeScript
// entry named in workerData (its job travels beside it).
import { setPriority } from 'node:os';
import { workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

// Compute yields to the server: on Linux a thread has its own nice value, so this lowers only this worker
// (and the native kernel threads it starts), never the event loop that answers health checks and Gets.
try {
  setPriority(10);
} catch {
  // not permitted here; the worker runs at the process's priority
}
register();
await import(workerData.entry);
