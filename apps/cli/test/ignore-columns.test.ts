// DatasetRef.ignore_columns through the real services: an orders table whose customer_id repeats (a key, not an
// identifier) and whose refund_flag copies the label. Named once — in the profile, the drift report and a fresh
// MLP's training table — they are out of each; the model records them, so its later tables may carry them
// unnamed; a column the model reads cannot be left out; bad lists are refused naming the entry, and the CLI takes
// them as --ignore.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { commonV1, dataProfilerV1 as dp, evaluatorV1 as ev, explainerV1, trainerV1 } from '@floe/contracts';
import { Rng } from '@floe/random';
import { call, collect, createClient, type FloeServer } from '@floe/service-kit';
import { quietLog, rejectsWith, startTestServer, tempDir, testConfig } from '@floe/testing';
import { createTrainerService } from '@floe/trainer';
import { createEvaluatorService } from '@floe/evaluator';
import { createExplainerService } from '@floe/explainer';
import { createDataProfilerService } from '@floe/data-profiler';
import { floeAt } from './fixtures/floe.js';

const home = tempDir();
let server: FloeServer;
let trainer: trainerV1.TrainerServiceClient;
let profiler: dp.DataProfilerServiceClient;
let evaluator: ev.EvaluatorServiceClient;
let explainer: explainerV1.ExplainerServiceClient;
const LEFT_OUT = ['customer_id', 'refund_flag'];

/** Orders of customers `firstCustomer` … +39: the label is the amount's side of 50; refund_flag copies it. */
function orders(file: string, seed: number, firstCustomer: number): void {
  const rng = new Rng(seed);
  const lines = Array.from({ length: 400 }, (_, i) => {
    const amount = rng.normal() * 10 + 50;
    const big = amount > 50;
    return `${firstCustomer + (i % 40)},${amount.toFixed(2)},${['web', 'shop'][rng.int(2)]},${big ? 1 : 0},${big ? 'big' : 'small'}`;
  });
  writeFileSync(join(home.path, 'data', file), `customer_id,amount,channel,refund_flag,label\n${lines.join('\n')}\n`);
}

const ref = (uri: string, ignoreColumns: string[] = [], split = commonV1.DatasetSplit.DATASET_SPLIT_UNSPECIFIED) =>
  commonV1.DatasetRef.fromPartial({ uri, split, ignoreColumns });

before(async () => {
  mkdirSync(join(home.path, 'data'), { recursive: true });
  orders('orders.csv', 1, 1000);
  orders('new-orders.csv', 2, 5000); // new customers: their ids share nothing with the old ones
  mkdirSync(join(home.path, 'suites'));
  writeFileSync(
    join(home.path, 'suites', 'new-orders.yaml'),
    'name: new-orders\ntask: classification\ndataset: file:new-orders.csv\nignore_columns: [customer_id, refund_flag]\nmetrics: [accuracy]\n',
  );
  writeFileSync(
    join(home.path, 'suites', 'without-amounts.yaml'),
    'name: without-amounts\ntask: classification\ndataset: file:new-orders.csv\nignore_columns: [amount]\n',
  );
  const config = testConfig(home.path);
  server = await startTestServer(
    [
      createTrainerService({ config, log: quietLog }),
      createDataProfilerService({ config, log: quietLog }),
      createEvaluatorService({ config, log: quietLog }),
      createExplainerService({ config, log: quietLog }),
    ],
    config,
  );
  trainer = createClient(trainerV1.TrainerServiceClient, server.address);
  profiler = createClient(dp.DataProfilerServiceClient, server.address);
  evaluator = createClient(ev.EvaluatorServiceClient, server.address);
  explainer = createClient(explainerV1.ExplainerServiceClient, server.address);
});

after(async () => {
  for (const c of [trainer, profiler, evaluator, explainer]) c.close();
  await server.shutdown();
  home.remove();
});

