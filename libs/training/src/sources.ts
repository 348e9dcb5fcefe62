// Batch sources over loaded datasets. Each one's position is a small state object, saved with every
// checkpoint, so a resumed run sees exactly the batches it would have seen.
import * as tf from '@tensorflow/tfjs-core';
import {
  ExampleBatcher,
  LmBatcher,
  byteStream,
  conformImages,
  DAY_MS,
  dateCellDays,
  numericDateDays,
  type DayMonthOrder,
  exampleCount,
  modelInput,
  orderClasses,
  type BatcherState,
  type Dataset,
  type TabularDataset,
  type TextDataset,
} from '@floe/data';
import { invalidArgument } from '@floe/errors';
import {
  LENET_MIN_SIDE,
  disposeCapture,
  newCapture,
  withClasses,
  withInputCategories,
  type Batch,
  type BlockModel,
  type Task,
} from '@floe/models';

export interface BatchSource {
  next(): Batch;
  getState(): unknown;
  setState(state: unknown): void;
  /** Tokens (LM) or examples per batch, for throughput. */
  readonly unitsPerBatch: number;
}

/** Byte-level LM batches, optionally with a fraction of each batch drawn from a replay text. */
export class LmSource implements BatchSource {
  private readonly main: LmBatcher;
  private readonly replay?: LmBatcher;
  private readonly replayRows: number;
  readonly unitsPerBatch: number;

  constructor(
    data: TextDataset,
    private readonly batchSize: number,
    private readonly seqLen: number,
    seed: number,
    replay?: { data: TextDataset; fraction: number },
  ) {
    this.main = new LmBatcher(byteStream(data), seed);
    this.replayRows = replay ? Math.round(replay.fraction * batchSize) : 0;
    if (replay && this.replayRows > 0) this.replay = new LmBatcher(byteStream(replay.data), seed + 1);
    this.unitsPerBatch = batchSize * seqLen;
  }

  next(): Batch {
    const fresh = this.main.next(this.batchSize - this.replayRows, this.seqLen);
    let x = fresh.x;
    let y = fresh.y;
    if (this.replay) {
      const old = this.replay.next(this.replayRows, this.seqLen);
      x = concat(fresh.x, old.x);
      y = concat(fresh.y, old.y);
    }
    return {
      x: tf.tensor2d(x, [this.batchSize, this.seqLen], 'int32'),
      y: tf.tensor2d(y, [this.batchSize, this.seqLen], 'int32'),
    };
  }

  getState(): { main: BatcherState; replay?: BatcherState } {
    return { main: this.main.getState(), replay: this.replay?.getState() };
  }

  setState(state: unknown): void {
    const s = state as { main: BatcherState; replay?: BatcherState };
    this.main.setState(s.main);
    if (this.replay && s.replay) this.replay.setState(s.replay);
  }
}

