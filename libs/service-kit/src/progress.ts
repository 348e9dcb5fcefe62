// Long work as a stream: run `work`, yielding its progress reports as they come and then its result.
import type { commonV1 } from '@floe/contracts';

export type ProgressReport = Omit<commonV1.Progress, 'time'>;

/**
 * Runs `work(report)` and yields every report (as a Progress with its time) until the work settles, then
 * `{ result }`. The work should await between units (e.g. `setImmediate`) so that reports flow while it runs.
 */
export async function* withProgress<T>(
  work: (report: (p: ProgressReport) => void) => Promise<T>,
): AsyncGenerator<{ progress: commonV1.Progress } | { result: T }> {
  for await (const e of withEvents<never, T>((_emit, report) => work(report))) if (!('event' in e)) yield e;
}

/** Items withEvents holds for its consumer before `caughtUp` waits. */
const QUEUE_HIGH_WATER = 16;

/**
 * withProgress for work that also streams results as it goes (a batch of predictions): `emit(event)` and
 * `report(progress)` are yielded in the order they were called, then `{ result }`. Work that makes results
 * faster than the consumer takes them (a gRPC stream waits for a slow client's window) awaits `caughtUp()`,
 * which resolves while fewer than QUEUE_HIGH_WATER items wait.
 */
export async function* withEvents<E, T>(
  work: (emit: (event: E) => void, report: (p: ProgressReport) => void, caughtUp: () => Promise<void>) => Promise<T>,
): AsyncGenerator<{ progress: commonV1.Progress } | { event: E } | { result: T }> {
  const queue: ({ progress: commonV1.Progress } | { event: E })[] = [];
  let wake: (() => void) | undefined;
  let settled = false;
  const waiting: (() => void)[] = [];
  const push = (item: { progress: commonV1.Progress } | { event: E }) => {
    queue.push(item);
    wake?.();
  };
  let consumerGone = false;
  const caughtUp = () =>
    consumerGone || queue.length < QUEUE_HIGH_WATER
      ? Promise.resolve()
      : new Promise<void>((resolve) => waiting.push(resolve));
  const running = work(
    (event) => push({ event }),
    (p) => push({ progress: { ...p, time: new Date() } }),
    caughtUp,
  ).finally(() => {
    settled = true;
    wake?.();
  });
  // Keep an early rejection from being reported as unhandled while progress is still being yielded.
  running.catch(() => {});
  try {
    while (!settled || queue.length) {
      if (queue.length) {
        yield queue.shift()!;
        if (queue.length < QUEUE_HIGH_WATER && waiting.length) for (const resolve of waiting.splice(0)) resolve();
        continue;
      }
      await new Promise<void>((resolve) => (wake = resolve));
      wake = undefined;
    }
  } finally {
    // The consumer stopped (a cancelled call): the work no longer waits for it, and ends as it ends.
    consumerGone = true;
    for (const resolve of waiting.splice(0)) resolve();
  }
  yield { result: await running };
}

/** Lets the event loop run (a stream's messages, other calls) between units of synchronous work. */
export const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));
