// A worker thread starts without the parent's module hooks: register tsx here, lower the thread's
// priority below the event loop's (compute-priority.ts), then load the TypeScript entry named in
// workerData (its job travels beside it).
import { workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
const { lowerComputePriority } = await import('./compute-priority.ts');
lowerComputePriority();
await import(workerData.entry);