function concat(a: Int32Array, b: Int32Array): Int32Array {
  const out = new Int32Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

type ExampleData = Exclude<Dataset, TextDataset>;

/**
 * What a model shaped by its data records of it (builtinShape), so that later data meets it by name: its
 * classes, its columns in the order it reads them, and each categorical column's values in the order of their
 * codes. Older checkpoints record nothing and read tables by position. An image model also reads one image
 * shape, to which other images are brought (conformImages).
 */
export interface DataSchema {
  classNames?: string[];
  featureNames?: string[];
  /** The target column's name (a classifier) or the regression targets' names, as the training table had them. */
  targetNames?: string[];
  categories?: Record<string, string[]>;
  /** What a missing feature value enters as, per column (the training table's means); absent: 0. */
  featureFill?: number[];
  /**
   * The columns the model reads as dates, in days since 1970-01-01 UTC; absent in checkpoints from before it was
   * recorded (alignFeatures then tells days from a Parquet timestamp's milliseconds by the column's mean).
   */
  dateColumns?: string[];
  /** Date columns its table wrote day and month by number (5/1/2024): which came first. */
  dateOrders?: Record<string, DayMonthOrder>;
  /** A table's columns the model was built without, as identifiers of rows: a table may carry them unread. */
  ignoredColumns?: string[];
  /**
   * Numeric columns whose missingness the model also reads: one input each after the columns, 1 where the value
   * is missing (named by missingIndicatorName; alignFeatures adds them).
   */
  missingIndicators?: string[];
  imageShape?: { height: number; width: number; channels: number };
}

/**
 * What a missing value of each column enters an MLP as: its training mean for a number, −1 (no category) for a
 * one-hot column; undefined for models that record neither (0 then, as before).
 */
function featureFillOf(c: Record<string, unknown>): number[] | undefined {
  if (!Array.isArray(c.inputShift)) return undefined;
  const categories = Array.isArray(c.inputCategories) ? (c.inputCategories as number[]) : [];
  return (c.inputShift as number[]).map((mean, j) => (categories[j]! >= 2 ? -1 : mean));
}

/** The config key under which a language model's checkpoints record the longest sequence it trained on. */
export const TRAINED_SEQUENCE_LENGTH = 'trainedSequenceLength';

/** The longest sequence a language model trained on, when its checkpoint records it (runs since it did). */
export function trainedSequenceLength(model: ModelDescription): number | undefined {
  const n = Number(model.spec.config[TRAINED_SEQUENCE_LENGTH]);
  return Number.isInteger(n) && n > 0 ? n : undefined;
}

export function schemaOf(model: ModelDescription): DataSchema {
  const c = model.spec.config;
  const list = (v: unknown) => (Array.isArray(v) ? (v as string[]) : undefined);
  const categories = c.featureCategories;
  return {
    classNames: list(c.classNames),
    featureNames: list(c.featureNames),
    targetNames: list(c.targetNames),
    categories: categories && typeof categories === 'object' ? (categories as Record<string, string[]>) : undefined,
    featureFill: featureFillOf(c),
    dateColumns: list(c.featureDates),
    dateOrders:
      c.featureDateOrders && typeof c.featureDateOrders === 'object'
        ? (c.featureDateOrders as Record<string, DayMonthOrder>)
        : undefined,
    ignoredColumns: list(c.featureIgnored),
    missingIndicators: list(c.featureMissingIndicators),
    ...(model.spec.architecture === 'lenet5' && {
      imageShape: {
        height: Number(c.inputSize),
        width: Number(c.inputWidth ?? c.inputSize),
        channels: Number(c.inChannels),
      },
    }),
  };
}

/** Images in the shape the model reads (resized, grey ↔ colour); other data as it is. */
export function fitImages<D extends Dataset>(data: D, schema: DataSchema): D {
  const shape = schema.imageShape;
  if (data.kind !== 'image' || !shape) return data;
  return conformImages(data, shape.height, shape.width, shape.channels) as D;
}

/** What alignFeatures reads and rewrites of a table. */
type FeatureColumns = Pick<
  TabularDataset,
  'features' | 'x' | 'rows' | 'categories' | 'dates' | 'dateOrders' | 'identifiers' | 'ignoredColumns'
>;

/**
 * A table's columns in the model's order, by name, with each categorical column's codes recoded to the model's
 * (each file numbers its categories in the order it meets them); a value the model never saw reads as missing.
 * A column the model reads that the table lacks, or one it does not read (unless `ignoreExtra`: prediction tables
 * carry identifiers), is refused naming `field` — except identifiers (the table's, or those the model was built
 * without), which a table may carry unread.
 */
export function alignFeatures<T extends FeatureColumns>(
  data: T,
  schema: DataSchema,
  field: string,
  options: { ignoreExtra?: boolean } = {},
): T {
  const names = schema.featureNames;
  if (!names) return data;
  const { missing, extra } = columnDifference(schema, data);
  const leftOut = missing.filter((n) => data.ignoredColumns?.includes(n));
  if (missing.length || (extra.length && !options.ignoreExtra))
    throw invalidArgument(
      field,
      `has the columns ${data.features.join(', ')}; the model reads ${names.join(', ')}${missing.length ? ` (missing: ${missing.join(', ')})` : ''}${extra.length ? ` (not read: ${extra.join(', ')})` : ''}${leftOut.length ? ` (${leftOut.join(', ')} left out by ignore_columns)` : ''}`,
    );
  const own = data.categories ?? {};
  const model = schema.categories ?? {};
  const sameCodes = (n: string) =>
    (own[n] ?? []).length === (model[n] ?? []).length && (own[n] ?? []).every((v, i) => model[n]![i] === v);
  // Until dates were read as days, a Parquet timestamp column read as milliseconds since 1970: a checkpoint that
  // does not record its date columns and centred such a column beyond a million (the days of any year from 1000
  // to 4700 lie within ±10^6, the milliseconds of any time after 1970's first quarter hour beyond) meets the days
  // in milliseconds.
  const readsMilliseconds = (n: string, j: number) =>
    data.dates?.includes(n) && !model[n] && !schema.dateColumns && Math.abs(schema.featureFill?.[j] ?? 0) > 1e6;
  // A table whose 5/1/2024-style dates never pass 12 took its file's convention for which is the day; the model
  // records which its training table had (which that table's cells decided, as a rule), and the table follows it.
  const swapsDayAndMonth = (n: string) => {
    const own = data.dateOrders?.[n];
    const learned = schema.dateOrders?.[n];
    return own !== undefined && !own.decided && learned !== undefined && learned !== own.order;
  };
  const indicators = schema.missingIndicators ?? [];
  const indicatorNames = indicators.map(missingIndicatorName);
  // Aligned already (its indicators after the columns): as it is.
  if (
    data.features.length === names.length + indicators.length &&
    indicatorNames.every((n, k) => data.features[names.length + k] === n) &&
    names.every((n, j) => data.features[j] === n && sameCodes(n) && !readsMilliseconds(n, j) && !swapsDayAndMonth(n))
  )
    return data;
  const F = data.features.length;
  const width = names.length + indicators.length;
  const x = new Float32Array(data.rows * width);
  // Columns with an "other" category read every value they do not list as it (frequentCategories).
  const otherCode = new Map(
    Object.entries(model)
      .filter(([, values]) => values.includes(OTHER_CATEGORY))
      .map(([n, values]) => [n, values.indexOf(OTHER_CATEGORY)]),
  );
  names.forEach((n, j) => {
    const src = data.features.indexOf(n);
    const text = (v: number) => (own[n] ? own[n][v]! : String(v));
    // A model that read a date column as categories (checkpoints from before dates were read as days) meets
    // the days by the dates its categories name.
    const order = data.dateOrders?.[n]?.order;
    const days = (t: string) => (order ? numericDateDays(t, order) : dateCellDays(t));
    const dateCodes =
      model[n] && data.dates?.includes(n)
        ? new Map(model[n].map((t, code) => [Math.fround(days(t)), code]))
        : undefined;
    const unit = readsMilliseconds(n, j) ? DAY_MS : 1;
    const swap = swapsDayAndMonth(n);
    const value = (v: number): number => {
      if (!Number.isFinite(v)) return v;
      if (dateCodes) return dateCodes.get(v) ?? NaN;
      if (swap) return swappedDayAndMonth(v);
      if (unit !== 1) return v * unit;
      if (model[n]) {
        const code = model[n].indexOf(text(v));
        return code >= 0 ? code : (otherCode.get(n) ?? NaN);
      }
      return own[n] ? Number(text(v)) : v;
    };
    for (let r = 0; r < data.rows; r++) x[r * width + j] = value(data.x[r * F + src]!);
  });
  indicators.forEach((n, k) => {
    const j = names.indexOf(n);
    for (let r = 0; r < data.rows; r++) x[r * width + names.length + k] = Number.isNaN(x[r * width + j]!) ? 1 : 0;
  });
  // Dates swapped now read as the model's: aligning the result again must not swap them back.
  const dateOrders = data.dateOrders && {
    ...data.dateOrders,
    ...Object.fromEntries(
      names.filter(swapsDayAndMonth).map((n) => [n, { order: schema.dateOrders![n]!, decided: true }]),
    ),
  };
  return {
    ...data,
    features: [...names, ...indicatorNames],
    x,
    categories: { ...model },
    ...(dateOrders && { dateOrders }),
  };
}

/** The input that reads whether a numeric column's value is missing (DataSchema.missingIndicators). */
export const missingIndicatorName = (column: string): string => `${column} (missing)`;

/** Days since 1970 of a date whose day and month (both 12 or less) were read the other way round. */
function swappedDayAndMonth(days: number): number {
  const ms = days * DAY_MS;
  const date = new Date(ms);
  const midnight = Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), date.getUTCDate());
  return (Date.UTC(date.getUTCFullYear(), date.getUTCDate() - 1, date.getUTCMonth() + 1) + (ms - midnight)) / DAY_MS;
}

