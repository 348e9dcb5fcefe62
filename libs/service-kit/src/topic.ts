// Typed live events per resource (a run, a study) and the one way to follow them as a stream: subscribe
// first, then replay what is stored, then live events — so that nothing falls between the two.

export class Topic<E> {
  private readonly listeners = new Map<string, Set<(e: E) => void>>();

  publish(key: string, event: E): void {
    for (const fn of this.listeners.get(key) ?? []) fn(event);
  }

  /** Calls `fn` with every event of `key` until the returned function is called. */
  subscribe(key: string, fn: (e: E) => void): () => void {
    let set = this.listeners.get(key);
    if (!set) this.listeners.set(key, (set = new Set()));
    set.add(fn);
    return () => {
      set.delete(fn);
      if (set.size === 0) this.listeners.delete(key);
    };
  }
}

/**
 * Follows `key`: the events `replay()` yields (read after subscribing), then live ones, until `isLast`
 * says an event ends the stream, `done()` holds after the replay, or `signal` aborts. `fresh` drops a
 * live event that the replay already covered.
 */
export async function* follow<E>(
  topic: Topic<E>,
  key: string,
  opts: {
    signal: AbortSignal;
    replay: () => Iterable<E>;
    done: () => E | undefined;
    isLast: (e: E) => boolean;
    fresh?: (e: E) => boolean;
  },
): AsyncGenerator<E> {
  const pending: E[] = [];
  let wake: (() => void) | undefined;
  const unsubscribe = topic.subscribe(key, (e) => {
    pending.push(e);
    wake?.();
  });
  const onAbort = () => wake?.();
  opts.signal.addEventListener('abort', onAbort);
  try {
    for (const e of opts.replay()) yield e;
    const final = opts.done();
    if (final !== undefined) {
      yield final;
      return;
    }
    while (!opts.signal.aborted) {
      while (pending.length) {
        const e = pending.shift()!;
        if (opts.fresh && !opts.fresh(e)) continue;
        yield e;
        if (opts.isLast(e)) return;
      }
      await new Promise<void>((resolve) => (wake = resolve));
      wake = undefined;
    }
  } finally {
    opts.signal.removeEventListener('abort', onAbort);
    unsubscribe();
  }
}
