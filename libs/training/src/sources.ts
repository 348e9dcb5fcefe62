// Batch sources over loaded datasets. Each one's position is a small state object, saved with every
// checkpoint, so a resumed run sees exactly the batches it would have seen.
import * as tf from '@tensorflow/tfjs-core';
import {
  ExampleBatcher,
  LmBatcher,
  byteStream,
  modelInput,
  type BatcherState,
  type Dataset,
  type TextDataset,
} from '@floe/data';
import type { Batch, BlockModel, Task } from '@floe/models';

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

/** Shuffled minibatches of images (NHWC) or tabular rows, with class labels or regression targets. */
export class ExampleSource implements BatchSource {
  private readonly batcher: ExampleBatcher;
  readonly unitsPerBatch: number;

  constructor(
    private readonly data: Exclude<Dataset, TextDataset>,
    private readonly batchSize: number,
    seed: number,
  ) {
    const count = data.kind === 'image' ? data.labels.length : data.rows;
    this.batcher = new ExampleBatcher(count, seed);
    this.unitsPerBatch = batchSize;
  }

  /** The next `size` examples (default the batch size); evaluation asks for a short last batch. */
  next(size = this.batchSize): Batch {
    const idx = this.batcher.next(size);
    const d = this.data;
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
    const x = new Float32Array(idx.length * f);
    idx.forEach((r, i) => {
      for (let j = 0; j < f; j++) x[i * f + j] = modelInput(d.x[r * f + j]!);
    });
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

  getState(): unknown {
    return this.batcher.getState();
  }

  setState(state: unknown): void {
    this.batcher.setState(state as ReturnType<ExampleBatcher['getState']>);
  }
}

/** What decides whether a model reads a dataset: its task and spec (a BlockModel, or a description). */
export type ModelDescription = Pick<BlockModel, 'task' | 'spec'>;

/**
 * The shape a builtin model takes from the data it is first trained on: an MLP reads as many inputs as the
 * table has features and has one output per class (or per regression target, with the regression task), so
 * any table trains a fresh MLP; a named size sets only its hidden layers. Other builtins keep their size's
 * shape. The overrides are stored with every checkpoint, so what continues from one keeps them.
 */
export function builtinShape(architecture: string, data: Dataset): { overrides: Record<string, unknown>; task?: Task } {
  if (architecture !== 'mlp' || data.kind !== 'tabular') return { overrides: {} };
  const inputs = data.features.length;
  if (data.target.type === 'class') return { overrides: { inputs, outputs: data.target.classes.length } };
  return { overrides: { inputs, outputs: data.target.names.length }, task: 'regression' };
}

/** Why `model` cannot read `data`, in words; undefined when it can. */
export function mismatch(model: ModelDescription, data: Dataset): string | undefined {
  const c = model.spec.config;
  if (model.task === 'language-model')
    return data.kind === 'text' ? undefined : `a language model reads text, not ${data.kind} data`;
  if (data.kind === 'text') return `a ${model.spec.architecture} model does not read text`;
  if (model.spec.architecture === 'lenet5') {
    if (data.kind !== 'image') return `lenet5 reads images, not ${data.kind} data`;
    if (data.height !== c.inputSize || data.width !== c.inputSize || data.channels !== c.inChannels)
      return `lenet5/${model.spec.size} reads ${c.inputSize}×${c.inputSize}×${c.inChannels} images, not ${data.height}×${data.width}×${data.channels}`;
    return undefined;
  }
  if (data.kind !== 'tabular') return `${model.spec.architecture} reads tabular rows, not ${data.kind} data`;
  const name = `${model.spec.architecture}/${model.spec.size}`;
  if (c.inputs !== undefined && data.features.length !== c.inputs)
    return `${name} reads ${c.inputs} features; the data has ${data.features.length}`;
  // A label past the model's outputs has no logit: the loss would read outside them.
  if (data.target.type === 'class' && model.task !== 'classification')
    return `${name} is a ${model.task} model; the data's target is a class (${data.target.classes.length} classes)`;
  if (data.target.type === 'regression' && model.task !== 'regression')
    return `${name} is a ${model.task} model; the data's target is a number (regression)`;
  if (data.target.type === 'class' && c.outputs !== undefined && data.target.classes.length > Number(c.outputs))
    return `${name} predicts ${c.outputs} classes; the data has ${data.target.classes.length}`;
  if (data.target.type === 'regression' && c.outputs !== undefined && data.target.names.length !== Number(c.outputs))
    return `${name} predicts ${c.outputs} targets; the data has ${data.target.names.length}`;
  return undefined;
}
