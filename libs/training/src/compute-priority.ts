// Compute yields to the server's event loop, which answers health checks and Gets. On Linux a scheduling
// policy belongs to a thread, so this lowers only the calling worker (and the native kernel pool).
// SCHED_IDLE first: a waking event loop preempts it at once, where a nice-10 thread was seen keeping a
// core for 20 ms. Without the native addon, nice 10.
import { setPriority } from 'node:os';
import { native } from '@floe/native';

export function lowerComputePriority(): 'idle' | 'nice' | 'unchanged' {
  if (native?.idleScheduling()) return 'idle';
  try {
    setPriority(10);
    return 'nice';
  } catch {
    return 'unchanged'; // not permitted here; the worker runs at the process's priority
  }
}
