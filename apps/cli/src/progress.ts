// Long calls from the terminal: a progress stream read to its result, with a bar on stderr.
import type * as grpc from '@grpc/grpc-js';
import type { commonV1 } from '@floe/contracts';
import { bar } from './args.js';

/** One Progress message as the bar on stderr (redrawn in place). */
export function drawProgress(p: commonV1.Progress): void {
  process.stderr.write(
    `\r${bar(p.fraction, 1)} ${(100 * p.fraction).toFixed(0).padStart(3)}% ${p.phase}: ${p.message}`.padEnd(100),
  );
}

/** Reads a progress stream to its result, drawing a bar on stderr unless --json. */
export function follow<T>(
  stream: grpc.ClientReadableStream<{ event?: { $case: string; value: unknown } }>,
  resultCase: string,
  json: boolean,
): Promise<T> {
  return new Promise((resolve, reject) => {
    let result: T | undefined;
    stream.on('data', (m: { event?: { $case: string; value: unknown } }) => {
      if (m.event?.$case === 'progress') {
        if (!json) drawProgress(m.event.value as commonV1.Progress);
      } else if (m.event?.$case === resultCase) {
        result = m.event.value as T;
        if (!json) process.stderr.write(`\r${bar(1, 1)} 100% done`.padEnd(100));
      }
    });
    stream.on('error', reject);
    stream.on('end', () => {
      if (!json) process.stderr.write('\n');
      if (result) resolve(result);
      else reject(new Error('the stream ended without a result'));
    });
  });
}
