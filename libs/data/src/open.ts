// The one entry point: a dataset reference → the examples of its split, within the size limit.
import { FloeError, InvalidArgumentError, invalidArgument, resourceExhausted } from '@floe/errors';
import { loadBuiltin } from './builtin.js';
import { fileSteps, tableOfRecords, type FileReadOptions } from './files.js';
import { parseDatasetUri, resolveDataPath } from './refs.js';
import { gatherRows, selectSplitSteps, splitIndices } from './batches.js';
import { byteCount, type Dataset, type Split, type TabularDataset } from './types.js';
import { finish, finishYielding, type Steps } from './steps.js';

export const DEFAULT_MAX_DATASET_BYTES = 512 * 1024 * 1024;

export interface OpenOptions {
  dataRoots: string[];
  /** Largest dataset accepted, in bytes. */
  maxBytes?: number;
  /**
   * The whole dataset as read, in file order, neither split nor copied (a builtin's is shared: read only) — for
   * checks of its shape and its splits' sizes; the reference's split is ignored. Copying hundreds of megabytes of
   * pixels takes seconds.
   */
  asRead?: boolean;
}

export interface DatasetRefInput {
  uri: string;
  split?: Split;
  maxExamples?: number;
  /** A table's target column; empty or absent: "label" or "target", else the last (files only). */
  targetColumn?: string;
  /** A table's columns to leave out (files only; DatasetRef.ignore_columns). */
  ignoreColumns?: readonly string[];
}

/**
 * Opens `ref`; errors name `field` (the request's field that holds the reference, e.g. `spec.dataset`). At once:
 * for worker threads; on the event loop, openDatasetAsync.
 */
export const openDataset = (ref: DatasetRefInput, opts: OpenOptions, field = 'dataset'): Dataset =>
  finish(openSteps(ref, opts, field));

/**
 * openDataset for the event loop: a folder's files are read and decoded in slices of `sliceMs` (default 10),
 * so other calls and health probes go on meanwhile; an aborted `signal` stops the reading.
 */
export const openDatasetAsync = (
  ref: DatasetRefInput,
  opts: OpenOptions & { sliceMs?: number; signal?: AbortSignal },
  field = 'dataset',
): Promise<Dataset> => finishYielding(openSteps(ref, opts, field), opts);

function* openSteps(
  ref: DatasetRefInput,
  opts: OpenOptions,
  field: string,
  read: FileReadOptions = {},
): Steps<Dataset> {
  const maxBytes = opts.maxBytes ?? DEFAULT_MAX_DATASET_BYTES;
  const parsed = parseDatasetUri(ref.uri, `${field}.uri`);
  const targetColumn = read.featuresOnly ? undefined : ref.targetColumn || undefined;
  const ignoreColumns = ref.ignoreColumns?.length ? ref.ignoreColumns : undefined;
  if (targetColumn !== undefined && parsed.scheme === 'builtin')
    throw invalidArgument(
      `${field}.target_column`,
      `${ref.uri} has a fixed target; a target column is for file: tables`,
    );
  if (ignoreColumns && parsed.scheme === 'builtin')
    throw invalidArgument(
      `${field}.ignore_columns`,
      `${ref.uri} has fixed features; columns to leave out are for file: tables`,
    );
  let full: Dataset;
  try {
    full =
      parsed.scheme === 'builtin'
        ? loadBuiltin(parsed.name)
        : yield* readFile(resolveDataPath(parsed.path, opts.dataRoots), maxBytes, {
            ...read,
            targetColumn,
            ignoreColumns,
          });
  } catch (err) {
    // The file's reader names the reference's own fields; the request holds the reference at `field`.
    if (err instanceof InvalidArgumentError && err.violations.every((v) => REFERENCE_FIELD.test(v.field)))
      throw invalidArgument(`${field}.${err.violations[0]!.field}`, err.violations[0]!.description);
    // Say which of the request's datasets could not be read (a request can name several); a file's content
    // that cannot be read as a dataset is a violation of that field.
    if (err instanceof FloeError && err.kind === 'invalid_argument' && err.violations.length === 0)
      throw invalidArgument(`${field}.uri`, err.message);
    if (err instanceof FloeError && err.kind !== 'invalid_argument' && !err.message.startsWith(`${field}`))
      throw new FloeError(err.kind, `${field}.uri: ${err.message}`, { cause: err });
    throw err;
  }
  if (targetColumn !== undefined && full.kind !== 'tabular')
    throw invalidArgument(
      `${field}.target_column`,
      `${ref.uri} holds ${full.kind === 'text' ? 'text' : 'images'}; a target column is for tables`,
    );
  if (ignoreColumns && full.kind !== 'tabular')
    throw invalidArgument(
      `${field}.ignore_columns`,
      `${ref.uri} holds ${full.kind === 'text' ? 'text' : 'images'}, which have no columns to leave out`,
    );
  const bytes = byteCount(full);
  if (bytes > maxBytes)
    throw resourceExhausted(`${field}: ${ref.uri} is ${bytes} bytes, over the limit of ${maxBytes}`);
  if (opts.asRead) return full;
  return yield* selectSplitSteps(full, ref.split ?? 'all', ref.maxExamples ?? 0);
}