/**
 * The columns a model reads that a table lacks, and the table's columns the model does not read — identifiers
 * aside (the table's, or those the model was built without): a table may carry them unread.
 */
function columnDifference(schema: DataSchema, table: Pick<TabularDataset, 'features' | 'identifiers'>) {
  const read = schema.featureNames ?? [];
  // A table aligned already carries the model's missing indicators after its columns.
  const indicators = (schema.missingIndicators ?? []).map(missingIndicatorName);
  const unread = (n: string) =>
    table.identifiers?.includes(n) || schema.ignoredColumns?.includes(n) || indicators.includes(n);
  return {
    missing: read.filter((n) => !table.features.includes(n)),
    extra: table.features.filter((n) => !read.includes(n) && !unread(n)),
  };
}

/** What a model reads of any data, as it reads it: a table's columns by name, images in its shape; text as is. */
export function alignInputs<D extends Dataset>(data: D, schema: DataSchema, field: string): D {
  return data.kind === 'tabular' ? (alignFeatures(data, schema, field) as D) : fitImages(data, schema);
}

/** Examples aligned to the model's schema: inputs (alignInputs) and classes, by name. */
export function alignToModel<D extends ExampleData>(data: D, schema: DataSchema, field: string): D {
  return alignClasses(alignInputs(data, schema, field), schema.classNames, field);
}

/** A dataset's class names and labels, when its target is a class. */
function classesOf(data: ExampleData): { classes: string[]; labels: Int32Array } | undefined {
  if (data.kind === 'image') return { classes: data.classes, labels: data.labels };
  return data.target.type === 'class' ? { classes: data.target.classes, labels: data.target.labels } : undefined;
}

/**
 * Examples relabelled to the model's class order, by name: two tables (or a table and its replay) number their
 * classes each in its own order, and a table without one of the classes numbers the rest differently. A class
 * the model does not predict is refused naming `field`. Without class names (older checkpoints) nothing moves.
 */
