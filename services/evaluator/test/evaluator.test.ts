// The evaluator through a real server: builtin and YAML suites, metrics with bootstrap errors, the
// forgetting report of a sequence of models, double-descent detection, and clear errors.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { commonV1, evaluatorV1 as ev } from '@floe/contracts';
import { call, collect, createClient, type FloeServer } from '@floe/service-kit';
import { quietLog, rejectsWith, startTestServer, tempDir, testConfig } from '@floe/testing';
import { createEvaluatorService } from '../src/index.js';

const home = tempDir();
let server: FloeServer;
let client: ev.EvaluatorServiceClient;

before(async () => {
  const suites = join(home.path, 'suites');
  mkdirSync(suites, { recursive: true });
  writeFileSync(
    join(suites, 'mail-quick.yaml'),
    'name: mail-quick\ntask: language-model\ndataset: builtin:spam-assassin\nsplit: test\nsamples: 24\nsequence_length: 32\nbatch_size: 8\ndescription: a quick e-mail suite\n',
  );
  writeFileSync(
    join(suites, 'code-quick.yaml'),
    'name: code-quick\ntask: language-model\ndataset: builtin:typescript-lib\nsamples: 24\nsequence_length: 32\nbatch_size: 8\n',
  );
  writeFileSync(
    join(suites, 'digits.yml'),
    'name: digits\ntask: classification\ndataset: builtin:mnist\nmetrics: [accuracy, ece]\nsamples: 100\n',
  );
  writeFileSync(
    join(suites, 'broken.yaml'),
    'name: broken\ntask: language-model\ndataset: builtin:spam-assassin\nmetrics: [accuracy]\n',
  );
  const config = testConfig(home.path);
  server = await startTestServer([createEvaluatorService({ config, log: quietLog })], config);
  client = createClient(ev.EvaluatorServiceClient, server.address);
});

after(async () => {
  client.close();
  await server.shutdown();
  home.remove();
});

const tiny = (seed: number): commonV1.ModelRef => ({
  source: {
    $case: 'builtin',
    value: { architecture: commonV1.ModelArchitecture.MODEL_ARCHITECTURE_TRANSFORMER_LM, size: 'tiny', seed },
  },
});

test('ListSuites: a builtin suite per builtin dataset plus valid YAML suites, paged; a bad file is skipped', async () => {
  const first = await call(client.listSuites.bind(client), { page: { pageSize: 5, pageToken: '' } });
  assert.equal(first.suites.length, 5);
  const rest = await call(client.listSuites.bind(client), {
    page: { pageSize: 100, pageToken: first.page!.nextPageToken },
  });
  const all = [...first.suites, ...rest.suites];
  const names = all.map((s) => s.name);
  for (const n of [
    'spam-assassin',
    'typescript-lib',
    'mnist',
    'iris',
    'penguins',
    'lorenz96-sim',
    'lorenz96-obs',
    'mail-quick',
    'code-quick',
    'digits',
  ])
    assert.ok(names.includes(n), n);
  assert.ok(!names.includes('broken'), 'accuracy does not apply to a language model');
  const mail = all.find((s) => s.name === 'mail-quick')!;
  assert.equal(mail.taskKind, ev.TaskKind.TASK_KIND_LANGUAGE_MODEL);
  assert.deepEqual(mail.metrics, ['bits_per_byte', 'perplexity']);
  assert.match(mail.source, /mail-quick\.yaml$/);
});

test(
  'Evaluate: an untrained byte LM is near 8 bits per byte, with a bootstrap error; an untrained digit classifier near chance',
  { timeout: 120_000 },
  async () => {
    const events = await collect(
      client.evaluate(
        ev.EvaluateRequest.fromPartial({ model: tiny(1), suites: ['mail-quick'], bootstrapSamples: 100, seed: 3 }),
      ),
    );
    assert.ok(events.some((e) => e.event?.$case === 'progress'));
    const result = (events.at(-1)!.event!.value as ev.Evaluation).results[0]!;
    const bpb = result.metrics.find((m) => m.name === 'bits_per_byte')!;
    const ppl = result.metrics.find((m) => m.name === 'perplexity')!;
    assert.ok(bpb.value > 7 && bpb.value < 9, `bpb ${bpb.value}`);
    assert.ok(bpb.stderr > 0 && bpb.stderr < 0.5);
    assert.ok(Math.abs(ppl.value - 2 ** bpb.value) < 1e-6 * ppl.value);
    assert.equal(result.sampleCount, 24);
    const again = (
      await collect(
        client.evaluate(
          ev.EvaluateRequest.fromPartial({ model: tiny(1), suites: ['mail-quick'], bootstrapSamples: 100, seed: 3 }),
        ),
      )
    ).at(-1)!.event!.value as ev.Evaluation;
    assert.deepEqual(again.results, [result], 'deterministic for a seed');

    const lenet: commonV1.ModelRef = {
      source: {
        $case: 'builtin',
        value: { architecture: commonV1.ModelArchitecture.MODEL_ARCHITECTURE_LENET5, size: 'small', seed: 1 },
      },
    };
    const digits = (
      (
        await collect(
          client.evaluate(
            ev.EvaluateRequest.fromPartial({ model: lenet, suites: ['digits'], bootstrapSamples: 50, seed: 1 }),
          ),
        )
      ).at(-1)!.event!.value as ev.Evaluation
    ).results[0]!;
    const acc = digits.metrics.find((m) => m.name === 'accuracy')!;
    assert.ok(acc.value < 0.35, `untrained accuracy ${acc.value}`);
    assert.equal(digits.sampleCount, 100);

    await rejectsWith(
      collect(
        client.evaluate(
          ev.EvaluateRequest.fromPartial({ model: tiny(1), suites: ['nope'], bootstrapSamples: 0, seed: 0 }),
        ),
      ),
      grpc.status.NOT_FOUND,
      undefined,
    );
    await rejectsWith(
      collect(
        client.evaluate(
          ev.EvaluateRequest.fromPartial({ model: tiny(1), suites: ['digits'], bootstrapSamples: 0, seed: 0 }),
        ),
      ),
      grpc.status.INVALID_ARGUMENT,
      'model',
    );
    await rejectsWith(
      collect(
        client.evaluate(
          ev.EvaluateRequest.fromPartial({
            model: { source: { $case: 'artifactId', value: 'art-none' } },
            suites: ['mail-quick'],
            bootstrapSamples: 0,
            seed: 0,
          }),
        ),
      ),
      grpc.status.NOT_FOUND,
    );
  },
);