async function drift(ignoreColumns: string[]): Promise<dp.DriftReport> {
  const events = await collect(
    profiler.compareDatasets(
      dp.CompareDatasetsRequest.fromPartial({
        reference: ref('file:orders.csv', ignoreColumns),
        current: ref('file:new-orders.csv', ignoreColumns),
      }),
    ),
  );
  return (events.at(-1)!.event as { value: dp.DriftReport }).value;
}

test('profile and drift leave the named columns out: new customers alone no longer read as drift', async () => {
  const events = await collect(
    profiler.profileDataset(dp.ProfileDatasetRequest.fromPartial({ dataset: ref('file:orders.csv', LEFT_OUT) })),
  );
  const profile = (events.at(-1)!.event as { value: dp.DatasetProfile }).value;
  assert.equal(profile.detail?.$case, 'tabular');
  const tabular = (profile.detail as { value: dp.TabularProfile }).value;
  assert.deepEqual(
    tabular.columns.map((c) => c.name),
    ['amount', 'channel'],
  );
  const all = await drift([]);
  const customers = all.features.find((f) => f.feature === 'customer_id')!;
  assert.equal(customers.verdict, dp.DriftVerdict.DRIFT_VERDICT_SHIFTED, 'new ids read as a shift');
  assert.equal(all.verdict, dp.DriftVerdict.DRIFT_VERDICT_SHIFTED);
  const some = await drift(LEFT_OUT);
  assert.deepEqual(
    some.features.map((f) => f.feature),
    ['amount', 'channel', 'label'],
  );
  assert.notEqual(some.verdict, dp.DriftVerdict.DRIFT_VERDICT_SHIFTED, 'the same orders from new customers');
  assert.ok(some.overallPsi < all.overallPsi, `${some.overallPsi} < ${all.overallPsi}`);
});

test('a fresh MLP trained without them records them: later tables carry them unnamed; a column it reads cannot be left out', async () => {
  const spec = trainerV1.RunSpec.fromPartial({
    baseModel: {
      source: {
        $case: 'builtin',
        value: { architecture: commonV1.ModelArchitecture.MODEL_ARCHITECTURE_MLP, size: 'small', seed: 3 },
      },
    },
    dataset: ref('file:orders.csv', LEFT_OUT),
    strategy: trainerV1.Strategy.STRATEGY_FULL,
    optimizer: { learningRate: 0.01 },
    batchSize: 32,
    budgetSteps: 60,
    evalIntervalSteps: 30,
    seed: 1,
  });
  const { run } = await call(trainer.startRun.bind(trainer), { requestId: '', spec });
  const events = await collect(trainer.watchRun({ runId: run!.runId, fromStep: 0 }));
  const done = (events.at(-1)!.event as { value: trainerV1.Run }).value;
  assert.equal(done.state, commonV1.RunState.RUN_STATE_PAUSED, done.error);
  assert.deepEqual(done.spec!.dataset!.ignoreColumns, LEFT_OUT);
  const model = { source: { $case: 'run' as const, value: { runId: run!.runId, step: 0, best: false } } };

  // The explainer reads the table with every column: the model names the two it reads.
  const explained = await collect(
    explainer.explain(
      explainerV1.ExplainRequest.fromPartial({
        model,
        dataset: ref('file:new-orders.csv'),
        options: { method: explainerV1.Method.METHOD_EXACT, instances: 2, background: 8, seed: 1 },
      }),
    ),
  );
  const explanation = (explained.at(-1)!.event as { value: explainerV1.Explanation }).value;
  assert.deepEqual(explanation.featureNames, ['amount', 'channel']);

  const evaluate = (dataset: commonV1.DatasetRef | string) =>
    collect(
      evaluator.evaluate(
        ev.EvaluateRequest.fromPartial({
          model,
          ...(typeof dataset !== 'string'
            ? {
                inlineSuites: [
                  ev.Suite.fromPartial({
                    name: 'orders',
                    taskKind: ev.TaskKind.TASK_KIND_CLASSIFICATION,
                    dataset,
                    metrics: ['accuracy'],
                  }),
                ],
              }
            : { suites: [dataset] }), // a suite file's ignore_columns
          bootstrapSamples: 10,
          seed: 1,
        }),
      ),
    );
  const accuracyOf = (events: ev.EvaluateResponse[]) =>
    (events.at(-1)!.event as { value: ev.Evaluation }).value.results[0]!.metrics[0]!.value;
  const unnamed = accuracyOf(await evaluate(ref('file:new-orders.csv')));
  const named = accuracyOf(await evaluate(ref('file:new-orders.csv', LEFT_OUT)));
  assert.equal(unnamed, named, 'the columns are unread either way');
  assert.equal(accuracyOf(await evaluate('new-orders')), named);
  assert.ok(unnamed > 0.8, `the amount decides the label: accuracy ${unnamed}`);

  const refused = await rejectsWith(
    evaluate(ref('file:new-orders.csv', ['amount'])),
    grpc.status.INVALID_ARGUMENT,
    'inline_suites[0]',
  );
  assert.match(refused.details, /lacks amount \(left out by ignore_columns\)/);
  const bySuite = await rejectsWith(evaluate('without-amounts'), grpc.status.INVALID_ARGUMENT, 'suites[0]');
  assert.match(bySuite.details, /lacks amount \(left out by ignore_columns\)/);
});

