// Predict through real servers: MLPs trained by the trainer on tables, asked about rows without a target —
// the header says what the model reads and what the table did not tell it, the predictions follow the rule the
// data was made by, come back in the table's row order with their identifiers, and agree exactly with what
// Evaluate scores on the same rows. Bad requests are refused naming the field.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { commonV1, dataProfilerV1 as dp, evaluatorV1 as ev, explainerV1, trainerV1 } from '@floe/contracts';
import { Rng } from '@floe/random';
import { call, collect, createClient, type FloeServer } from '@floe/service-kit';
import { quietLog, rejectsWith, startTestServer, tempDir, testConfig, writeDigitFolder } from '@floe/testing';
import { createTrainerService } from '@floe/trainer';
import { createEvaluatorService } from '@floe/evaluator';
import { createExplainerService } from '@floe/explainer';
import { createDataProfilerService } from '@floe/data-profiler';
import { floeAt } from './fixtures/floe.js';

const home = tempDir();
let server: FloeServer;
let trainer: trainerV1.TrainerServiceClient;
let evaluator: ev.EvaluatorServiceClient;
const COLOURS = ['red', 'green', 'blue'];

/** The rule the classes follow: red is "warm"; otherwise the size's sign. */
const classOf = (colour: string, size: number) => (colour === 'red' ? 'warm' : size > 0 ? 'big' : 'small');
/** The regression's target. */
const targetOf = (a: number, b: number) => 2 * a - b;

interface Row {
  colour: string;
  size: number;
}
const rows = (seed: number, n: number): Row[] => {
  const rng = new Rng(seed);
  return Array.from({ length: n }, () => ({ colour: COLOURS[rng.int(3)]!, size: rng.normal() }));
};
const labelled = rows(1, 400);
const regression = Array.from({ length: 400 }, (_, i) => {
  const rng = new Rng(100 + i);
  return { a: rng.normal(), b: rng.normal() };
});

let classifierRun = '';
let regressionRun = '';

async function train(
  uri: string,
  steps: number,
  architecture = commonV1.ModelArchitecture.MODEL_ARCHITECTURE_MLP,
): Promise<string> {
  const spec = trainerV1.RunSpec.fromPartial({
    baseModel: { source: { $case: 'builtin', value: { architecture, size: 'small', seed: 3 } } },
    dataset: { uri },
    strategy: trainerV1.Strategy.STRATEGY_FULL,
    optimizer: { learningRate: 0.01 },
    batchSize: 32,
    budgetSteps: steps,
    seed: 1,
  });
  const { run } = await call(trainer.startRun.bind(trainer), { requestId: '', spec });
  const events = await collect(trainer.watchRun({ runId: run!.runId, fromStep: 0 }));
  const done = (events.at(-1)!.event as { value: trainerV1.Run }).value;
  assert.equal(done.state, commonV1.RunState.RUN_STATE_PAUSED, done.error);
  return run!.runId;
}

before(async () => {
  const data = join(home.path, 'data');
  mkdirSync(data, { recursive: true });
  writeFileSync(
    join(data, 'train.csv'),
    `colour,size,label\n${labelled.map((r) => `${r.colour},${r.size.toFixed(4)},${classOf(r.colour, r.size)}`).join('\n')}\n`,
  );
  writeFileSync(
    join(data, 'regression.csv'),
    `a,b,y\n${regression.map((r) => `${r.a.toFixed(4)},${r.b.toFixed(4)},${targetOf(r.a, r.b).toFixed(4)}`).join('\n')}\n`,
  );
  writeFileSync(join(data, 'notes.txt'), 'not a table\n');
  const config = testConfig(home.path);
  server = await startTestServer(
    [
      createTrainerService({ config, log: quietLog }),
      createEvaluatorService({ config, log: quietLog }),
      createExplainerService({ config, log: quietLog }),
      createDataProfilerService({ config, log: quietLog }),
    ],
    config,
  );
  trainer = createClient(trainerV1.TrainerServiceClient, server.address);
  evaluator = createClient(ev.EvaluatorServiceClient, server.address);
  classifierRun = await train('file:train.csv', 150);
  regressionRun = await train('file:regression.csv', 150);
});

after(async () => {
  trainer.close();
  evaluator.close();
  await server.shutdown();
  home.remove();
});