test('CompareModels refuses a metric that a suite does not have, naming the metric', { timeout: 60_000 }, async () => {
  await rejectsWith(
    collect(
      client.compareModels(
        ev.CompareModelsRequest.fromPartial({
          stages: [tiny(1), tiny(2)],
          suites: ['mail-quick', 'digits'],
          metric: 'bits_per_byte',
        }),
      ),
    ),
    grpc.status.INVALID_ARGUMENT,
    'metric',
  );
});

test('DetectDoubleDescent over the API', async () => {
  const points = Array.from({ length: 150 }, (_, x) => ({
    x,
    y: 0.5 + Math.exp(-x / 12) + 0.3 * Math.exp(-(((x - 70) / 10) ** 2)) - 0.25 / (1 + Math.exp(-(x - 95) / 6)),
  }));
  const d = await call(client.detectDoubleDescent.bind(client), { points, smoothingWindow: 0, noiseMultiple: 0 });
  assert.ok(d.hasDoubleDescent && d.t1 < d.t2 && d.t2 < d.t3 && d.secondDescentBelowFirst);
  const mono = await call(client.detectDoubleDescent.bind(client), {
    points: points.map((p) => ({ x: p.x, y: Math.exp(-p.x / 12) })),
    smoothingWindow: 0,
    noiseMultiple: 0,
  });
  assert.equal(mono.hasDoubleDescent, false);
  await rejectsWith(
    call(client.detectDoubleDescent.bind(client), {
      points: [
        { x: 1, y: 1 },
        { x: 0, y: 1 },
        { x: 2, y: 1 },
        { x: 3, y: 1 },
        { x: 4, y: 1 },
      ],
      smoothingWindow: 0,
      noiseMultiple: 0,
    }),
    grpc.status.INVALID_ARGUMENT,
    'points[1].x',
  );
});

test('inline suites ask for F1, balanced accuracy and AUC, or RMSE, MAE and R²; an unknown metric is refused, named', async () => {
  const mlp: commonV1.ModelRef = {
    source: {
      $case: 'builtin',
      value: { architecture: commonV1.ModelArchitecture.MODEL_ARCHITECTURE_MLP, size: 'small', seed: 1 },
    },
  };
  const suite = (name: string, task: ev.TaskKind, uri: string, metrics: string[]) =>
    ev.Suite.fromPartial({ name, taskKind: task, dataset: { uri }, metrics, sampleCount: 200 });
  const evaluate = async (inlineSuites: ev.Suite[]) =>
    (
      (
        await collect(
          client.evaluate(ev.EvaluateRequest.fromPartial({ model: mlp, inlineSuites, bootstrapSamples: 30, seed: 1 })),
        )
      ).at(-1)!.event!.value as ev.Evaluation
    ).results.map((r) => Object.fromEntries(r.metrics.map((m) => [m.name, m])));
  const [iris, lorenz] = await evaluate([
    suite('iris', ev.TaskKind.TASK_KIND_CLASSIFICATION, 'builtin:iris', [
      'accuracy',
      'f1_macro',
      'balanced_accuracy',
      'auc',
    ]),
    suite('lorenz', ev.TaskKind.TASK_KIND_REGRESSION, 'builtin:lorenz96-sim', ['mse', 'rmse', 'mae', 'r2']),
  ]);
  for (const name of ['accuracy', 'f1_macro', 'balanced_accuracy', 'auc'])
    assert.ok(iris![name]!.value >= 0 && iris![name]!.value <= 1 && iris![name]!.stderr >= 0, name);
  assert.ok(Math.abs(lorenz!.rmse!.value ** 2 - lorenz!.mse!.value) < 1e-6 * lorenz!.mse!.value);
  assert.ok(lorenz!.mae!.value > 0 && lorenz!.mae!.value <= lorenz!.rmse!.value + 1e-9, 'MAE ≤ RMSE');
  // An untrained network predicts the targets worse than their mean.
  assert.ok(lorenz!.r2!.value < 0.5, `R² ${lorenz!.r2!.value}`);
  const refused = await rejectsWith(
    evaluate([suite('lorenz', ev.TaskKind.TASK_KIND_REGRESSION, 'builtin:lorenz96-sim', ['auc'])]),
    grpc.status.INVALID_ARGUMENT,
    'inline_suites[0].metrics',
  );
  assert.match(refused.details, /mse, rmse, mae, r2/);
});
