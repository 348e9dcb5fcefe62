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
  const queue: commonV1.Progress[] = [];
  let wake: (() => void) | undefined;
  let settled = false;
  const report = (p: ProgressReport) => {
    queue.push({ ...p, time: new Date() });
    wake?.();
  };
  const running = work(report).finally(() => {
    settled = true;
    wake?.();
  });
  // Keep an early rejection from being reported as unhandled while progress is still being yielded.
  running.catch(() => {});
  while (!settled || queue.length) {
    if (queue.length) {
      yield { progress: queue.shift()! };
      continue;
    }
    await new Promise<void>((resolve) => (wake = resolve));
    wake = undefined;
  }
  yield { result: await running };
}

/** Lets the event loop run (a stream's messages, other calls) between units of synchronous work. */
export const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));
