// Block scoring in a worker thread (the house rule: TF.js work never runs on the server's event loop):
// open the model and the data, draw the calibration batches, score every block, and the reference loss.
import { openDataset, type Dataset, type TextDataset } from '@floe/data';
import { initBackend } from '@floe/ml-runtime';
import type { Batch, BlockModel } from '@floe/models';
import { LocalArtifactStore } from '@floe/store';
import { meanLoss, resolveScoring, scoreBlocks, type Scores, type ScoringOptions } from '@floe/adaptation';
import {
  ExampleSource,
  growToData,
  schemaOf,
  LmSource,
  noRunResolver,
  openByTarget,
  openModel,
  requireEnough,
  requireReadable,
  serveTask,
  type ComputeEnv,
  type ResolvedModelSource,
} from '@floe/training';
import type { Split } from '@floe/data';

/** A dataset as the task opens it; `field` names it in errors. */
export interface TaskDataRef {
  field: string;
  uri: string;
  split: Split;
  maxExamples: number;
  /** A table's target column; empty: "label" or "target", else the last. */
  targetColumn: string;
  /** A table's columns to leave out (DatasetRef.ignore_columns). */
  ignoreColumns: string[];
}

export interface ScoreTaskInput {
  env: ComputeEnv;
  model: ResolvedModelSource;
  dataset: TaskDataRef;
  reference?: TaskDataRef;
  scoring: Partial<ScoringOptions>;
  seed: number;
}

export interface ScoreTaskOutput {
  scores: Scores;
  referenceLoss?: number;
}

export type ScoreTaskProgress = { done: number; total: number };

function calibrationBatches(
  model: BlockModel,
  data: Dataset,
  ref: TaskDataRef,
  o: ScoringOptions,
  seed: number,
): Batch[] {
  requireReadable(model, data, 'model', ref.field);
  if (model.task === 'language-model') requireEnough(data, ref.field, ref.split, o.sequenceLength);
  const source =
    data.kind === 'text'
      ? new LmSource(data as TextDataset, o.batchSize, o.sequenceLength, seed)
      : new ExampleSource(data, o.batchSize, seed, { schema: schemaOf(model) });
  return Array.from({ length: o.calibrationBatches }, () => source.next());
}

const dispose = (batches: Batch[]) => batches.forEach((b) => (b.x.dispose(), b.y.dispose()));

serveTask<ScoreTaskInput, ScoreTaskOutput, ScoreTaskProgress>(async (input, progress) => {
  const { env } = input;
  await initBackend(env.backend, { threads: env.threads });
  const limits = { dataRoots: env.dataRoots, maxBytes: env.maxDatasetBytes };
  const open = (ref: TaskDataRef, targetColumn = ref.targetColumn) =>
    openDataset({ ...ref, targetColumn }, limits, ref.field);
  const artifacts = new LocalArtifactStore(env.artifactsDir);
  let data: Dataset;
  let reference: Dataset | undefined;
  let model: BlockModel;
  if (input.model.kind === 'builtin') {
    // A builtin is scored as a run on this data (replaying the reference) would build it: a fresh MLP takes the
    // table's shape.
    data = open(input.dataset);
    reference = input.reference && open(input.reference);
    model = await openModel('model', input.model, artifacts, noRunResolver, { data, replay: reference });
  } else {
    // A trained model reads tables by the column it learned to predict unless the reference names another, and
    // is scored as a run on this data would start from it: grown by the categories and classes it brings.
    const trained = await openModel('model', input.model, artifacts, noRunResolver);
    const openFor = async (ref: TaskDataRef) =>
      (await openByTarget(trained, ref.targetColumn, (column) => open(ref, column ?? ''))).data;
    try {
      data = await openFor(input.dataset);
      reference = input.reference && (await openFor(input.reference));
    } catch (err) {
      trained.dispose();
      throw err;
    }
    model = growToData(trained, [data, reference]);
  }
  try {
    const o = resolveScoring(input.scoring, Number(model.spec.config.context ?? 0) || undefined);
    const batches = calibrationBatches(model, data, input.dataset, o, input.seed);
    const scores = await scoreBlocks(model, batches, (done) => progress({ done, total: o.calibrationBatches }));
    dispose(batches);
    let referenceLoss: number | undefined;
    if (input.reference) {
      const ref = input.reference;
      const refBatches = calibrationBatches(model, reference!, ref, o, input.seed);
      referenceLoss = meanLoss(model, refBatches);
      dispose(refBatches);
    }
    return { scores, referenceLoss };
  } finally {
    model.dispose();
  }
});
