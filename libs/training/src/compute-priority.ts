// Compute yields to the server's event loop, which answers health checks and Gets. On Linux a scheduling
// policy belongs to a thread, so this changes only the calling worker (and the native kernel pool).
// idle, the default: SCHED_IDLE — a waking event loop preempts it at once, where a nice-10 thread was seen
// keeping a core for 20 ms; but SCHED_IDLE also yields to every other busy thread in the same cgroup (the
// hpo-surrogate's worker took 43 s to load its PFN beside two spinning processes — it ran once they stopped —
// 8.8 s at nice 10, 1 s on a quiet machine), so hosts shared with other work outside containers choose low
// (nice 10). Without the native addon, idle falls back to low.
import { setPriority } from 'node:os';
import { native } from '@floe/native';
import type { ComputePriority } from '@floe/ml-runtime/choices';

export function applyComputePriority(priority: ComputePriority = 'idle'): 'idle' | 'nice' | 'unchanged' {
  if (priority === 'normal') return 'unchanged';
  if (priority === 'idle' && native?.idleScheduling()) return 'idle';
  try {
    setPriority(10);
    return 'nice';
  } catch {
    return 'unchanged'; // not permitted here; the worker runs at the process's priority
  }
}
