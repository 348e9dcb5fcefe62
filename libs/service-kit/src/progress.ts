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

/**
 * withProgress for work that also streams results as it goes (a batch of predictions): `emit(event)` and
 * `report(progress)` are yielded in the order they were called, then `{ result }`.
 */
export async function* withEvents<E, T>(
  work: (emit: (event: E) => void, report: (p: ProgressReport) => void) => Promise<T>,
): AsyncGenerator<{ progress: commonV1.Progress } | { event: E } | { result: T }> {
  const queue: ({ progress: commonV1.Progress } | { event: E })[] = [];
  let wake: (() => void) | undefined;
  let settled = false;
  const push = (item: { progress: commonV1.Progress } | { event: E }) => {
    queue.push(item);
    wake?.();
  };
  const running = work(
    (event) => push({ event }),
    (p) => push({ progress: { ...p, time: new Date() } }),
  ).finally(() => {
    settled = true;
    wake?.();
  });
  // Keep an early rejection from being reported as unhandled while progress is still being yielded.
  running.catch(() => {});
  while (!settled || queue.length) {
    if (queue.length) {
      yield queue.shift()!;
      continue;
    }
    await new Promise<void>((resolve) => (wake = resolve));
    wake = undefined;
  }
  yield { result: await running };
}

/** Lets the event loop run (a stream's messages, other calls) between units of synchronous work. */
export const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));
