// Parquet tables (pandas, polars, Spark and data lakes write them): one file, or a folder of part files (Spark's
// part-*.parquet). Read by hyparquet in a worker (parquet-worker.mjs) while this thread blocks, so that loading
// stays synchronous like every other loader here.
import { MessageChannel, Worker, receiveMessageOnPort } from 'node:worker_threads';
import { basename, relative } from 'node:path';
import { FloeError } from '@floe/errors';

/** How long a read may take before it is given up (a file at the dataset size limit reads in seconds). */
const READ_TIMEOUT_MS = 10 * 60_000;

export interface ParquetFile {
  /** Top-level column names, in the file's order. */
  columns: string[];
  /** Row-major cells: numbers, bigints, strings, booleans, dates, bytes, nested objects; null when missing. */
  rows: unknown[][];
}

/** Reads `paths` (each a Parquet file) in a worker thread, blocking this one until it answers; errors name a file
 * relative to `root`. */
export function readParquetFiles(paths: string[], root: string): ParquetFile[] {
  const { port1, port2 } = new MessageChannel();
  const flag = new Int32Array(new SharedArrayBuffer(4));
  const worker = new Worker(new URL('./parquet-worker.mjs', import.meta.url), {
    workerData: { paths, port: port2, flag },
    // Plain JavaScript: without the parent's loaders (tsx), the worker starts in a fraction of the time.
    execArgv: [],
    transferList: [port2],
  });
  try {
    if (Atomics.wait(flag, 0, 0, READ_TIMEOUT_MS) === 'timed-out')
      throw new FloeError(
        'deadline_exceeded',
        `reading ${paths.length} Parquet file(s) took over ${READ_TIMEOUT_MS} ms`,
      );
    const answer = receiveMessageOnPort(port1)?.message as
      { files: ParquetFile[]; error?: undefined } | { error: string; path: string } | undefined;
    if (!answer) throw new Error('the Parquet reader stopped without an answer');
    if (answer.error !== undefined)
      throw new FloeError(
        'invalid_argument',
        `${relative(root, answer.path) || basename(answer.path)}: not a Parquet file that can be read (${answer.error})`,
      );
    return answer.files;
  } finally {
    port1.close();
    void worker.terminate();
  }
}

/**
 * One table from Parquet files: every column any file has, in the order they first appear (a file without one
 * has it missing); 64-bit integers as numbers, timestamps as milliseconds since 1970, other values as they are.
 */
export function parquetTable(paths: string[], root: string): { header: string[]; rows: unknown[][] } {
  const files = readParquetFiles(paths, root);
  const header = [...new Set(files.flatMap((f) => f.columns))];
  const rows: unknown[][] = [];
  files.forEach((f) => {
    const at = header.map((h) => f.columns.indexOf(h));
    for (const r of f.rows) rows.push(at.map((i) => (i < 0 ? null : cell(r[i]))));
  });
  if (rows.length === 0)
    throw new FloeError('invalid_argument', `${paths.map((p) => relative(root, p) || p).join(', ')}: no rows`);
  return { header, rows };
}

function cell(v: unknown): unknown {
  if (typeof v === 'bigint') return Number(v);
  if (v instanceof Date) return v.getTime();
  if (v === undefined) return null;
  return v;
}