const runModel = (runId: string): commonV1.ModelRef => ({
  source: { $case: 'run', value: { runId, step: 0, best: false } },
});

/** Predict's stream, split into its header, its predictions in order, and how many progress messages came. */
interface PredictRequest {
  model: commonV1.ModelRef;
  dataset?: { uri: string; split?: commonV1.DatasetSplit };
  idColumn?: string;
  batchSize?: number;
  rows?: Record<string, unknown>[];
}

async function predict(req: PredictRequest) {
  const events = await collect(
    evaluator.predict({
      model: req.model,
      dataset: req.dataset && commonV1.DatasetRef.fromPartial(req.dataset),
      idColumn: req.idColumn ?? '',
      batchSize: req.batchSize ?? 0,
      rows: req.rows ?? [],
    }),
  );
  assert.equal(events[0]!.event!.$case, 'header', 'the header comes first');
  const header = events[0]!.event!.value as ev.PredictionHeader;
  const predictions = events.flatMap((e) => (e.event?.$case === 'batch' ? e.event.value.predictions : []));
  return { header, predictions, progress: events.filter((e) => e.event?.$case === 'progress').length };
}

/** Evaluate's value of `metric` for a run on every row of the test split of `uri` (by `targetColumn`, if given). */
async function evaluated(
  runId: string,
  uri: string,
  task: ev.TaskKind,
  metric: string,
  targetColumn = '',
): Promise<number> {
  const events = await collect(
    evaluator.evaluate(
      ev.EvaluateRequest.fromPartial({
        model: runModel(runId),
        inlineSuites: [
          ev.Suite.fromPartial({
            name: 'suite',
            taskKind: task,
            dataset: { uri, split: commonV1.DatasetSplit.DATASET_SPLIT_TEST, targetColumn },
            metrics: [metric],
          }),
        ],
        bootstrapSamples: 10,
        seed: 1,
      }),
    ),
  );
  const result = events.at(-1)!.event!.value as ev.Evaluation;
  return result.results[0]!.metrics.find((m) => m.name === metric)!.value;
}

test(
  'Predict: rows without a target, an identifier column, a colour never seen and a missing size',
  { timeout: 120_000 },
  async () => {
    const asked = rows(7, 50);
    const lines = asked.map((r, i) => `id-${i},${r.size.toFixed(4)},${r.colour}`);
    lines.push('id-50,0.5,purple', 'id-51,,blue');
    // Columns in another order than training's, and an identifier the model does not read.
    writeFileSync(join(home.path, 'data', 'asked.csv'), `customer,size,colour\n${lines.join('\n')}\n`);
    const { header, predictions, progress } = await predict({
      model: runModel(classifierRun),
      dataset: { uri: 'file:asked.csv' },
      idColumn: 'customer',
      batchSize: 16,
    });
    assert.equal(header.taskKind, ev.TaskKind.TASK_KIND_CLASSIFICATION);
    assert.deepEqual([...header.classNames].sort(), ['big', 'small', 'warm']);
    assert.deepEqual(header.targetNames, ['label']);
    assert.deepEqual(header.columnsRead, ['colour', 'size']);
    assert.deepEqual(header.columnsIgnored, ['customer']);
    assert.deepEqual(header.unknownCategories, { colour: 1 });
    assert.deepEqual(header.missingValues, { size: 1 });
    assert.equal(Number(header.rows), 52);
    assert.equal(progress, 4, 'a progress message per batch of 16');
    assert.deepEqual(
      predictions.map((p) => Number(p.row)),
      Array.from({ length: 52 }, (_, i) => i),
    );
    assert.deepEqual(
      predictions.map((p) => p.id),
      Array.from({ length: 52 }, (_, i) => `id-${i}`),
    );
    for (const p of predictions) {
      assert.equal(p.probabilities.length, 3);
      assert.ok(Math.abs(p.probabilities.reduce((a, b) => a + b, 0) - 1) < 1e-5);
      const best = p.probabilities.indexOf(Math.max(...p.probabilities));
      assert.equal(p.predictedClass, header.classNames[best]);
    }
    const right = asked.filter((r, i) => predictions[i]!.predictedClass === classOf(r.colour, r.size)).length;
    assert.ok(right >= 45, `${right} of 50 rows predicted as the rule says`);
  },
);