export function alignClasses<D extends ExampleData>(
  data: D,
  classNames: readonly string[] | undefined,
  field: string,
): D {
  const own = classesOf(data);
  if (!classNames || !own || own.classes.every((c, i) => classNames[i] === c)) return data;
  const index = own.classes.map((c) => classNames.indexOf(c));
  const unknown = own.classes.filter((_, i) => index[i]! < 0);
  if (unknown.length)
    throw invalidArgument(
      field,
      `has class ${unknown.map((c) => JSON.stringify(c)).join(', ')}, which the model does not predict (its classes: ${classNames.join(', ')})`,
    );
  const labels = own.labels.map((l) => index[l]!);
  const classes = [...classNames];
  if (data.kind === 'image') return { ...data, labels, classes };
  return { ...data, target: { ...data.target, labels, classes } };
}

/** The class names of `sets` (tables with a class target, and images), as each set lists them. */
function classesIn(sets: (Dataset | undefined)[]): string[] {
  return sets.flatMap((d) => (d && d.kind !== 'text' ? (classesOf(d)?.classes ?? []) : []));
}

/**
 * Classes of `sets` (tables or images) that `classNames` lacks, in the order a file's classes take: what a
 * classifier trained on them must grow by (growClasses), or scores as never predicted (the evaluator).
 */
export function classesBeyond(classNames: readonly string[], sets: (Dataset | undefined)[]): string[] {
  return orderClasses(classesIn(sets).filter((c) => !classNames.includes(c)));
}

/**
 * At most `count` of `items`, spread evenly over them: a file sorted by class (or by date) gives every part its
 * share, where the first `count` would give the mean of its first classes only.
 */
function evenlySpaced<T>(items: T[], count: number): T[] {
  if (items.length <= count) return items;
  return Array.from({ length: count }, (_, i) => items[Math.floor((i * items.length) / count)]!);
}

/** How many examples of each new class (and of all) the imprint averages. */
const IMPRINT_EXAMPLES = 256;

/**
 * A classifier that has class names, given the classes of `sets` it lacks: its head gains one output per new
 * class (withClasses; the old classes' logits are unchanged). Each new output is imprinted from the data
 * (after Qi et al., low-shot imprinting): its weights point from the mean head input of all examples m̄ to that
 * of the class's examples m_c, scaled to the old outputs' mean weight norm, and its bias is the old biases'
 * mean at m̄ — an average input gives it an average logit, and training learns the class sooner than from
 * zero weights (measured in docs/ALGORITHMS.md §1).
 * Without new classes (or class names) the model is returned as it is; otherwise it is disposed.
 */
export function growClasses(model: BlockModel, sets: (Dataset | undefined)[]): BlockModel {
  const names = schemaOf(model).classNames;
  if (!names || model.task !== 'classification') return model;
  const added = classesBeyond(names, sets);
  if (added.length === 0) return model;
  const examplesOf = sets
    .filter((d): d is ExampleData => d !== undefined && d.kind !== 'text')
    .map((d) => alignInputs(d, schemaOf(model), 'dataset'));
  /** The mean head input over up to IMPRINT_EXAMPLES examples of `cls` (all classes when undefined). */
  const meanHeadInput = (cls?: string): Float64Array | undefined => {
    const picked = examplesOf.map((d) => {
      const own = classesOf(d)!;
      const want = cls === undefined ? undefined : own.classes.indexOf(cls);
      const rows = [...own.labels.keys()].filter((i) => want === undefined || own.labels[i] === want);
      return { d, rows: evenlySpaced(rows, IMPRINT_EXAMPLES) };
    });
    let sum: Float64Array | undefined;
    let count = 0;
    for (const { d, rows } of picked) {
      if (rows.length === 0) continue;
      const batch = examples(d, Int32Array.from(rows), schemaOf(model).featureFill);
      const capture = newCapture();
      tf.dispose(model.forward(batch.x, { training: false, capture }));
      const h = capture.blocks.get('head')!.input;
      const values = h.dataSync();
      const width = h.shape[1]!;
      sum ??= new Float64Array(width);
      for (let i = 0; i < values.length; i++) sum[i % width]! += values[i]!;
      count += rows.length;
      disposeCapture(capture);
      tf.dispose([batch.x, batch.y]);
    }
    return sum?.map((v) => v / count);
  };
  const head = model.block('head');
  const w = head.params.find((p) => p.name === 'head.w')!.variable;
  const b = head.params.find((p) => p.name === 'head.b')!.variable;
  const [hidden, old] = w.shape as [number, number];
  const oldW = w.dataSync();
  const oldB = b.dataSync();
  let norm = 0;
  for (let k = 0; k < old; k++) {
    let s = 0;
    for (let h = 0; h < hidden; h++) s += oldW[h * old + k]! ** 2;
    norm += Math.sqrt(s) / old;
  }
  let meanBias = 0;
  for (const v of oldB) meanBias += v / old;
  const centre = meanHeadInput()!;
  const weights = new Float32Array(hidden * added.length);
  const bias = new Float32Array(added.length);
  added.forEach((cls, j) => {
    const m = meanHeadInput(cls)!;
    const u = m.map((v, h) => v - centre[h]!);
    const length = Math.sqrt(u.reduce((a, v) => a + v * v, 0));
    let atCentre = 0;
    for (let h = 0; h < hidden; h++) {
      const wh = length > 0 ? (norm * u[h]!) / length : 0;
      weights[h * added.length + j] = wh;
      atCentre += wh * centre[h]!;
    }
    bias[j] = meanBias - atCentre;
  });
  const grown = withClasses(model, [...names, ...added], { weights, bias });
  model.dispose();
  return grown;
}

