// A worker thread starts without the parent's module hooks: register tsx here, then load the TypeScript
// entry named in workerData (its job travels beside it).
import { workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
await import(workerData.entry);