test(
  "Predict agrees with Evaluate on the same rows: a classifier's accuracy and a regression's MSE on the test split",
  { timeout: 120_000 },
  async () => {
    const test = { uri: 'file:train.csv', split: commonV1.DatasetSplit.DATASET_SPLIT_TEST };
    const { header, predictions } = await predict({ model: runModel(classifierRun), dataset: test });
    assert.ok(predictions.length > 20 && predictions.length < 80, `${predictions.length} test rows of 400`);
    const rowsInOrder = predictions.map((p) => Number(p.row));
    assert.deepEqual(
      rowsInOrder,
      [...rowsInOrder].sort((a, b) => a - b),
      "in the table's order",
    );
    // Log loss, a continuous check: each row's −ln p(its class), as Evaluate floors it.
    let nll = 0;
    for (const p of predictions) {
      const r = labelled[Number(p.row)]!;
      const k = header.classNames.indexOf(classOf(r.colour, r.size));
      nll -= Math.log(Math.max(p.probabilities[k]!, 1e-12));
    }
    const loss = await evaluated(classifierRun, test.uri, ev.TaskKind.TASK_KIND_CLASSIFICATION, 'loss');
    assert.ok(Math.abs(nll / predictions.length - loss) <= 1e-4 * loss, `${nll / predictions.length} vs ${loss}`);

    const regressionTest = { uri: 'file:regression.csv', split: commonV1.DatasetSplit.DATASET_SPLIT_TEST };
    const r = await predict({ model: runModel(regressionRun), dataset: regressionTest, batchSize: 7 });
    assert.equal(r.header.taskKind, ev.TaskKind.TASK_KIND_REGRESSION);
    assert.deepEqual(r.header.outputNames, ['y']);
    // The target column is in the file: read as a column the model ignores.
    assert.deepEqual(r.header.columnsIgnored, ['y']);
    let squared = 0;
    for (const p of r.predictions) {
      const row = regression[Number(p.row)]!;
      squared += (p.values[0]! - Number(targetOf(row.a, row.b).toFixed(4))) ** 2;
    }
    const mse = await evaluated(regressionRun, regressionTest.uri, ev.TaskKind.TASK_KIND_REGRESSION, 'mse');
    assert.ok(
      Math.abs(squared / r.predictions.length - mse) <= 1e-4 * mse,
      `${squared / r.predictions.length} vs ${mse}`,
    );
    assert.ok(mse < 0.5, `the regression learned its rule: test MSE ${mse}`);
  },
);

test(
  "a number's absence, read by the MLP beside its value: Predict agrees with Evaluate, and the offset a missing value carries is learned",
  { timeout: 120_000 },
  async () => {
    // y = a + b, or a + 3 where b is missing (a third of the rows).
    const rng = new Rng(21);
    const lines = Array.from({ length: 600 }, () => {
      const [a, b] = [rng.normal(), rng.normal()];
      const missing = rng.next() < 1 / 3;
      return `${a.toFixed(4)},${missing ? '' : b.toFixed(4)},${(a + (missing ? 3 : b)).toFixed(4)}`;
    });
    writeFileSync(join(home.path, 'data', 'gaps.csv'), `a,b,y\n${lines.join('\n')}\n`);
    const runId = await train('file:gaps.csv', 300);
    const run = (await call(trainer.getRun.bind(trainer), { runId })).run!;
    assert.ok(run.totalParams > 0);
    const test = { uri: 'file:gaps.csv', split: commonV1.DatasetSplit.DATASET_SPLIT_TEST };
    const { header, predictions } = await predict({ model: runModel(runId), dataset: test });
    assert.deepEqual(header.columnsRead, ['a', 'b']);
    assert.ok(header.missingValues.b! > 0, 'the test rows have missing values of b');
    let squared = 0;
    for (const p of predictions) {
      const [, , y] = lines[Number(p.row)]!.split(',');
      squared += (p.values[0]! - Number(y)) ** 2;
    }
    const mse = await evaluated(runId, test.uri, ev.TaskKind.TASK_KIND_REGRESSION, 'mse');
    assert.ok(Math.abs(squared / predictions.length - mse) <= 1e-4 * mse, `${squared / predictions.length} vs ${mse}`);
    // Read as its own input the offset is exact (MSE 0.0002 here); from the filled value alone it is not (0.10).
    assert.ok(mse < 0.01, `missing b read as an offset: test MSE ${mse}`);
  },
);

