// Deterministic splits and batch iterators whose whole position is a small state object (the data cursor
// of a checkpoint): restoring it continues with exactly the batches that would have come next.
import { FloeError } from '@floe/errors';
import { Rng, rngFor } from '@floe/random';
import type { Dataset, ImageDataset, Split, TabularDataset, TextDataset } from './types.js';
import { exampleCount } from './types.js';
import { SPLIT_FRACTIONS, keyedSplits } from './split-keys.js';
import { finish, type Steps } from './steps.js';

export { SPLIT_FRACTIONS };

/**
 * Indices of a split. With split keys (file: datasets) each example's split follows its content (keyedSplits);
 * 'all' is then every example in key order. Else (builtins) a fixed permutation of the examples, seeded by the
 * dataset's name, cut 80/10/10. Splits are in index order; 'all' in the shuffled order (a capped 'all' is a
 * random sample).
 */
export function splitIndices(d: Dataset, split: Split): Int32Array {
  if (d.splitKeys) {
    const { order, parts } = keyedSplits(d.splitKeys);
    if (split === 'all') return Int32Array.from(order);
    const part = parts[split === 'train' ? 0 : split === 'validation' ? 1 : 2];
    return Int32Array.from(part).sort();
  }
  const n = exampleCount(d);
  const order = rngFor(0, `split:${d.name}`).shuffle([...Array(n).keys()]);
  if (split === 'all') return Int32Array.from(order);
  const nTrain = Math.round(n * SPLIT_FRACTIONS.train);
  const nVal = Math.round(n * SPLIT_FRACTIONS.validation);
  const [lo, hi] =
    split === 'train' ? [0, nTrain] : split === 'validation' ? [nTrain, nTrain + nVal] : [nTrain + nVal, n];
  return Int32Array.from(order.slice(lo, hi).sort((a, b) => a - b));
}

/**
 * Text with fewer documents than this is split inside each document (by bytes) instead of between them:
 * a single file would otherwise be all train, with empty validation and test splits.
 */
export const MIN_DOCUMENTS_TO_SPLIT_BY_DOCUMENT = 10;

/** How a text dataset is split: between documents, or (few documents) each cut 80/10/10 by bytes. */
export function textSplitRule(d: TextDataset): 'documents' | 'bytes' {
  return d.documents.length < MIN_DOCUMENTS_TO_SPLIT_BY_DOCUMENT ? 'bytes' : 'documents';
}

/**
 * How any dataset is split: 'bytes' (text of few documents, each cut by bytes), 'content' (examples with split
 * keys: file: datasets) or 'documents' (a permutation of the documents or examples: builtins).
 */
export function splitRule(d: Dataset): 'bytes' | 'content' | 'documents' {
  if (d.kind === 'text' && textSplitRule(d) === 'bytes') return 'bytes';
  return d.splitKeys ? 'content' : 'documents';
}

/** The contiguous byte range of `split` within one document of `length` bytes (the 'bytes' rule). */
function byteRange(length: number, split: Exclude<Split, 'all'>): [number, number] {
  const a = Math.round(length * SPLIT_FRACTIONS.train);
  const b = Math.round(length * (SPLIT_FRACTIONS.train + SPLIT_FRACTIONS.validation));
  return split === 'train' ? [0, a] : split === 'validation' ? [a, b] : [b, length];
}

/** A subset of a dataset (a split, optionally capped at `max` examples). */
export function selectSplit<D extends Dataset>(d: D, split: Split, max = 0): D {
  return finish(selectSplitSteps(d, split, max));
}

/** Values copied between two yields of `selectSplitSteps` (a few ms here). */
const VALUES_PER_STEP = 1 << 18;

/**
 * `selectSplit` in slices: it yields while it copies rows or images (a split of 330 photos of 224×224 is 200 MB
 * of pixels, a second or two of copying on this machine).
 */
export function* selectSplitSteps<D extends Dataset>(d: D, split: Split, max = 0): Steps<D> {
  if (d.kind === 'text' && split !== 'all' && splitRule(d) === 'bytes') {
    const docs = (d as TextDataset).documents.map((doc) => doc.subarray(...byteRange(doc.length, split)));
    return { ...d, documents: max > 0 ? docs.slice(0, max) : docs, splitKeys: undefined };
  }
  let idx = splitIndices(d, split);
  if (max > 0 && idx.length > max) idx = idx.slice(0, max);
  const keys = d.splitKeys && { splitKeys: Float64Array.from(idx, (i) => d.splitKeys![i]!) };
  if (d.kind === 'text') return { ...d, ...keys, documents: Array.from(idx, (i) => (d as TextDataset).documents[i]!) };
  if (d.kind === 'tabular') {
    const t = d as TabularDataset;
    const f = t.features.length;
    const x = yield* gatherRows(t.x, f, idx);
    const target =
      t.target.type === 'class'
        ? { ...t.target, labels: Int32Array.from(idx, (r) => (t.target as { labels: Int32Array }).labels[r]!) }
        : { ...t.target, y: yield* gatherRows(t.target.y, t.target.y.length / t.rows, idx) };
    return { ...t, ...keys, x, rows: idx.length, target } as D;
  }
  const im = d as ImageDataset;
  const pixels = yield* gatherRows(im.pixels, im.height * im.width * im.channels, idx);
  return { ...im, ...keys, pixels, labels: Int32Array.from(idx, (r) => im.labels[r]!) } as D;
}

