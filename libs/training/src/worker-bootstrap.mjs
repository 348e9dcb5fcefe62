// A worker thread starts without the parent's module hooks: register tsx here, lower the thread's
// priority below the event loop's as FLOE_COMPUTE_PRIORITY says (compute-priority.ts; workerData.priority),
// then load the TypeScript entry named in workerData (its job travels beside it).
import { workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
const { applyComputePriority } = await import('./compute-priority.ts');
applyComputePriority(workerData.priority);
await import(workerData.entry);
