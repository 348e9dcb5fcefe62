// What a loaded dataset is. Every loader returns one of three kinds.

interface DatasetCommon {
  name: string;
  /**
   * Each example's split key in [0, 1) from its content (file: datasets; split-keys.ts): its split stays put
   * when the file grows. Builtin datasets have none and are split by a permutation seeded by their name.
   */
  splitKeys?: Float64Array;
}

export interface TextDataset extends DatasetCommon {
  kind: 'text';
  /** One entry per document, as bytes (byte-level tokenisation: a token is a byte). */
  documents: Uint8Array[];
}

export interface TabularDataset extends DatasetCommon {
  kind: 'tabular';
  /** Feature column names. */
  features: string[];
  /** rows × features, row-major; NaN marks a missing value. */
  x: Float32Array;
  rows: number;
  /** Classification: class index per row; regression: rows × targets. */
  target:
    | {
        type: 'class';
        labels: Int32Array;
        classes: string[];
        /** The target column's name, where it has one. */ name?: string;
      }
    | { type: 'regression'; y: Float32Array; names: string[] };
  /** Categorical feature columns: the text of each code, by column. */
  categories?: Record<string, string[]>;
  /** Feature columns read as dates (ISO 8601): their values are days since 1970-01-01 UTC. */
  dates?: string[];
  /**
   * Date columns written day and month by number (5/1/2024, 05.01.2024): which comes first, and whether the cells
   * said so (a day past 12 somewhere); undecided columns took their file's convention (files.ts).
   */
  dateOrders?: Record<string, { order: 'dmy' | 'mdy'; decided: boolean }>;
  /**
   * Feature columns that identify rows (files only): text nearly every value of which is distinct, or whole numbers
   * named as an id, a value in every row, all distinct (files.ts, identifierColumn). A fresh model does not read
   * them; drift reports them outside its verdict.
   */
  identifiers?: string[];
  /** Columns the read was asked to leave out (DatasetRef.ignore_columns; files only; absent when none). */
  ignoredColumns?: string[];
  /** Rows of the file left out because their target was missing (files only; absent when none). */
  rowsWithoutTarget?: number;
  /** A column's cells as text, row by row, where a features-only read asked for one (openPredictionInputs). */
  columnText?: { name: string; values: (string | null)[] };
}

export interface ImageDataset extends DatasetCommon {
  kind: 'image';
  height: number;
  width: number;
  channels: number;
  /** count × height × width × channels in [0, 1]. */
  pixels: Float32Array;
  labels: Int32Array;
  classes: string[];
  /** Images of a folder resized to its most common size (files only; absent when none). */
  resizedImages?: number;
  /** Each image's path in its folder ('/'-separated), where a features-only read kept them (openPredictionInputs). */
  files?: string[];
}

export type Dataset = TextDataset | TabularDataset | ImageDataset;

/**
 * The order of a class target's names: as numbers when every name is one (2 before 10), else as text. A file's
 * classes take it, and so do the classes a model learns from a table and its replay together.
 */
export function orderClasses(names: Iterable<string>): string[] {
  const all = [...new Set(names)];
  const numeric = all.every((c) => c.trim() !== '' && Number.isFinite(Number(c)));
  return numeric ? all.sort((x, y) => Number(x) - Number(y)) : all.sort();
}

/**
 * A tabular feature value as every model reads it (training, evaluation, explanation): a missing (NaN) or
 * infinite value enters as `fill` — the column's mean in the model's training table, where the model records it
 * (an MLP's inputShift), else 0. The profiler counts them as missing.
 */
export const modelInput = (v: number, fill = 0): number => (Number.isFinite(v) ? v : fill);

export type Split = 'train' | 'validation' | 'test' | 'all';

export function exampleCount(d: Dataset): number {
  return d.kind === 'text' ? d.documents.length : d.kind === 'tabular' ? d.rows : d.labels.length;
}

export function byteCount(d: Dataset): number {
  if (d.kind === 'text') return d.documents.reduce((n, doc) => n + doc.length, 0);
  if (d.kind === 'tabular') return d.x.byteLength;
  return d.pixels.byteLength;
}