test('bad lists are refused naming the entry; nothing stored changes', async () => {
  const spec = (ignoreColumns: string[]) =>
    trainerV1.RunSpec.fromPartial({
      baseModel: {
        source: {
          $case: 'builtin',
          value: { architecture: commonV1.ModelArchitecture.MODEL_ARCHITECTURE_MLP, size: 'small', seed: 3 },
        },
      },
      dataset: ref('file:orders.csv', ignoreColumns),
      strategy: trainerV1.Strategy.STRATEGY_FULL,
      budgetSteps: 5,
      batchSize: 8,
    });
  const before = (
    await call(trainer.listRuns.bind(trainer), trainerV1.ListRunsRequest.fromPartial({ page: { pageSize: 100 } }))
  ).runs.length;
  const start = (ignoreColumns: string[]) =>
    call(trainer.startRun.bind(trainer), { requestId: '', spec: spec(ignoreColumns) });
  const unknown = await rejectsWith(
    start(['channel', 'customer']),
    grpc.status.INVALID_ARGUMENT,
    'spec.dataset.ignore_columns[1]',
  );
  assert.match(unknown.details, /no column "customer"/);
  await rejectsWith(start(['']), grpc.status.INVALID_ARGUMENT, 'spec.dataset.ignore_columns[0]');
  await rejectsWith(start(['label']), grpc.status.INVALID_ARGUMENT, 'spec.dataset.ignore_columns[0]');
  await rejectsWith(
    start(['customer_id', 'amount', 'channel', 'refund_flag']),
    grpc.status.INVALID_ARGUMENT,
    'spec.dataset.ignore_columns',
  );
  await rejectsWith(
    collect(profiler.profileDataset(dp.ProfileDatasetRequest.fromPartial({ dataset: ref('builtin:iris', ['x']) }))),
    grpc.status.INVALID_ARGUMENT,
    'dataset.ignore_columns',
  );
  const after = (
    await call(trainer.listRuns.bind(trainer), trainerV1.ListRunsRequest.fromPartial({ page: { pageSize: 100 } }))
  ).runs.length;
  assert.equal(after, before);
});

const floe = floeAt(() => server.address);

test('floe profile and drift take --ignore', async () => {
  const profile = JSON.parse(
    (await floe('profile', 'file:orders.csv', '--ignore', 'customer_id, refund_flag', '--json')).stdout,
  ) as { tabular: { columns: { name: string }[] } };
  assert.deepEqual(
    profile.tabular.columns.map((c) => c.name),
    ['amount', 'channel'],
  );
  const drifted = await floe('drift', 'file:orders.csv', 'file:new-orders.csv', '--ignore', 'customer_id');
  assert.equal(drifted.code, 0, drifted.stderr);
  assert.doesNotMatch(drifted.stdout, /customer_id/);
  const refused = await floe('profile', 'file:orders.csv', '--ignore', 'customer');
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /dataset\.ignore_columns\[0\].*no column "customer"/);
});