test(
  'rows sent with the request: the same predictions as from a file; both or neither refused',
  { timeout: 60_000 },
  async () => {
    const asked = rows(9, 5);
    writeFileSync(
      join(home.path, 'data', 'five.csv'),
      `colour,size,ref\n${asked.map((r, i) => `${r.colour},${r.size},r${i}`).join('\n')}\n`,
    );
    const fromFile = await predict({
      model: runModel(classifierRun),
      dataset: { uri: 'file:five.csv' },
      idColumn: 'ref',
    });
    // As a platform's code sends them: numbers as numbers, a missing value as null, keys in any order.
    const sent = asked.map((r, i) => ({ ref: `r${i}`, size: r.size, colour: r.colour }));
    const inline = await predict({ model: runModel(classifierRun), rows: sent, idColumn: 'ref' });
    assert.deepEqual(inline.header.columnsIgnored, ['ref']);
    assert.deepEqual(
      inline.predictions.map((p) => [Number(p.row), p.id, p.predictedClass]),
      fromFile.predictions.map((p) => [Number(p.row), p.id, p.predictedClass]),
    );
    for (const [i, p] of inline.predictions.entries())
      p.probabilities.forEach((v, k) => assert.ok(Math.abs(v - fromFile.predictions[i]!.probabilities[k]!) < 1e-6));
    const oneMissing = await predict({ model: runModel(classifierRun), rows: [{ colour: 'red', size: null }] });
    assert.deepEqual(oneMissing.header.missingValues, { size: 1 });
    await rejectsWith(
      predict({ model: runModel(classifierRun), rows: sent, dataset: { uri: 'file:five.csv' } }),
      grpc.status.INVALID_ARGUMENT,
      'rows',
    );
    await rejectsWith(predict({ model: runModel(classifierRun) }), grpc.status.INVALID_ARGUMENT, 'dataset');
    const lacking = await rejectsWith(
      predict({ model: runModel(classifierRun), rows: [{ colour: 'red' }] }),
      grpc.status.INVALID_ARGUMENT,
      'rows',
    );
    assert.match(lacking.details, /missing: size/);
  },
);

test('Predict refuses bad requests naming the field', { timeout: 60_000 }, async () => {
  writeFileSync(join(home.path, 'data', 'no-size.csv'), 'colour,id\nred,1\n');
  const refused = async (req: PredictRequest, code: grpc.status, field: string) =>
    rejectsWith(predict(req), code, field);
  const mlp: commonV1.ModelRef = {
    source: {
      $case: 'builtin',
      value: { architecture: commonV1.ModelArchitecture.MODEL_ARCHITECTURE_MLP, size: 'small', seed: 1 },
    },
  };
  await refused({ model: mlp, dataset: { uri: 'file:train.csv' } }, grpc.status.INVALID_ARGUMENT, 'model');
  const missing = await refused(
    { model: runModel(classifierRun), dataset: { uri: 'file:no-size.csv' } },
    grpc.status.INVALID_ARGUMENT,
    'dataset.uri',
  );
  assert.match(missing.details, /missing: size/);
  const id = await refused(
    { model: runModel(classifierRun), dataset: { uri: 'file:train.csv' }, idColumn: 'customer' },
    grpc.status.INVALID_ARGUMENT,
    'id_column',
  );
  assert.match(id.details, /colour, size, label/);
  await refused(
    { model: runModel(classifierRun), dataset: { uri: 'file:notes.txt' } },
    grpc.status.INVALID_ARGUMENT,
    'dataset.uri',
  );
  await refused(
    { model: runModel(classifierRun), dataset: { uri: 'file:train.csv' }, batchSize: -1 },
    grpc.status.INVALID_ARGUMENT,
    'batch_size',
  );
  await refused({ model: runModel('no-such-run'), dataset: { uri: 'file:train.csv' } }, grpc.status.NOT_FOUND, '');
  // Nothing was harmed: the run still predicts.
  const { predictions } = await predict({ model: runModel(classifierRun), dataset: { uri: 'file:train.csv' } });
  assert.equal(predictions.length, 400);
});

const floe = floeAt(() => server.address);