/**
 * An MLP given tables whose one-hot columns have categories it never read: each such column grows by them, in the
 * order the tables list them, up to MAX_ONE_HOT categories (withInputCategories; every old output unchanged, the
 * new categories' weights zero until training moves them). Others still read as missing. Without new categories
 * (or recorded ones) the model is returned as it is; otherwise it is disposed.
 */
export function growCategories(model: BlockModel, sets: (Dataset | undefined)[]): BlockModel {
  const { featureNames, categories } = schemaOf(model);
  const read = model.spec.config.inputCategories;
  if (!featureNames || !categories || !Array.isArray(read)) return model;
  const grown: Record<string, string[]> = {};
  featureNames.forEach((n, j) => {
    // A column with an "other" category already reads every value it does not list: a row of its own would
    // change what the model makes of them.
    if ((read[j] as number) < 2 || categories[n]!.includes(OTHER_CATEGORY)) return;
    const values = [...categories[n]!];
    for (const d of sets)
      for (const v of (d?.kind === 'tabular' && d.categories?.[n]) || [])
        if (!values.includes(v) && values.length < MAX_ONE_HOT) values.push(v);
    if (values.length > categories[n]!.length) grown[n] = values;
  });
  if (Object.keys(grown).length === 0) return model;
  const out = withInputCategories(model, grown);
  model.dispose();
  return out;
}

/** A checkpoint's model as a run on `sets` starts from it: grown by the categories and classes they bring. */
export function growToData(model: BlockModel, sets: (Dataset | undefined)[]): BlockModel {
  return growClasses(growCategories(model, sets), sets);
}

interface ExampleSourceOptions {
  /** A fraction of every batch drawn from old-domain examples (the replay mixture). */
  replay?: { data: ExampleData; fraction: number };
  /** What the model records of its tables: columns and classes are aligned to it by name (alignToModel). */
  schema?: DataSchema;
  /** Classes: every class as often in the batches, the rarer ones' examples repeated (RunSpec.balance_classes). */
  balanceClasses?: boolean;
}

/**
 * Shuffled minibatches of images (NHWC) or tabular rows, with class labels or regression targets, optionally
 * with a fraction of each batch drawn from a replay dataset (its own seeded order), as LmSource does for text.
 */
export class ExampleSource implements BatchSource {
  private readonly batcher: ExampleBatcher;
  private readonly data: ExampleData;
  private readonly replay?: { data: ExampleData; batcher: ExampleBatcher; rows: number };
  private readonly fill?: readonly number[];
  readonly unitsPerBatch: number;

  constructor(
    data: ExampleData,
    private readonly batchSize: number,
    seed: number,
    options: ExampleSourceOptions = {},
  ) {
    this.data = alignToModel(data, options.schema ?? {}, 'spec.dataset');
    this.fill = options.schema?.featureFill;
    const classes = options.balanceClasses ? classesOf(this.data) : undefined;
    this.batcher = new ExampleBatcher(exampleCount(data), seed, classes?.labels);
    const r = options.replay;
    const rows = r ? Math.round(r.fraction * batchSize) : 0;
    if (r && rows > 0)
      this.replay = {
        data: alignToModel(r.data, options.schema ?? {}, 'spec.mixture.replay_dataset'),
        batcher: new ExampleBatcher(exampleCount(r.data), seed + 1),
        rows,
      };
    this.unitsPerBatch = batchSize;
  }

  /** The next `size` examples (default the batch size); evaluation asks for a short last batch. */
  next(size = this.batchSize): Batch {
    if (!this.replay) return examples(this.data, this.batcher.next(size), this.fill);
    const oldRows = Math.min(this.replay.rows, size);
    const fresh = examples(this.data, this.batcher.next(size - oldRows), this.fill);
    const old = examples(this.replay.data, this.replay.batcher.next(oldRows), this.fill);
    const batch = { x: tf.concat([fresh.x, old.x]), y: tf.concat([fresh.y, old.y]) };
    tf.dispose([fresh.x, fresh.y, old.x, old.y]);
    return batch;
  }

