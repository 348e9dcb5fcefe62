// floe.common.v1: the messages every service uses the same way.
export * from './gen/floe/common/v1/refs.js';
export * from './gen/floe/common/v1/paging.js';
export * from './gen/floe/common/v1/progress.js';
export * from './gen/floe/common/v1/run_state.js';
export * from './gen/floe/common/v1/plan.js';
// Every generated file carries these helpers; name one copy so the star exports do not collide.
export type { DeepPartial, Exact, MessageFns } from './gen/floe/common/v1/refs.js';
export { protobufPackage } from './gen/floe/common/v1/refs.js';
export const protobufFileName = 'floe/common/v1';
