// Loading a folder of images decodes every file (a 224×224 JPEG takes ~10 ms in JavaScript): hundreds of them
// would hold a service's event loop for seconds — health probes and every other call waiting. So the slow
// loaders are generators that yield between files; a worker thread drains them at once (`finish`), the
// event loop in slices (`finishYielding`).

/** Work in slices: a generator that yields between slices and returns its result. */
export type Steps<T> = Generator<void, T, void>;

/** Runs `steps` to the end at once (worker threads, tests). */
export function finish<T>(steps: Steps<T>): T {
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
  }
}

/**
 * Runs `steps` to the end, giving the event loop a turn whenever a slice of work has taken `sliceMs` (default 10;
 * 0: after every step). When `signal` aborts (a call cancelled, its deadline passed) the work stops at the next
 * turn and the signal's reason is thrown.
 */
export async function finishYielding<T>(
  steps: Steps<T>,
  { sliceMs = 10, signal }: { sliceMs?: number; signal?: AbortSignal } = {},
): Promise<T> {
  let started = performance.now();
  try {
    for (;;) {
      const r = steps.next();
      if (r.done) return r.value;
      if (performance.now() - started >= sliceMs) {
        await new Promise((resolve) => setImmediate(resolve));
        signal?.throwIfAborted();
        started = performance.now();
      }
    }
  } finally {
    // Abandoned work still runs its generators' finally blocks.
    steps.return(undefined as T);
  }
}