  getState(): unknown {
    return this.replay
      ? { main: this.batcher.getState(), replay: this.replay.batcher.getState() }
      : this.batcher.getState();
  }

  setState(state: unknown): void {
    type Cursor = ReturnType<ExampleBatcher['getState']>;
    const s = state as Cursor | { main: Cursor; replay: Cursor };
    if ('main' in s) {
      this.batcher.setState(s.main);
      this.replay?.batcher.setState(s.replay);
    } else this.batcher.setState(s);
  }
}

/**
 * Rows `rows` of a row-major table of `features` columns as an MLP reads them: a missing value (NaN) enters as
 * `fill` of its column (modelInput) — the one rule for training, evaluation and prediction.
 */
export function tableRowsAsInputs(
  x: Float32Array,
  features: number,
  rows: ArrayLike<number>,
  fill?: readonly number[],
): Float32Array {
  const out = new Float32Array(rows.length * features);
  for (let i = 0; i < rows.length; i++)
    for (let j = 0; j < features; j++) out[i * features + j] = modelInput(x[rows[i]! * features + j]!, fill?.[j]);
  return out;
}

/** The examples at `idx` as tensors; a missing feature value enters as `fill` of its column (else 0). */
function examples(d: ExampleData, idx: Int32Array, fill?: readonly number[]): Batch {
  if (d.kind === 'image') {
    const px = d.height * d.width * d.channels;
    const x = new Float32Array(idx.length * px);
    idx.forEach((r, i) => x.set(d.pixels.subarray(r * px, (r + 1) * px), i * px));
    return {
      x: tf.tensor4d(x, [idx.length, d.height, d.width, d.channels]),
      y: tf.tensor1d(
        Int32Array.from(idx, (r) => d.labels[r]!),
        'int32',
      ),
    };
  }
  const f = d.features.length;
  const x = tableRowsAsInputs(d.x, f, idx, fill);
  if (d.target.type === 'class') {
    const labels = d.target.labels;
    return {
      x: tf.tensor2d(x, [idx.length, f]),
      y: tf.tensor1d(
        Int32Array.from(idx, (r) => labels[r]!),
        'int32',
      ),
    };
  }
  const yAll = d.target.y;
  const k = yAll.length / d.rows;
  const y = new Float32Array(idx.length * k);
  idx.forEach((r, i) => y.set(yAll.subarray(r * k, (r + 1) * k), i * k));
  return { x: tf.tensor2d(x, [idx.length, f]), y: tf.tensor2d(y, [idx.length, k]) };
}

/** What decides whether a model reads a dataset: its task and spec (a BlockModel, or a description). */
export type ModelDescription = Pick<BlockModel, 'task' | 'spec'>;

/**
 * The shape a builtin model takes from the data it is first trained on: an MLP reads as many inputs as the
 * table has features and has one output per class (or per regression target, with the regression task), so
 * any table trains a fresh MLP; a named size sets only its hidden layers. LeNet takes the images' size and
 * channels and one output per class, so any folder of images trains it. Other builtins keep their size's shape.
 * The overrides are stored with every checkpoint, so what continues from one keeps them.
 */
