// What a platform team meets with a client built from the protos alone (@grpc/proto-loader, nothing of
// floe's code): every case answers with the code and the field the contract promises, refused up front
// instead of failing later.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { composeServices, type FloeServer } from '@floe/service-kit';
import { quietLog, startTestServer, tempDir, testConfig } from '@floe/testing';
import { SERVICES } from '../src/services.js';
import { failure, rawClient, violatedFields, type Msg, type RawClient } from './fixtures/proto-client.js';

const home = tempDir();
const data = join(home.path, 'data');
const suitesDir = join(home.path, 'suites');
let server: FloeServer;
let trainer: RawClient;
let evaluator: RawClient;
let profiler: RawClient;

before(async () => {
  mkdirSync(join(data, 'notes'), { recursive: true });
  mkdirSync(suitesDir, { recursive: true });
  writeFileSync(join(data, 'tiny.txt'), 'a short note about nothing much. '.repeat(9)); // 297 bytes
  writeFileSync(join(data, 'long.txt'), 'function add(a, b) { return a + b; }\n'.repeat(600)); // 22 kB
  for (let i = 0; i < 12; i++) writeFileSync(join(data, 'notes', `n${i}.txt`), `note number ${i} says hi.`);
  writeFileSync(
    join(suitesDir, 'good.yaml'),
    'name: long-code\ntask: language-model\ndataset: file:long.txt\nsamples: 16\nsequence_length: 32\n',
  );
  writeFileSync(join(suitesDir, 'bad.yaml'), 'name: broken\ntask: translation\ndataset: builtin:iris\n');
  writeFileSync(
    join(suitesDir, 'dup.yaml'),
    'name: spam-assassin\ntask: language-model\ndataset: builtin:spam-assassin\n',
  );
  const config = testConfig(home.path, {
    FLOE_DATA_ROOTS: data,
    FLOE_SUITES_DIR: suitesDir,
    FLOE_MAX_CONCURRENT_RUNS: '2',
  });
  server = await startTestServer(composeServices(SERVICES, { config, log: quietLog }), config);
  trainer = rawClient(server.address, 'trainer', 'TrainerService');
  evaluator = rawClient(server.address, 'evaluator', 'EvaluatorService');
  profiler = rawClient(server.address, 'data_profiler', 'DataProfilerService');
});

after(async () => {
  for (const c of [trainer, evaluator, profiler]) c.close();
  await server.shutdown();
  home.remove();
});

const tinyLm = (seed = 1): Msg => ({
  builtin: { architecture: 'MODEL_ARCHITECTURE_TRANSFORMER_LM', size: 'tiny', seed },
});
const spec = (over: Msg = {}): Msg => ({
  base_model: tinyLm(),
  dataset: { uri: 'builtin:spam-assassin' },
  strategy: 'STRATEGY_FULL',
  batch_size: 4,
  sequence_length: 32,
  budget_steps: 2,
  seed: 1,
  ...over,
});
const runCount = async () => (await trainer.unary('ListRuns', { page: { page_size: 1000 } })).runs.length;

async function watchToEnd(runId: string): Promise<Msg[]> {
  return trainer.stream('WatchRun', { run_id: runId, from_step: 0 });
}

test('an evaluation suite over a file whose test split is shorter than a sequence is FAILED_PRECONDITION naming the split', async () => {
  const err = await failure(
    evaluator.stream('Evaluate', {
      model: tinyLm(),
      inline_suites: [
        {
          name: 'tiny-notes',
          task_kind: 'TASK_KIND_LANGUAGE_MODEL',
          dataset: { uri: 'file:tiny.txt', split: 'DATASET_SPLIT_TEST' },
        },
      ],
    }),
  );
  assert.equal(grpc.status[err.code], 'FAILED_PRECONDITION', err.details);
  assert.match(err.details, /inline_suites\[0\].*the test split of tiny\.txt holds \d+ bytes/);
});