test('floe predict writes CSV: to a file with a summary, to stdout, or JSON', { timeout: 60_000 }, async () => {
  writeFileSync(join(home.path, 'data', 'few.csv'), 'size,colour,name\n-1,green,"Smith, J."\n1,green,Ann\n0.3,red,\n');
  const out = join(home.path, 'few-predictions.csv');
  const model = `run:${classifierRun}`;
  const toFile = await floe('predict', '--model', model, '--data', 'file:few.csv', '--id-column', 'name', '--out', out);
  assert.equal(toFile.code, 0, toFile.stderr);
  assert.match(toFile.stdout, /3 rows predicted → .*few-predictions\.csv; the model read colour, size; ignored name/);
  const lines = readFileSync(out, 'utf8').trim().split('\n');
  const classes = lines[0]!.split(',').slice(3);
  assert.deepEqual(lines[0]!.split(',').slice(0, 3), ['row', 'name', 'predicted_label']);
  assert.deepEqual([...classes].sort(), ['p_big', 'p_small', 'p_warm']);
  assert.match(lines[1]!, /^0,"Smith, J\.",small,/);
  assert.match(lines[2]!, /^1,Ann,big,/);
  assert.match(lines[3]!, /^2,,warm,/);

  const toStdout = await floe('predict', '--model', model, '--data', 'file:few.csv', '--limit', '2');
  assert.equal(toStdout.code, 0, toStdout.stderr);
  assert.equal(toStdout.stdout.trim().split('\n').length, 3, 'a header and two rows');
  assert.match(toStdout.stderr, /2 rows predicted; the model read colour, size; ignored name/);

  const json = JSON.parse((await floe('predict', '--model', model, '--data', 'file:few.csv', '--json')).stdout) as {
    header: { columnsRead: string[] };
    predictions: { row: string; predictedClass: string }[];
  };
  assert.deepEqual(json.header.columnsRead, ['colour', 'size']);
  assert.deepEqual(
    json.predictions.map((p) => p.predictedClass),
    ['small', 'big', 'warm'],
  );

  const inline = await floe('predict', '--model', model, '--rows', '[{"size": 1, "colour": "green"}]');
  assert.equal(inline.code, 0, inline.stderr);
  assert.match(inline.stdout, /^row,predicted_label,p_/);
  assert.match(inline.stdout, /\n0,big,/);

  const refused = await floe('predict', '--model', model, '--data', 'file:few.csv', '--id-column', 'customer');
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /id_column.*customer/);
});