/** The fields of a DatasetRef a file's reader names in its refusals. */
const REFERENCE_FIELD = /^(target_column|ignore_columns(\[\d+\])?)$/;

/** loadFile with the file system's refusals (unreadable, vanished, a broken link inside a folder) as NOT_FOUND. */
function* readFile(path: string, maxBytes: number, read: FileReadOptions): Steps<Dataset> {
  try {
    return yield* fileSteps(path, maxBytes, read);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (typeof e.code === 'string' && e.syscall)
      throw new FloeError('not_found', `cannot read ${e.path ?? path}: ${e.code}`, { cause: err });
    throw err;
  }
}

/** The rows of a table a model is asked to predict: every column, every row (no target taken out), in file order. */
export interface FeatureTable {
  kind: 'tabular';
  name: string;
  /** Column names, in the file's order. */
  features: string[];
  /** rows × features, row-major; NaN marks a missing value; categorical columns as codes into `categories`. */
  x: Float32Array;
  rows: number;
  categories: Record<string, string[]>;
  /** Columns read as dates, and columns that identify rows (TabularDataset's, of the whole file). */
  dates?: string[];
  dateOrders?: TabularDataset['dateOrders'];
  identifiers?: string[];
  /** Columns the request left out (DatasetRef.ignore_columns): not among `features`. */
  ignoredColumns?: string[];
  /** Each row's position among the file's data rows (0-based): the split and the cap pick some of them. */
  rowNumbers: Int32Array;
  /** The requested text column's cells, row by row (PredictionInputOptions.textColumn). */
  columnText?: { name: string; values: (string | null)[] };
}

/** Images a model is asked to classify: every image of a folder at any depth (no class folders needed). */
export interface ImagesToPredict {
  kind: 'image';
  name: string;
  height: number;
  width: number;
  channels: number;
  /** rows × height × width × channels in [0, 1]. */
  pixels: Float32Array;
  rows: number;
  /** Each image's position among the folder's images in name order (0-based). */
  rowNumbers: Int32Array;
  /** Each image's path in its folder ('/'-separated); absent for builtins. */
  files?: string[];
}

export type PredictionInputs = FeatureTable | ImagesToPredict;

export interface PredictionInputOptions extends OpenOptions {
  /** A table's column whose cells come back as text too (an identifier); INVALID_ARGUMENT on `textField` when absent. */
  textColumn?: string;
  textField?: string;
}

/**
 * What a model is asked to predict: a table's every column and row — rows without a target are what a model is
 * asked about, and a target column, when the file has one, is just another column (a builtin table loses its
 * target) — or every image of a folder, class folders or not. The reference's split (by content: the rows a
 * training run put there) and cap choose rows, kept in file order. Text is INVALID_ARGUMENT naming `field`.uri.
 * At once: for worker threads.
 */