test('StartRun with eval_interval_steps on data without a validation sequence is refused, and no run is made', async () => {
  const before = await runCount();
  const err = await failure(
    trainer.unary('StartRun', { spec: spec({ dataset: { uri: 'file:tiny.txt' }, eval_interval_steps: 1 }) }),
  );
  assert.equal(grpc.status[err.code], 'FAILED_PRECONDITION', err.details);
  assert.match(err.details, /^spec\.dataset: the validation split of tiny\.txt holds \d+ bytes/);
  assert.equal(await runCount(), before);
});

test('a single text file is split inside the file, and the profile says so', async () => {
  const events = await profiler.stream('ProfileDataset', { dataset: { uri: 'file:long.txt' } });
  const profile = events.at(-1)!.profile;
  assert.equal(profile.split_rule, 'bytes');
  assert.ok(
    profile.split_sizes.test > 2000 && profile.split_sizes.validation > 2000,
    JSON.stringify(profile.split_sizes),
  );
  assert.equal(
    profile.split_sizes.train + profile.split_sizes.validation + profile.split_sizes.test,
    profile.byte_count,
  );
});

test('a model that cannot read the dataset is refused at StartRun, naming both', async () => {
  const err = await failure(
    trainer.unary('StartRun', {
      spec: spec({ base_model: { builtin: { architecture: 'MODEL_ARCHITECTURE_LENET5', size: 'small', seed: 1 } } }),
    }),
  );
  assert.equal(grpc.status[err.code], 'INVALID_ARGUMENT', err.details);
  assert.deepEqual(violatedFields(err).sort(), ['spec.base_model', 'spec.dataset']);
  assert.match(err.details, /lenet5\/small cannot read spec\.dataset/);
});

test('StartRun honours the dataset split and max_examples', async () => {
  // 12 notes of ~25 bytes: the test split of one note is shorter than a sequence; all of train is not.
  const capped = await failure(
    trainer.unary('StartRun', {
      spec: spec({ dataset: { uri: 'file:notes', split: 'DATASET_SPLIT_TEST', max_examples: 1 } }),
    }),
  );
  assert.equal(grpc.status[capped.code], 'FAILED_PRECONDITION', capped.details);
  assert.match(capped.details, /the test split of notes holds 2\d bytes/);
  const { run } = await trainer.unary('StartRun', {
    spec: spec({ dataset: { uri: 'file:notes', split: 'DATASET_SPLIT_TRAIN' }, sequence_length: 16 }),
  });
  assert.equal((await watchToEnd(run.run_id)).at(-1)!.run.state, 'RUN_STATE_PAUSED');
});

test(
  'ADE without a plan answers QUEUED at once, plans inside the run and records what the plan changed',
  { timeout: 120_000 },
  async () => {
    const started = Date.now();
    const { run } = await trainer.unary('StartRun', {
      spec: spec({
        strategy: 'STRATEGY_ADE',
        dataset: { uri: 'builtin:typescript-lib' },
        mixture: { replay_dataset: { uri: 'builtin:spam-assassin' } },
      }),
    });
    assert.equal(run.state, 'RUN_STATE_QUEUED');
    assert.equal(run.spec.plan, null);
    assert.equal(run.trainable_params, 0, 'parameter counts come once the model is built');
    assert.ok(Date.now() - started < 2000);
    const done = (await watchToEnd(run.run_id)).at(-1)!.run;
    assert.equal(done.state, 'RUN_STATE_PAUSED', done.error);
    assert.ok(done.spec.plan.decisions.length > 0);
    assert.ok(done.trainable_params > 0);
    assert.ok(
      done.plan_changes.some((c: Msg) => c.field === 'optimizer.learning_rate'),
      JSON.stringify(done.plan_changes),
    );
  },
);