/** Rows `idx` (each `width` values) of a row-major array, copied in order. */
export function* gatherRows(from: Float32Array, width: number, idx: Int32Array): Steps<Float32Array> {
  const out = new Float32Array(idx.length * width);
  let copied = 0;
  for (let i = 0; i < idx.length; i++) {
    const r = idx[i]!;
    out.set(from.subarray(r * width, (r + 1) * width), i * width);
    copied += width;
    if (copied >= VALUES_PER_STEP) {
      copied = 0;
      yield;
    }
  }
  return out;
}

/** Size of each split: bytes for text (the split rule's), examples otherwise. */
export function splitSizes(d: Dataset): Record<'train' | 'validation' | 'test', number> {
  const size = (split: 'train' | 'validation' | 'test') =>
    d.kind === 'text'
      ? (selectSplit(d, split) as TextDataset).documents.reduce((n, doc) => n + doc.length, 0)
      : splitIndices(d, split).length;
  return { train: size('train'), validation: size('validation'), test: size('test') };
}

/** Documents joined into one byte stream, separated by a newline. */
export function byteStream(d: TextDataset): Uint8Array {
  const total = d.documents.reduce((n, doc) => n + doc.length + 1, 0);
  const out = new Uint8Array(total);
  let o = 0;
  for (const doc of d.documents) {
    out.set(doc, o);
    o += doc.length;
    out[o++] = 10;
  }
  return out;
}

export interface BatcherState {
  rng: { state: number; spare: number | null };
  served: number;
}

/** Random windows of `seqLen + 1` bytes: x the first seqLen, y the next byte at each position. */
export class LmBatcher {
  private readonly rng: Rng;
  private served = 0;
  constructor(
    private readonly stream: Uint8Array,
    seed: number,
  ) {
    this.rng = rngFor(seed, 'lm-batches');
  }

  next(batchSize: number, seqLen: number): { x: Int32Array; y: Int32Array } {
    if (this.stream.length < seqLen + 2)
      throw new FloeError(
        'failed_precondition',
        `the text (${this.stream.length} bytes) is shorter than one sequence (${seqLen + 2} bytes)`,
      );
    const x = new Int32Array(batchSize * seqLen);
    const y = new Int32Array(batchSize * seqLen);
    for (let b = 0; b < batchSize; b++) {
      const start = this.rng.int(this.stream.length - seqLen - 1);
      for (let t = 0; t < seqLen; t++) {
        x[b * seqLen + t] = this.stream[start + t]!;
        y[b * seqLen + t] = this.stream[start + t + 1]!;
      }
    }
    this.served++;
    return { x, y };
  }

  getState(): BatcherState {
    return { rng: this.rng.getState(), served: this.served };
  }

  setState(s: BatcherState): void {
    this.rng.setState(s.rng);
    this.served = s.served;
  }
}

/** Shuffled epochs over examples, reshuffled each epoch from the seeded generator. */
export class ExampleBatcher {
  private readonly rng: Rng;
  private order: number[] = [];
  private position = 0;
  private served = 0;
  /** With `balanceBy`: each class's examples, classes in ascending order. */
  private readonly classes?: number[][];
  /**
   * `balanceBy` (each example's class) makes every class come as often: an epoch holds each class's examples
   * repeated, in shuffled rounds, up to the most common class's count, the whole shuffled.
   */
  constructor(
    private readonly count: number,
    seed: number,
    balanceBy?: Int32Array,
  ) {
    this.rng = rngFor(seed, 'example-batches');
    if (!balanceBy) return;
    const byClass = new Map<number, number[]>();
    for (let i = 0; i < count; i++) {
      const c = balanceBy[i]!;
      if (!byClass.has(c)) byClass.set(c, []);
      byClass.get(c)!.push(i);
    }
    this.classes = [...byClass.keys()].sort((a, b) => a - b).map((c) => byClass.get(c)!);
  }

  /** The next epoch's order of examples. */
  private epoch(): number[] {
    if (!this.classes) return this.rng.shuffle([...Array(this.count).keys()]);
    const most = Math.max(...this.classes.map((members) => members.length));
    const order: number[] = [];
    for (const members of this.classes)
      for (let taken = 0; taken < most; taken += members.length)
        order.push(...this.rng.shuffle([...members]).slice(0, most - taken));
    return this.rng.shuffle(order);
  }

  next(batchSize: number): Int32Array {
    const out = new Int32Array(batchSize);
    for (let i = 0; i < batchSize; i++) {
      if (this.position >= this.order.length) {
        this.order = this.epoch();
        this.position = 0;
      }
      out[i] = this.order[this.position++]!;
    }
    this.served++;
    return out;
  }

  getState(): BatcherState & { order: number[]; position: number } {
    return { rng: this.rng.getState(), served: this.served, order: [...this.order], position: this.position };
  }

  setState(s: BatcherState & { order: number[]; position: number }): void {
    this.rng.setState(s.rng);
    this.served = s.served;
    // A file that lost examples since the checkpoint: the epoch goes on without them. (Rows appended to a file
    // leave the others' places in their split; the new ones join at the next epoch.)
    this.order = s.order.filter((i) => i < this.count);
    this.position = s.order.slice(0, s.position).filter((i) => i < this.count).length;
  }
}
