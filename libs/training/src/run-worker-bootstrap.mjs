// A worker thread starts without the parent's module hooks; register tsx here, then load the TypeScript.
import { register } from 'tsx/esm/api';

register();
await import('./run-worker-entry.ts');