export function openPredictionInputs(
  ref: DatasetRefInput,
  opts: PredictionInputOptions,
  field = 'dataset',
): PredictionInputs {
  const data = finish(
    openSteps(ref, { ...opts, asRead: true }, field, { featuresOnly: true, textColumn: opts.textColumn }),
  );
  if (data.kind === 'text')
    throw invalidArgument(
      `${field}.uri`,
      `${ref.uri} holds text; predictions are made for the rows of a table (CSV, TSV, JSON lines, Parquet) or for images`,
    );
  const split = ref.split ?? 'all';
  const count = data.kind === 'image' ? data.labels.length : data.rows;
  let rows = split === 'all' ? Int32Array.from({ length: count }, (_, i) => i) : splitIndices(data, split).sort();
  if (ref.maxExamples && rows.length > ref.maxExamples) rows = rows.slice(0, ref.maxExamples);
  if (data.kind === 'image') {
    if (opts.textColumn !== undefined)
      throw invalidArgument(
        opts.textField ?? 'text_column',
        `${ref.uri} holds images, which have no columns; each prediction's id is its image's path`,
      );
    return {
      kind: 'image',
      name: data.name,
      height: data.height,
      width: data.width,
      channels: data.channels,
      pixels: finish(gatherRows(data.pixels, data.height * data.width * data.channels, rows)),
      rows: rows.length,
      rowNumbers: rows,
      ...(data.files && { files: Array.from(rows, (r) => data.files![r]!) }),
    };
  }
  return featureTable(data, opts, ref.uri, rows);
}

/**
 * Rows sent with a request (column → value, as JSON lines hold them) as a table to predict: every row, in order.
 * INVALID_ARGUMENT naming `field` when there are none; an unknown text column as openPredictionInputs.
 */
export function predictionInputsOfRecords(
  records: readonly Record<string, unknown>[],
  opts: Pick<PredictionInputOptions, 'textColumn' | 'textField'>,
  field = 'rows',
): FeatureTable {
  if (records.length === 0) throw invalidArgument(field, 'send at least one row');
  const table = tableOfRecords(field, records, { featuresOnly: true, textColumn: opts.textColumn });
  return featureTable(
    table,
    opts,
    field,
    Int32Array.from({ length: table.rows }, (_, i) => i),
  );
}

/** Rows `rows` of a table read features-only, with the text column asked for. */
function featureTable(
  table: TabularDataset,
  opts: Pick<PredictionInputOptions, 'textColumn' | 'textField'>,
  source: string,
  rows: Int32Array,
): FeatureTable {
  let columnText = table.columnText;
  if (opts.textColumn !== undefined && !columnText) {
    // A builtin table (read with its target out) has the column among its features, if at all.
    const j = table.features.indexOf(opts.textColumn);
    if (j < 0)
      throw invalidArgument(
        opts.textField ?? 'text_column',
        `${source} has no column ${JSON.stringify(opts.textColumn)}; its columns: ${table.features.join(', ')}`,
      );
    const codes = table.categories?.[opts.textColumn];
    const f = table.features.length;
    columnText = {
      name: opts.textColumn,
      values: Array.from({ length: table.rows }, (_, r) => {
        const v = table.x[r * f + j]!;
        return Number.isNaN(v) ? null : codes ? codes[v]! : String(v);
      }),
    };
  }
  return {
    kind: 'tabular',
    name: table.name,
    features: [...table.features],
    x: finish(gatherRows(table.x, table.features.length, rows)),
    rows: rows.length,
    categories: { ...(table.categories ?? {}) },
    ...(table.dates && { dates: [...table.dates] }),
    ...(table.dateOrders && { dateOrders: { ...table.dateOrders } }),
    ...(table.identifiers && { identifiers: [...table.identifiers] }),
    ...(table.ignoredColumns && { ignoredColumns: [...table.ignoredColumns] }),
    rowNumbers: rows,
    ...(columnText && {
      columnText: { name: columnText.name, values: Array.from(rows, (r) => columnText.values[r]!) },
    }),
  };
}