test(
  'a target column in the middle of a table: trained on it, scored on it, predicted without it; an unknown one refused; a checkpoint continues and is scored by the column it learned',
  { timeout: 120_000 },
  async () => {
    // "label" would be the target by default; the run learns y, which sits between the features.
    writeFileSync(
      join(home.path, 'data', 'middle.csv'),
      `a,y,b,label\n${regression.map((r, i) => `${r.a.toFixed(4)},${targetOf(r.a, r.b).toFixed(4)},${r.b.toFixed(4)},${i % 3}`).join('\n')}\n`,
    );
    const spec = trainerV1.RunSpec.fromPartial({
      baseModel: {
        source: {
          $case: 'builtin',
          value: { architecture: commonV1.ModelArchitecture.MODEL_ARCHITECTURE_MLP, size: 'small', seed: 3 },
        },
      },
      dataset: { uri: 'file:middle.csv', targetColumn: 'y' },
      strategy: trainerV1.Strategy.STRATEGY_FULL,
      optimizer: { learningRate: 0.01 },
      batchSize: 32,
      budgetSteps: 150,
      evalIntervalSteps: 50,
      seed: 1,
    });
    const refused = await rejectsWith(
      call(trainer.startRun.bind(trainer), {
        requestId: '',
        spec: { ...spec, dataset: { ...spec.dataset!, targetColumn: 'price' } },
      }),
      grpc.status.INVALID_ARGUMENT,
      'spec.dataset.target_column',
    );
    assert.match(refused.details, /no column "price"; its columns: a, y, b, label/);
    const { run } = await call(trainer.startRun.bind(trainer), { requestId: '', spec });
    const events = await collect(trainer.watchRun({ runId: run!.runId, fromStep: 0 }));
    const done = (events.at(-1)!.event as { value: trainerV1.Run }).value;
    assert.equal(done.state, commonV1.RunState.RUN_STATE_PAUSED, done.error);
    assert.ok(done.lastMetrics!.validationLoss! < 0.5, `validation MSE ${done.lastMetrics!.validationLoss}`);

    // Continuing from it on a table of the same columns without naming the target: the run reads y, the column
    // the model learned (label would be the table's default), and its spec says so.
    const continuedSpec = {
      ...spec,
      baseModel: runModel(run!.runId),
      dataset: { ...spec.dataset!, targetColumn: '' },
      budgetSteps: 20,
      evalIntervalSteps: 10,
    };
    const continued = (await call(trainer.startRun.bind(trainer), { requestId: '', spec: continuedSpec })).run!;
    assert.equal(continued.spec!.dataset!.targetColumn, 'y');
    const continuedEvents = await collect(trainer.watchRun({ runId: continued.runId, fromStep: 0 }));
    const continuedDone = (continuedEvents.at(-1)!.event as { value: trainerV1.Run }).value;
    assert.equal(continuedDone.state, commonV1.RunState.RUN_STATE_PAUSED, continuedDone.error);
    assert.ok(
      continuedDone.lastMetrics!.validationLoss! < 0.5,
      `validation MSE ${continuedDone.lastMetrics!.validationLoss}`,
    );
    // A table without the learned column (y renamed price): the table's default (label) stands, so the model's
    // columns are not the table's and the refusal says so; named, the renamed target is read.
    writeFileSync(
      join(home.path, 'data', 'renamed.csv'),
      `a,price,b,label\n${regression.map((r, i) => `${r.a.toFixed(4)},${targetOf(r.a, r.b).toFixed(4)},${r.b.toFixed(4)},${i % 3}`).join('\n')}\n`,
    );
    const renamedSpec = { ...continuedSpec, dataset: { ...spec.dataset!, uri: 'file:renamed.csv', targetColumn: '' } };
    const unnamedTarget = await rejectsWith(
      call(trainer.startRun.bind(trainer), { requestId: '', spec: renamedSpec }),
      grpc.status.INVALID_ARGUMENT,
      'spec.dataset',
    );
    assert.match(unnamedTarget.details, /lacks label and also has price/);
    const renamed = (
      await call(trainer.startRun.bind(trainer), {
        requestId: '',
        spec: { ...renamedSpec, dataset: { ...renamedSpec.dataset, targetColumn: 'price' }, budgetSteps: 1 },
      })
    ).run!;
    await collect(trainer.watchRun({ runId: renamed.runId, fromStep: 0 }));
    // Another column named is still taken: the refusal says which column the model learned.
    const other = await rejectsWith(
      call(trainer.startRun.bind(trainer), {
        requestId: '',
        spec: { ...continuedSpec, dataset: { ...spec.dataset!, targetColumn: 'label' } },
      }),
      grpc.status.INVALID_ARGUMENT,
      'spec.dataset',
    );
    assert.match(other.details, /the model learned to predict y: name it as the target column/);

    const mse = await evaluated(run!.runId, 'file:middle.csv', ev.TaskKind.TASK_KIND_REGRESSION, 'mse', 'y');
    assert.ok(mse < 0.5, `test MSE ${mse}`);
    // A suite that names no target scores the model on the column it learned: the same figure.
    assert.equal(await evaluated(run!.runId, 'file:middle.csv', ev.TaskKind.TASK_KIND_REGRESSION, 'mse'), mse);
    // Explained and scored block by block on the table without naming the target: the model's own columns.
    const explainer = createClient(explainerV1.ExplainerServiceClient, server.address);
    const profiler = createClient(dp.DataProfilerServiceClient, server.address);
    try {
      const explained = await collect(
        explainer.explain({
          model: runModel(run!.runId),
          dataset: commonV1.DatasetRef.fromPartial({ uri: 'file:middle.csv' }),
          options: explainerV1.ExplainOptions.fromPartial({
            method: explainerV1.Method.METHOD_EXACT,
            instances: 2,
            background: 8,
            seed: 1,
          }),
          includePlots: false,
        }),
      );
      const explanation = explained.at(-1)!.event!.value as explainerV1.Explanation;
      assert.deepEqual(explanation.featureNames, ['a', 'b', 'label']);
      const scores = await collect(
        profiler.scoreBlocks({
          model: runModel(run!.runId),
          dataset: commonV1.DatasetRef.fromPartial({ uri: 'file:middle.csv' }),
          reference: undefined,
          calibrationBatches: 2,
          batchSize: 16,
          sequenceLength: 0,
          seed: 1,
        }),
      );
      assert.equal(scores.at(-1)!.event!.$case, 'scores');
    } finally {
      explainer.close();
      profiler.close();
    }

    const p = await predict({
      model: runModel(run!.runId),
      dataset: { uri: 'file:middle.csv', split: commonV1.DatasetSplit.DATASET_SPLIT_TEST },
    });
    assert.deepEqual(p.header.outputNames, ['y']);
    assert.deepEqual(p.header.columnsRead, ['a', 'b', 'label']);
    assert.deepEqual(p.header.columnsIgnored, ['y']);
    let squared = 0;
    for (const q of p.predictions) {
      const r = regression[Number(q.row)]!;
      squared += (q.values[0]! - Number(targetOf(r.a, r.b).toFixed(4))) ** 2;
    }
    assert.ok(
      Math.abs(squared / p.predictions.length - mse) <= 1e-4 * mse,
      `${squared / p.predictions.length} vs ${mse}`,
    );
  },
);

