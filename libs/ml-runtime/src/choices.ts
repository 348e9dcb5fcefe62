// The TF.js backends a process can ask for (FLOE_TF_BACKEND). Kept apart from backend.ts so that reading
// the configuration does not load TF.js.

/** auto: the native TensorFlow binding where installed, else wasm with floe's native kernels, else cpu. */
export const BACKEND_CHOICES = ['auto', 'tensorflow', 'native', 'wasm', 'cpu'] as const;
export type BackendChoice = (typeof BACKEND_CHOICES)[number];

/**
 * How compute threads (task workers and the native kernel pool) yield the CPU (FLOE_COMPUTE_PRIORITY):
 * idle — Linux's SCHED_IDLE: they run only when nothing else wants the core, so the event loop never waits,
 * but any busy process beside floe in the same cgroup starves them; low — nice 10; normal — unchanged.
 */
export const COMPUTE_PRIORITIES = ['idle', 'low', 'normal'] as const;
export type ComputePriority = (typeof COMPUTE_PRIORITIES)[number];