test('two StartRun calls with the same request id at once answer the one run', async () => {
  const req = { request_id: 'same-id-at-once', spec: spec() };
  const [a, b] = await Promise.all([trainer.unary('StartRun', req), trainer.unary('StartRun', req)]);
  assert.equal(a.run.run_id, b.run.run_id);
  assert.deepEqual([a.replayed, b.replayed].sort(), [false, true]);
  await watchToEnd(a.run.run_id);
});

test('a request id that named a cancelled run keeps answering that run (replayed)', async () => {
  const { run } = await trainer.unary('StartRun', { request_id: 'cancelled-once', spec: spec({ budget_steps: 50 }) });
  await trainer.unary('CancelRun', { run_id: run.run_id });
  const again = await trainer.unary('StartRun', { request_id: 'cancelled-once', spec: spec({ budget_steps: 50 }) });
  assert.equal(again.run.run_id, run.run_id);
  assert.equal(again.run.state, 'RUN_STATE_CANCELLED');
  assert.equal(again.replayed, true);
});

test('ListSuites reports the suite files it refused and why', async () => {
  const r = await evaluator.unary('ListSuites', { page: { page_size: 100 } });
  assert.ok(r.suites.some((s: Msg) => s.name === 'long-code' && s.source.endsWith('good.yaml')));
  const refused = Object.fromEntries(r.refused.map((x: Msg) => [x.file.split('/').at(-1), x.reason]));
  assert.match(refused['bad.yaml'], /^task must be one of/);
  assert.match(refused['dup.yaml'], /already taken/);
});

test(
  'CompareModels labels rows by model, may skip the fresh initialisation, and says when ACC/BWT do not apply',
  { timeout: 120_000 },
  async () => {
    const events = await evaluator.stream('CompareModels', {
      stages: [tinyLm(1), tinyLm(2)],
      suites: ['long-code'],
      inline_suites: [
        {
          name: 'notes',
          task_kind: 'TASK_KIND_LANGUAGE_MODEL',
          dataset: { uri: 'file:long.txt', split: 'DATASET_SPLIT_VALIDATION' },
          sample_count: 16,
          sequence_length: 32,
        },
      ],
      skip_random_init: true,
      bootstrap_samples: 50,
    });
    const report = events.at(-1)!.report;
    assert.deepEqual(report.r_matrix.row_labels, ['builtin:transformer-lm/tiny#1', 'builtin:transformer-lm/tiny#2']);
    assert.deepEqual(report.r_matrix.col_labels, ['long-code', 'notes']);
    assert.deepEqual(report.random_init, []);
    // Two stages, two suites: a sequence, so BWT applies; FWT needs the skipped initialisation.
    assert.equal(report.sequence_metrics_apply, true);
    assert.match(report.notes.join(' '), /FWT needs a fresh initialisation/);
    const three = await evaluator.stream('CompareModels', {
      stages: [tinyLm(1), tinyLm(2)],
      suites: ['long-code', 'spam-assassin', 'typescript-lib'],
      skip_random_init: true,
      bootstrap_samples: 20,
    });
    const r3 = three.at(-1)!.report;
    assert.equal(r3.sequence_metrics_apply, false);
    assert.match(r3.notes[0], /2 stages, 3 suites/);
  },
);

test('a dataset error names the field the caller sent', async () => {
  const err = await failure(
    profiler.stream('CompareDatasets', {
      reference: { uri: 'builtin:spam-assassin' },
      current: { uri: 'builtin:nope' },
    }),
  );
  assert.equal(grpc.status[err.code], 'NOT_FOUND');
  assert.match(err.details, /^current\.uri: unknown builtin dataset "nope"/);
  const outside = await failure(
    trainer.unary('StartRun', {
      spec: spec({ validation_dataset: { uri: 'file:/etc/passwd' }, eval_interval_steps: 1 }),
    }),
  );
  assert.equal(grpc.status[outside.code], 'PERMISSION_DENIED');
  assert.match(outside.details, /^spec\.validation_dataset\.uri: /);
});