test(
  'Predict on images: a folder without class folders, each prediction named by its file; the test split as Evaluate scores it',
  { timeout: 120_000 },
  async () => {
    const digits = join(home.path, 'data', 'digits');
    writeDigitFolder(digits, { digits: [0, 1], perClass: 60 });
    const lenet = await train('file:digits', 100, commonV1.ModelArchitecture.MODEL_ARCHITECTURE_LENET5);
    // New images as they arrive: one flat folder, no classes, other names.
    const flat = join(home.path, 'data', 'arrived');
    mkdirSync(flat, { recursive: true });
    const truth = new Map<string, string>();
    for (const digit of ['0', '1'])
      for (const file of readdirSync(join(digits, digit)).slice(0, 10)) {
        copyFileSync(join(digits, digit, file), join(flat, `d${digit}-${file}`));
        truth.set(`d${digit}-${file}`, digit);
      }
    const { header, predictions } = await predict({ model: runModel(lenet), dataset: { uri: 'file:arrived' } });
    assert.equal(header.taskKind, ev.TaskKind.TASK_KIND_CLASSIFICATION);
    assert.deepEqual(header.classNames, ['0', '1']);
    assert.deepEqual(header.columnsRead, []);
    assert.deepEqual(predictions.map((p) => p.id).sort(), [...truth.keys()].sort());
    const right = predictions.filter((p) => truth.get(p.id) === p.predictedClass).length;
    assert.ok(right >= 18, `${right} of 20 images classified as their digit`);

    const cli = await floe('predict', '--model', `run:${lenet}`, '--data', 'file:arrived');
    assert.equal(cli.code, 0, cli.stderr);
    const [csvHeader, ...csvRows] = cli.stdout.trim().split('\n');
    assert.equal(csvHeader, 'row,file,predicted_class,p_0,p_1');
    assert.equal(csvRows.length, 20);
    assert.match(cli.stderr, /20 images predicted/);

    // The labelled folder's test split: the same images Evaluate scores, the same log loss.
    const test = { uri: 'file:digits', split: commonV1.DatasetSplit.DATASET_SPLIT_TEST };
    const scored = await predict({ model: runModel(lenet), dataset: test });
    let nll = 0;
    for (const p of scored.predictions) {
      const k = scored.header.classNames.indexOf(p.id.split('/')[0]!);
      nll -= Math.log(Math.max(p.probabilities[k]!, 1e-12));
    }
    const loss = await evaluated(lenet, test.uri, ev.TaskKind.TASK_KIND_CLASSIFICATION, 'loss');
    assert.ok(
      Math.abs(nll / scored.predictions.length - loss) <= 1e-4 * loss,
      `${nll / scored.predictions.length} vs ${loss}`,
    );
    await rejectsWith(
      predict({ model: runModel(lenet), dataset: { uri: 'file:arrived' }, idColumn: 'name' }),
      grpc.status.INVALID_ARGUMENT,
      'id_column',
    );
    await rejectsWith(
      predict({ model: runModel(lenet), dataset: { uri: 'file:train.csv' } }),
      grpc.status.INVALID_ARGUMENT,
      'model',
    );
  },
);