export function builtinShape(
  architecture: string,
  data: Dataset,
  replay?: Dataset,
): { overrides: Record<string, unknown>; task?: Task } {
  if (architecture === 'lenet5' && data.kind === 'image') {
    // The images' size and channels, and one output per class of the images and of their replay, named.
    const classNames = orderClasses(classesIn([data, replay?.kind === 'image' ? replay : undefined]));
    return {
      overrides: {
        inputSize: data.height,
        ...(data.width !== data.height ? { inputWidth: data.width } : {}),
        inChannels: data.channels,
        classes: classNames.length,
        classNames,
      },
    };
  }
  if (architecture !== 'mlp' || data.kind !== 'tabular') return { overrides: {} };
  // Identifiers name rows: a model that read them would learn which rows it saw, and meet new ids beyond them.
  // The columns the request left out are recorded with them, so that later tables may carry them.
  const ignored = [...data.features.filter((n) => data.identifiers?.includes(n)), ...(data.ignoredColumns ?? [])];
  const kept = data.features.filter((n) => !ignored.includes(n));
  if (kept.length === 0)
    throw invalidArgument(
      'dataset',
      `every feature column of ${data.name} identifies rows (${data.identifiers!.join(', ')}), so a model has nothing to learn from`,
    );
  const other = replay?.kind === 'tabular' ? replay : undefined;
  // Columns and categories by name, so that every later table meets the model by name (alignToModel); a
  // categorical column's values are the table's, then the replay's others.
  const featureCategories: Record<string, string[]> = {};
  for (const [n, values] of Object.entries(data.categories ?? {})) {
    if (!kept.includes(n)) continue;
    const all = [...new Set([...values, ...(other?.categories?.[n] ?? [])])];
    featureCategories[n] = all.length > MAX_ONE_HOT ? frequentCategories(n, all, [data, other]) : all;
  }
  // A number's absence can say as much as its value (a bird strike without an airspeed was parked or taxiing):
  // each numeric column with missing values in these tables is also read as whether it is missing.
  const missingIndicators = kept.filter((n) => !featureCategories[n] && [data, other].some((t) => hasMissing(t, n)));
  const inputs = kept.length + missingIndicators.length;
  // The table as the model will read it (its columns, its categories), for the inputs' centre and spread.
  const readsOther = Object.values(featureCategories).some((values) => values.includes(OTHER_CATEGORY));
  const table =
    kept.length < data.features.length || readsOther || missingIndicators.length > 0
      ? alignFeatures(
          data,
          { featureNames: kept, categories: featureCategories, dateColumns: data.dates ?? [], missingIndicators },
          'dataset',
        )
      : data;
  const dateOrders = Object.entries(data.dateOrders ?? {}).filter(([n]) => kept.includes(n));
  const schema = {
    featureNames: kept,
    featureCategories,
    featureDates: (data.dates ?? []).filter((n) => kept.includes(n)),
    ...(dateOrders.length > 0 && { featureDateOrders: Object.fromEntries(dateOrders.map(([n, o]) => [n, o.order])) }),
    ...(ignored.length > 0 && { featureIgnored: ignored }),
    ...(missingIndicators.length > 0 && { featureMissingIndicators: missingIndicators }),
  };
  // Inputs standardised by the table's own centre and spread (a missing value enters at the centre); a
  // categorical column read one-hot on at most MAX_ONE_HOT values.
  const { mean: inputShift, std: inputScale } = columnMoments(table.x, table.rows, inputs);
  const inputCategories = [
    ...kept.map((n) => {
      const k = featureCategories[n]?.length ?? 0;
      return k >= 2 && k <= MAX_ONE_HOT ? k : 0;
    }),
    ...missingIndicators.map(() => 0),
  ];
  const encoding = { inputShift, inputScale, ...(inputCategories.some((k) => k > 0) && { inputCategories }) };
  if (data.target.type === 'class') {
    // One output per class of the table and of its replay, named.
    const classNames = orderClasses(classesIn([data, other]));
    const targetNames = data.target.name === undefined ? {} : { targetNames: [data.target.name] };
    return { overrides: { inputs, outputs: classNames.length, classNames, ...targetNames, ...schema, ...encoding } };
  }
  const outputs = data.target.names.length;
  const { mean: outputShift, std: outputScale } = columnMoments(data.target.y, data.rows, outputs);
  return {
    overrides: {
      inputs,
      outputs,
      targetNames: [...data.target.names],
      ...schema,
      ...encoding,
      outputShift,
      outputScale,
    },
    task: 'regression',
  };
}

/** Whether column `name` of table `t` has a missing value (NaN). */
function hasMissing(t: TabularDataset | undefined, name: string): boolean {
  const j = t?.features.indexOf(name) ?? -1;
  if (!t || j < 0) return false;
  for (let r = 0; r < t.rows; r++) if (Number.isNaN(t.x[r * t.features.length + j])) return true;
  return false;
}

/**
 * The most values of a categorical column a fresh MLP reads one-hot; one with more is read on its most frequent
 * and an "other" category (frequentCategories).
 */
export const MAX_ONE_HOT = 64;

/**
 * A model's category that stands for every value of its column it does not list: the empty text, which no cell
 * holds (a cell without text is missing, and a missing value reads as no category).
 */
export const OTHER_CATEGORY = '';

/**
 * The values of a categorical column of more than MAX_ONE_HOT a fresh MLP reads one-hot: the MAX_ONE_HOT − 1 most
 * frequent in `tables` (the training table and its replay) among those met at least twice (ties: the first met),
 * in the order of `values`, then OTHER_CATEGORY for the rest and for values later tables bring. Rare values share
 * a row apart from missing ones: on vega's movies a director's absence says something of the film, and rare
 * directors read as missing hid it (npm run bench:categories). Reading the column as its code — as floe did —
 * ordered directors or airports by where a file first named them.
 */
function frequentCategories(name: string, values: string[], tables: (TabularDataset | undefined)[]): string[] {
  const counts = new Map(values.map((v) => [v, 0]));
  for (const t of tables) {
    const j = t?.features.indexOf(name) ?? -1;
    const codes = t?.categories?.[name];
    if (!t || j < 0 || !codes) continue;
    const f = t.features.length;
    for (let r = 0; r < t.rows; r++) {
      const code = t.x[r * f + j]!;
      if (Number.isInteger(code) && code >= 0 && code < codes.length)
        counts.set(codes[code]!, counts.get(codes[code]!)! + 1);
    }
  }
  // A stable sort: equal counts keep the order met.
  const ranked = values.filter((v) => counts.get(v)! >= 2).sort((a, b) => counts.get(b)! - counts.get(a)!);
  const read = new Set(ranked.slice(0, MAX_ONE_HOT - 1));
  return [...values.filter((v) => read.has(v)), OTHER_CATEGORY];
}

