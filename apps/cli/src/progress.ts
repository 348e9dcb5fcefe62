// Long calls from the terminal: a progress stream read to its result, with a bar on stderr.
import type * as grpc from '@grpc/grpc-js';
import type { commonV1 } from '@floe/contracts';
import { bar } from './args.js';

/** How often a log (stderr not a terminal) gets a progress line while nothing else changes. */
export const LOG_INTERVAL_MS = 5000;

/**
 * A status line on stderr: on a terminal, redrawn in place; in a log (a file, a CI job, a pipe), a line of its own
 * when its `key` changes (a phase, a stage) or LOG_INTERVAL_MS after the last one — not a carriage return per
 * event, which a log keeps as one line of thousands of characters.
 */
export class LiveLine {
  private lastKey: string | undefined;
  private lastAt = 0;
  private pending = false;
  constructor(
    private readonly width = 100,
    readonly tty = Boolean(process.stderr.isTTY),
  ) {}

  update(text: string, key = ''): void {
    if (this.tty) {
      process.stderr.write(`\r${text.padEnd(this.width)}`);
      this.pending = true;
      return;
    }
    const now = Date.now();
    if (key === this.lastKey && now - this.lastAt < LOG_INTERVAL_MS) return;
    process.stderr.write(text.trimEnd() + '\n');
    [this.lastKey, this.lastAt] = [key, now];
  }

  /** A line that stays (a checkpoint, a stage's end): after the live line on a terminal, as is in a log. */
  print(text: string): void {
    if (this.tty && this.pending) process.stderr.write('\n');
    this.pending = false;
    process.stderr.write(text.trimEnd() + '\n');
    this.lastKey = undefined;
  }

  /** A line that takes the live line's place and stays (a stage's end). */
  settle(text: string): void {
    process.stderr.write(`${this.tty ? '\r' : ''}${this.tty ? text.padEnd(this.width) : text.trimEnd()}\n`);
    this.pending = false;
    this.lastKey = undefined;
  }

  /** Ends the live line: a terminal moves past it. */
  end(): void {
    if (this.tty && this.pending) process.stderr.write('\n');
    this.pending = false;
  }
}

/** One Progress message as the bar on stderr (LiveLine: redrawn in place on a terminal). */
export function drawProgress(p: commonV1.Progress, line: LiveLine = defaultLine): void {
  line.update(`${bar(p.fraction, 1)} ${(100 * p.fraction).toFixed(0).padStart(3)}% ${p.phase}: ${p.message}`, p.phase);
}
const defaultLine = new LiveLine();

/** Reads a progress stream to its result, drawing a bar on stderr unless --json. */
export function follow<T>(
  stream: grpc.ClientReadableStream<{ event?: { $case: string; value: unknown } }>,
  resultCase: string,
  json: boolean,
): Promise<T> {
  return new Promise((resolve, reject) => {
    let result: T | undefined;
    const line = new LiveLine();
    stream.on('data', (m: { event?: { $case: string; value: unknown } }) => {
      if (m.event?.$case === 'progress') {
        if (!json) drawProgress(m.event.value as commonV1.Progress, line);
      } else if (m.event?.$case === resultCase) {
        result = m.event.value as T;
        if (!json) line.update(`${bar(1, 1)} 100% done`, 'done');
      }
    });
    stream.on('error', reject);
    stream.on('end', () => {
      if (!json) line.end();
      if (result) resolve(result);
      else reject(new Error('the stream ended without a result'));
    });
  });
}
