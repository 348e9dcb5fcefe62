// Predict's model passes in a worker thread (TF.js work never runs on the server's event loop): a table read
// with every row and column, aligned to the model's columns by name — or a folder of images brought to the
// model's size — predicted in batches that go back to the handler as they are made.
import * as tf from '@tensorflow/tfjs';
import {
  openPredictionInputs,
  predictionInputsOfRecords,
  type DatasetRefInput,
  type FeatureTable,
  type ImagesToPredict,
} from '@floe/data';
import type { BlockModel } from '@floe/models';
import { invalidArgument } from '@floe/errors';
import { initBackend } from '@floe/ml-runtime';
import { LocalArtifactStore } from '@floe/store';
import {
  alignFeatures,
  fitImages,
  noRunResolver,
  openModel,
  schemaOf,
  serveTask,
  tableRowsAsInputs,
  type ComputeEnv,
  type ResolvedModelSource,
} from '@floe/training';

export interface PredictTaskInput {
  env: ComputeEnv;
  model: ResolvedModelSource;
  /** A dataset to read, or rows sent with the request. */
  data: { dataset: DatasetRefInput } | { rows: Record<string, unknown>[] };
  idColumn?: string;
  batchSize: number;
}

/** What the model predicts and from which columns (PredictionHeader). */
export interface PredictHeader {
  task: 'classification' | 'regression';
  classNames: string[];
  outputNames: string[];
  targetNames: string[];
  rows: number;
  columnsRead: string[];
  columnsIgnored: string[];
  unknownCategories: Record<string, number>;
  missingValues: Record<string, number>;
}

/** One batch of predictions: per row its number, id, and class probabilities or values (row-major). */
export interface PredictedRows {
  rows: number[];
  ids?: (string | null)[];
  /** rows × (classes or outputs). */
  values: Float32Array;
  width: number;
  done: number;
  total: number;
}

export type PredictTaskProgress = { header: PredictHeader } | { batch: PredictedRows };

/** The model's inputs for a table's rows: its columns by name, missing values as in training; what was not told. */
function tableInputs(model: BlockModel, table: FeatureTable, field: string) {
  const schema = schemaOf(model);
  if (!schema.featureNames)
    throw invalidArgument(
      'model',
      `is a ${model.spec.architecture} model that does not record the table columns it reads; Predict reads tables for MLPs trained on them`,
    );
  const aligned = alignFeatures(table, schema, field, { ignoreExtra: true });
  const names = schema.featureNames;
  // The model's inputs: the columns, then whether each of some is missing (DataSchema.missingIndicators).
  const f = aligned.features.length;
  // What the table does not tell the model: values it never saw in training, and missing ones.
  const unknownCategories: Record<string, number> = {};
  const missingValues: Record<string, number> = {};
  names.forEach((n, j) => {
    const src = table.features.indexOf(n);
    let unknown = 0;
    let missing = 0;
    for (let r = 0; r < table.rows; r++) {
      if (!Number.isFinite(aligned.x[r * f + j]!)) {
        if (Number.isFinite(table.x[r * table.features.length + src]!)) unknown++;
        else missing++;
      }
    }
    if (unknown > 0) unknownCategories[n] = unknown;
    if (missing > 0) missingValues[n] = missing;
  });
  const fill = schema.featureFill;
  return {
    columns: {
      columnsRead: [...names],
      columnsIgnored: table.features.filter((n) => !names.includes(n)),
      unknownCategories,
      missingValues,
    },
    batch: (start: number, count: number) =>
      tf.tensor2d(
        tableRowsAsInputs(
          aligned.x,
          f,
          Int32Array.from({ length: count }, (_, i) => start + i),
          fill,
        ),
        [count, f],
      ),
    ids: (start: number, count: number) => table.columnText?.values.slice(start, start + count),
  };
}

/** The model's inputs for images: brought to the size and channels it reads, as training does. */
function imageInputs(model: BlockModel, images: ImagesToPredict) {
  const schema = schemaOf(model);
  const shape = schema.imageShape;
  if (!shape) throw invalidArgument('model', `is a ${model.spec.architecture} model, which does not read images`);
  const fitted = fitImages({ ...images, kind: 'image', labels: new Int32Array(images.rows), classes: [] }, schema);
  const px = shape.height * shape.width * shape.channels;
  return {
    columns: { columnsRead: [], columnsIgnored: [], unknownCategories: {}, missingValues: {} },
    batch: (start: number, count: number) =>
      tf.tensor4d(fitted.pixels.subarray(start * px, (start + count) * px), [
        count,
        shape.height,
        shape.width,
        shape.channels,
      ]),
    ids: (start: number, count: number) => images.files?.slice(start, start + count),
  };
}

serveTask<PredictTaskInput, { rows: number }, PredictTaskProgress>(async (input, progress, caughtUp) => {
  await initBackend(input.env.backend, { threads: input.env.threads });
  const model = await openModel('model', input.model, new LocalArtifactStore(input.env.artifactsDir), noRunResolver);
  try {
    if (model.task !== 'classification' && model.task !== 'regression')
      throw invalidArgument(
        'model',
        `is a ${model.task} model; Predict makes classification and regression predictions`,
      );
    const text = { textColumn: input.idColumn, textField: 'id_column' };
    const data =
      'rows' in input.data
        ? predictionInputsOfRecords(input.data.rows, text, 'rows')
        : openPredictionInputs(
            input.data.dataset,
            { dataRoots: input.env.dataRoots, maxBytes: input.env.maxDatasetBytes, ...text },
            'dataset',
          );
    const inputs =
      data.kind === 'tabular'
        ? tableInputs(model, data, 'rows' in input.data ? 'rows' : 'dataset.uri')
        : imageInputs(model, data);
    const schema = schemaOf(model);
    const outputs = Number(model.spec.config.outputs ?? model.spec.config.classes ?? schema.classNames?.length ?? 1);
    const targetNames = schema.targetNames ?? [];
    const outputNames =
      model.task === 'regression'
        ? targetNames.length === outputs
          ? targetNames
          : Array.from({ length: outputs }, (_, i) => (outputs === 1 ? 'value' : `value_${i}`))
        : [];
    progress({
      header: {
        task: model.task,
        classNames: model.task === 'classification' ? (schema.classNames ?? []) : [],
        outputNames,
        targetNames,
        rows: data.rows,
        ...inputs.columns,
      },
    });
    for (let start = 0; start < data.rows; start += input.batchSize) {
      const count = Math.min(input.batchSize, data.rows - start);
      const predicted = tf.tidy(() => {
        const out = model.forward(inputs.batch(start, count), { training: false });
        return model.task === 'classification' ? tf.softmax(out) : out;
      });
      const values = predicted.dataSync() as Float32Array;
      const width = predicted.shape[1] ?? 1;
      predicted.dispose();
      const ids = inputs.ids(start, count);
      progress({
        batch: {
          rows: Array.from(data.rowNumbers.subarray(start, start + count)),
          ...(ids && { ids }),
          values,
          width,
          done: start + count,
          total: data.rows,
        },
      });
      // A client slower than the model holds the next batches back here, not in the server's memory.
      await caughtUp();
    }
    return { rows: data.rows };
  } finally {
    model.dispose();
  }
});
