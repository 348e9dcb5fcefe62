// Parquet tables (pandas, polars, Spark and data lakes write them): one file, or a folder of part files (Spark's
// part-*.parquet). Read by hyparquet in a worker (parquet-worker.mjs) while this thread waits in short slices
// between yields: loading stays a synchronous generator like every other loader here (a worker thread drains it at
// once; the event loop gets its turns).
import { MessageChannel, Worker, receiveMessageOnPort } from 'node:worker_threads';
import { basename, relative, sep } from 'node:path';
import { FloeError, resourceExhausted } from '@floe/errors';
import type { Steps } from './steps.js';

/** How long a read may take before it is given up (a file at the dataset size limit reads in seconds). */
const READ_TIMEOUT_MS = 10 * 60_000;
/** How long one wait for the worker lasts before the loader yields. */
const WAIT_SLICE_MS = 5;

/**
 * A column as the worker answers it: numbers (missing as NaN; dates and timestamps as days since 1970-01-01 UTC,
 * marked `date`), or values of any other kind (missing null).
 */
type ParquetColumn = { name: string; numbers: Float64Array; date?: boolean } | { name: string; values: unknown[] };

export interface ParquetFile {
  /** Top-level columns, in the file's order. */
  columns: ParquetColumn[];
  rows: number;
}

type Answer =
  | { files: ParquetFile[]; error?: undefined; tooBig?: undefined }
  | { error: string; path: string; tooBig?: undefined }
  | { tooBig: number; path: string; error?: undefined };

/**
 * Reads `paths` (each a Parquet file) in a worker thread, yielding while it reads. Errors name a file relative to
 * `root`; files decoding to more than `maxBytes` (8 bytes a cell) are RESOURCE_EXHAUSTED. Abandoned (a cancelled
 * call), the worker is stopped.
 */
export function* readParquetFiles(paths: string[], root: string, maxBytes: number): Steps<ParquetFile[]> {
  const { port1, port2 } = new MessageChannel();
  const flag = new Int32Array(new SharedArrayBuffer(4));
  const worker = new Worker(new URL('./parquet-worker.mjs', import.meta.url), {
    workerData: { paths, port: port2, flag, maxBytes },
    transferList: [port2],
    // Plain JavaScript: without the parent's loaders (tsx), the worker starts in a fraction of the time.
    execArgv: [],
  });
  const named = (path: string) => relative(root, path) || basename(path);
  try {
    const deadline = performance.now() + READ_TIMEOUT_MS;
    while (Atomics.wait(flag, 0, 0, WAIT_SLICE_MS) === 'timed-out') {
      if (performance.now() > deadline)
        throw new FloeError(
          'deadline_exceeded',
          `reading ${paths.length} Parquet file(s) took over ${READ_TIMEOUT_MS} ms`,
        );
      yield;
    }
    const answer = receiveMessageOnPort(port1)?.message as Answer | undefined;
    if (!answer) throw new Error('the Parquet reader stopped without an answer');
    if (answer.tooBig !== undefined)
      throw resourceExhausted(
        `${named(answer.path)}: the Parquet data decodes to about ${answer.tooBig} bytes (8 a cell), over the limit of ${maxBytes} (FLOE_MAX_DATASET_BYTES)`,
      );
    if (answer.error !== undefined)
      throw new FloeError(
        'invalid_argument',
        `${named(answer.path)}: not a Parquet file that can be read (${answer.error})`,
      );
    return answer.files;
  } finally {
    port1.close();
    void worker.terminate();
  }
}

/**
 * The partition values in a file's path under `root`, as Hive, Spark and pyarrow write a partitioned table
 * (`year=2024/country=NL/part-0.parquet`): each `key=value` folder a column, constant within the file.
 */
function partitionValues(path: string, root: string): [string, string][] {
  return relative(root, path)
    .split(sep)
    .slice(0, -1)
    .flatMap((part) => {
      const eq = part.indexOf('=');
      return eq > 0 ? [[part.slice(0, eq), decodeURIComponent(part.slice(eq + 1))] as [string, string]] : [];
    });
}

/**
 * One table from Parquet files, as rows of cells: the partition columns of their paths, then every column any
 * file has, in the order they first appear (a file without one has it missing); 64-bit integers and booleans as
 * numbers, dates and timestamps as days since 1970-01-01 UTC — the `dateColumns`, those that every file holding
 * them stores as dates. A partition value is text, read as a number where every one is (as any cell of a table).
 */
export function* parquetTable(
  paths: string[],
  root: string,
  maxBytes: number,
): Steps<{ header: string[]; rows: unknown[][]; dateColumns: string[] }> {
  const files = yield* readParquetFiles(paths, root, maxBytes);
  const partitions = paths.map((p) => new Map(partitionValues(p, root)));
  const stored = [...new Set(files.flatMap((f) => f.columns.map((c) => c.name)))];
  const partitionColumns = [...new Set(partitions.flatMap((m) => [...m.keys()]))].filter((k) => !stored.includes(k));
  // First, so that the files' last column stays the target when none is named "label" or "target".
  const header = [...partitionColumns, ...stored];
  const rows: unknown[][] = [];
  files.forEach((f, i) => {
    const columns = stored.map((h) => f.columns.find((c) => c.name === h));
    // Hive names a partition of missing values __HIVE_DEFAULT_PARTITION__.
    const fixed = partitionColumns.map((k) => {
      const v = partitions[i]!.get(k);
      return v === undefined || v === '__HIVE_DEFAULT_PARTITION__' ? null : v;
    });
    for (let r = 0; r < f.rows; r++)
      rows.push([...fixed, ...columns.map((c) => (!c ? null : 'numbers' in c ? c.numbers[r] : (c.values[r] ?? null)))]);
  });
  if (rows.length === 0)
    throw new FloeError(
      'invalid_argument',
      `${paths.map((p) => relative(root, p) || basename(p)).join(', ')}: no rows`,
    );
  const dateColumns = stored.filter((h) =>
    files.every((f) => {
      const c = f.columns.find((c) => c.name === h);
      return !c || ('numbers' in c && c.date === true);
    }),
  );
  return { header, rows, dateColumns };
}