/**
 * Each column's mean and standard deviation over its finite values, of a row-major table; a column without
 * values gets 0 and 1, one without spread a scale of 1 (so standardising it only centres it).
 */
function columnMoments(x: ArrayLike<number>, rows: number, columns: number): { mean: number[]; std: number[] } {
  const sum = new Float64Array(columns);
  const count = new Float64Array(columns);
  for (let r = 0; r < rows; r++)
    for (let j = 0; j < columns; j++) {
      const v = x[r * columns + j]!;
      if (Number.isFinite(v)) {
        sum[j]! += v;
        count[j]!++;
      }
    }
  const mean = Array.from(sum, (s, j) => (count[j]! > 0 ? s / count[j]! : 0));
  const squares = new Float64Array(columns);
  for (let r = 0; r < rows; r++)
    for (let j = 0; j < columns; j++) {
      const v = x[r * columns + j]!;
      if (Number.isFinite(v)) squares[j]! += (v - mean[j]!) ** 2;
    }
  const std = Array.from(squares, (q, j) => {
    const sd = count[j]! > 1 ? Math.sqrt(q / count[j]!) : 0;
    return sd > 1e-12 * Math.max(1, Math.abs(mean[j]!)) ? sd : 1;
  });
  return { mean, std };
}

/** Why `model` cannot read `data`, in words; undefined when it can. */
export function mismatch(model: ModelDescription, data: Dataset): string | undefined {
  const c = model.spec.config;
  if (model.task === 'language-model')
    return data.kind === 'text' ? undefined : `a language model reads text, not ${data.kind} data`;
  if (data.kind === 'text') return `a ${model.spec.architecture} model does not read text`;
  if (model.spec.architecture === 'lenet5') {
    if (data.kind !== 'image') return `lenet5 reads images, not ${data.kind} data`;
    // Images of another size or channel count are brought to the model's (fitImages); a model shaped by images
    // too small for its two conv-and-pool stages cannot be built.
    const width = Number(c.inputWidth ?? c.inputSize);
    if (Number(c.inputSize) < LENET_MIN_SIDE || width < LENET_MIN_SIDE)
      return `lenet5 reads images of at least ${LENET_MIN_SIDE}×${LENET_MIN_SIDE} pixels; the data's are ${data.height}×${data.width}`;
    if (!schemaOf(model).classNames && data.classes.length > Number(c.classes))
      return `lenet5/${model.spec.size} predicts ${c.classes} classes; the data has ${data.classes.length}`;
    return undefined;
  }
  if (data.kind !== 'tabular') return `${model.spec.architecture} reads tabular rows, not ${data.kind} data`;
  const name = `${model.spec.architecture}/${model.spec.size}`;
  const schema = schemaOf(model);
  const { featureNames, classNames, targetNames } = schema;
  if (featureNames) {
    const { missing, extra } = columnDifference(schema, data);
    // The table's target may be another column than the one the model learned (read by default as label,
    // target or the last): say which to name.
    const learned = targetNames?.length === 1 && data.features.includes(targetNames[0]!) ? targetNames[0] : undefined;
    if (missing.length || extra.length)
      return `${name} reads the columns ${featureNames.join(', ')}; the data${missing.length ? ` lacks ${missing.join(', ')}` : ''}${missing.some((n) => data.ignoredColumns?.includes(n)) ? ' (left out by ignore_columns)' : ''}${missing.length && extra.length ? ' and' : ''}${extra.length ? ` also has ${extra.join(', ')}` : ''}${learned ? ` (the model learned to predict ${learned}: name it as the target column)` : ''}`;
  } else if (c.inputs !== undefined && data.features.length !== c.inputs)
    return `${name} reads ${c.inputs} features; the data has ${data.features.length}`;
  // A label past the model's outputs has no logit: the loss would read outside them.
  if (data.target.type === 'class' && model.task !== 'classification')
    return `${name} is a ${model.task} model; the data's target is a class (${data.target.classes.length} classes)`;
  if (data.target.type === 'regression' && model.task !== 'regression')
    return `${name} is a ${model.task} model; the data's target is a number (regression)`;
  // A model with class names meets new classes by growing (growClasses) or scores them as never predicted (the
  // evaluator); one without (older checkpoints) reads labels by position, so more classes than outputs cannot be.
  if (
    data.target.type === 'class' &&
    !classNames &&
    c.outputs !== undefined &&
    data.target.classes.length > Number(c.outputs)
  )
    return `${name} predicts ${c.outputs} classes; the data has ${data.target.classes.length}`;
  if (data.target.type === 'regression' && c.outputs !== undefined && data.target.names.length !== Number(c.outputs))
    return `${name} predicts ${c.outputs} targets; the data has ${data.target.names.length}`;
  return undefined;
}
