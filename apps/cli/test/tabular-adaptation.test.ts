// ADE on a table of the user's own, with a fresh builtin MLP and no plan: the trainer asks the data-profiler
// for one, which scores the MLP as the run builds it (shaped by the table) and, where nothing in an MLP is a
// residual block to expand, tunes its head; the run trains with the plan's changes recorded. And floe's main
// job, adapt(), on tables: the task is read from the data (classes → accuracy, a number → mse), losses keep
// their own unit, and every stage runs.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { commonV1, evaluatorV1, explainerV1, trainerV1 } from '@floe/contracts';
import { Rng } from '@floe/random';
import { call, collect, createClient, type FloeServer } from '@floe/service-kit';
import { quietLog, startTestServer, tempDir, testConfig } from '@floe/testing';
import { adapt, FloeClient, type AdaptEvent, type AdaptResult } from '@floe/client';
import { createTrainerService } from '@floe/trainer';
import { createDataProfilerService } from '@floe/data-profiler';
import { createHpoSurrogateService } from '@floe/hpo-surrogate';
import { createExplainerService } from '@floe/explainer';
import { createEvaluatorService } from '@floe/evaluator';

const home = tempDir();
const ADAPT_STAGES_RUN = ['base', 'profile', 'plan', 'tune', 'train', 'evaluate', 'explain'];
let server: FloeServer;
let trainer: trainerV1.TrainerServiceClient;

/** Tables of five features and four classes (not the MLP size's own 4 → 3); the new one shifted by `shift`. */
function table(path: string, seed: number, shift: number): void {
  const rng = new Rng(seed);
  const lines = Array.from({ length: 240 }, () => {
    const x = Array.from({ length: 5 }, () => rng.normal() + shift);
    const label = x[0]! + x[1]! > 2 * shift ? (x[2]! > shift ? 'a' : 'b') : x[3]! > x[4]! ? 'c' : 'd';
    return `${x.map((v) => v.toFixed(3)).join(',')},${label}`;
  });
  writeFileSync(path, `f0,f1,f2,f3,f4,label\n${lines.join('\n')}\n`);
}

before(async () => {
  mkdirSync(join(home.path, 'data'), { recursive: true });
  table(join(home.path, 'data', 'old.csv'), 1, 0);
  table(join(home.path, 'data', 'new.csv'), 2, 0.05);
  const config = testConfig(home.path);
  server = await startTestServer(
    [
      createTrainerService({ config, log: quietLog }),
      createDataProfilerService({ config, log: quietLog }),
      createHpoSurrogateService({ config, log: quietLog }),
      createExplainerService({ config, log: quietLog }),
      createEvaluatorService({ config, log: quietLog }),
    ],
    config,
  );
  trainer = createClient(trainerV1.TrainerServiceClient, server.address);
});

after(async () => {
  trainer.close();
  await server.shutdown();
  home.remove();
});

test(
  'ADE without a plan on a table: the fetched plan tunes the MLP head and the run trains',
  { timeout: 180_000 },
  async () => {
    const spec = trainerV1.RunSpec.fromPartial({
      baseModel: {
        source: {
          $case: 'builtin',
          value: { architecture: commonV1.ModelArchitecture.MODEL_ARCHITECTURE_MLP, size: 'small', seed: 4 },
        },
      },
      dataset: { uri: 'file:new.csv' },
      mixture: { replayDataset: { uri: 'file:old.csv' }, replayFraction: 0 },
      strategy: trainerV1.Strategy.STRATEGY_ADE,
      batchSize: 16,
      budgetSteps: 8,
      seed: 1,
    });
    const { run } = await call(trainer.startRun.bind(trainer), { requestId: '', spec });
    const events = await collect(trainer.watchRun({ runId: run!.runId, fromStep: 0 }));
    const done = (events.at(-1)!.event as { value: trainerV1.Run }).value;
    assert.equal(done.state, commonV1.RunState.RUN_STATE_PAUSED, done.error);
    assert.equal(done.step, 8);
    const plan = done.spec!.plan!;
    assert.ok(plan.tuneBlockIds.includes('head'), `the plan trains the head: ${JSON.stringify(plan.tuneBlockIds)}`);
    assert.deepEqual(plan.expansions, [], 'an MLP has no residual block to expand');
    // Only what the plan tunes trains: the head of a 5 → 64 → 64 → 4 MLP.
    assert.equal(done.totalParams, 5 * 64 + 64 + 64 * 64 + 64 + 64 * 4 + 4);
    const tuned = plan.tuneBlockIds.includes('dense.0') || plan.tuneBlockIds.includes('dense.1');
    if (!tuned) assert.equal(done.trainableParams, 64 * 4 + 4);
  },
);

test(
  'ADE without a plan on tables whose target sits between the columns: the plan reads the old domain by the same target',
  { timeout: 180_000 },
  async () => {
    // "label" would be the target by default; the run learns y, and the replay names no target of its own.
    const write = (file: string, seed: number) => {
      const rng = new Rng(seed);
      const lines = Array.from({ length: 200 }, (_, i) => {
        const a = rng.normal();
        const b = rng.normal();
        return `${a.toFixed(3)},${(2 * a - b).toFixed(3)},${b.toFixed(3)},${i % 3}`;
      });
      writeFileSync(join(home.path, 'data', file), `a,y,b,label\n${lines.join('\n')}\n`);
    };
    write('old-middle.csv', 5);
    write('new-middle.csv', 6);
    const spec = trainerV1.RunSpec.fromPartial({
      baseModel: {
        source: {
          $case: 'builtin',
          value: { architecture: commonV1.ModelArchitecture.MODEL_ARCHITECTURE_MLP, size: 'small', seed: 4 },
        },
      },
      dataset: { uri: 'file:new-middle.csv', targetColumn: 'y' },
      mixture: { replayDataset: { uri: 'file:old-middle.csv' }, replayFraction: 0 },
      strategy: trainerV1.Strategy.STRATEGY_ADE,
      batchSize: 16,
      budgetSteps: 8,
      seed: 1,
    });
    const { run } = await call(trainer.startRun.bind(trainer), { requestId: '', spec });
    const events = await collect(trainer.watchRun({ runId: run!.runId, fromStep: 0 }));
    const done = (events.at(-1)!.event as { value: trainerV1.Run }).value;
    assert.equal(done.state, commonV1.RunState.RUN_STATE_PAUSED, done.error);
    assert.equal(done.step, 8);
    assert.ok(done.spec!.plan, 'the run recorded the plan it fetched');
  },
);

/** adapt() to its result; the stage summaries it reported on the way. */
async function adaptAll(client: FloeClient, data: string, reference: string, id: string, budgetSteps = 30) {
  const flow = adapt(client, {
    id,
    data,
    reference,
    pretrain: { architecture: commonV1.ModelArchitecture.MODEL_ARCHITECTURE_MLP, size: 'small', steps: 80 },
    budgetSteps,
    tuneFraction: 0.4,
    batchSize: 16,
  });
  const summaries: string[] = [];
  for (;;) {
    const next = await flow.next();
    if (next.done) return { result: next.value as AdaptResult, summaries };
    const e = next.value as AdaptEvent;
    if (e.type === 'stage' && e.status !== 'started') summaries.push(`${e.stage}: ${e.status}: ${e.summary}`);
  }
}

/** Writes the rows of data/`from` that `keep` selects (by their line), under its header, to data/`to`. */
function writeRows(from: string, to: string, keep: (line: string) => boolean): void {
  const [header, ...rows] = readFileSync(join(home.path, 'data', from), 'utf8')
    .trim()
    .split('\n');
  writeFileSync(join(home.path, 'data', to), [header, ...rows.filter(keep)].join('\n') + '\n');
}

/** A run's accuracy on the whole of a table. */
async function accuracyOn(client: FloeClient, runId: string, uri: string): Promise<number> {
  let value = NaN;
  for await (const e of client.evaluator.evaluate({
    model: { source: { $case: 'run', value: { runId, step: 0, best: false } } },
    suites: [],
    bootstrapSamples: 10,
    seed: 1,
    inlineSuites: [
      evaluatorV1.Suite.fromPartial({
        name: 'suite',
        taskKind: evaluatorV1.TaskKind.TASK_KIND_CLASSIFICATION,
        dataset: { uri, split: commonV1.DatasetSplit.DATASET_SPLIT_ALL },
        metrics: ['accuracy'],
        batchSize: 32,
      }),
    ],
  }))
    if (e.event?.$case === 'evaluation')
      value = e.event.value.results[0]!.metrics.find((m) => m.name === 'accuracy')!.value;
  return value;
}

test(
  'adapt() on tables: classes are judged by accuracy, a numeric target by mse, losses in their own unit',
  { timeout: 300_000 },
  async () => {
    mkdirSync(join(home.path, 'data', 'reg'), { recursive: true });
    const rng = new Rng(9);
    const regression = (shift: number) =>
      `a,b,y\n${Array.from({ length: 200 }, () => {
        const a = rng.normal() + shift;
        const b = rng.normal();
        return `${a.toFixed(3)},${b.toFixed(3)},${(2 * a - b).toFixed(4)}`;
      }).join('\n')}\n`;
    writeFileSync(join(home.path, 'data', 'reg', 'old.csv'), regression(0));
    writeFileSync(join(home.path, 'data', 'reg', 'new.csv'), regression(1));
    const client = new FloeClient({ address: server.address });
    try {
      const classes = await adaptAll(client, 'file:new.csv', 'file:old.csv', 'table-classes');
      assert.equal(classes.result.task, 'classification');
      assert.equal(classes.result.lossUnit, 'nats');
      assert.ok(
        ADAPT_STAGES_RUN.every((stage) => classes.summaries.some((x) => x.startsWith(`${stage}: done`))),
        classes.summaries.join('\n'),
      );
      const e = classes.result.evaluation!;
      assert.deepEqual([e.metric, e.higherIsBetter], ['accuracy', true]);
      for (const d of e.domains) for (const v of [d.base, d.adapted]) assert.ok(v >= 0 && v <= 1, `accuracy ${v}`);
      assert.ok(!classes.summaries.some((x) => x.includes('bits/byte')), classes.summaries.join('\n'));

      const numeric = await adaptAll(client, 'file:reg/new.csv', 'file:reg/old.csv', 'table-regression');
      assert.equal(numeric.result.task, 'regression');
      const r = numeric.result.evaluation!;
      assert.deepEqual([r.metric, r.higherIsBetter], ['mse', false]);
      const newDomain = r.domains.find((d) => d.domain === 'new')!;
      // Gains are improvements: with mse lower is better, so the gain is base − adapted.
      assert.ok(Math.abs(newDomain.gain - (newDomain.base - newDomain.adapted)) < 1e-9);
    } finally {
      client.close();
    }
  },
);

test(
  'classes meet the model by name: a table without one class, and a replayed table, keep their labels',
  { timeout: 180_000 },
  async () => {
    // Without its class "a" rows, old.csv's file numbers b, c, d as 0, 1, 2; the model (trained on all four)
    // as 1, 2, 3.
    writeRows('old.csv', 'old-without-a.csv', (l) => !l.endsWith(',a'));
    writeRows('old.csv', 'old-only-a.csv', (l) => l.endsWith(',a'));
    // The same table with its columns in reverse order: the model reads them by name.
    const lines = readFileSync(join(home.path, 'data', 'old.csv'), 'utf8')
      .trim()
      .split('\n');
    const reversed = lines.map((l) => {
      const cells = l.split(',');
      return [...cells.slice(0, -1).reverse(), cells.at(-1)].join(',');
    });
    writeFileSync(join(home.path, 'data', 'old-reversed.csv'), reversed.join('\n') + '\n');
    const client = new FloeClient({ address: server.address });
    try {
      const mlp = commonV1.ModelRef.fromPartial({
        source: {
          $case: 'builtin',
          value: { architecture: commonV1.ModelArchitecture.MODEL_ARCHITECTURE_MLP, size: 'small', seed: 2 },
        },
      });
      const spec = (over: Partial<trainerV1.RunSpec>) =>
        trainerV1.RunSpec.fromPartial({
          baseModel: mlp,
          dataset: { uri: 'file:old.csv' },
          strategy: trainerV1.Strategy.STRATEGY_FULL,
          optimizer: { learningRate: 1e-2 },
          batchSize: 32,
          budgetSteps: 150,
          seed: 1,
          ...over,
        });
      const trained = async (s: trainerV1.RunSpec) => {
        const { run } = await client.trainer.startRun({ requestId: '', spec: s });
        await collect(trainer.watchRun({ runId: run!.runId, fromStep: 0 }));
        const done = (await client.trainer.getRun({ runId: run!.runId })).run!;
        assert.equal(done.state, commonV1.RunState.RUN_STATE_PAUSED, done.error);
        return done;
      };
      const accuracy = (runId: string, uri: string) => accuracyOn(client, runId, uri);
      const run = await trained(spec({}));
      const whole = await accuracy(run.runId, 'file:old.csv');
      const withoutA = await accuracy(run.runId, 'file:old-without-a.csv');
      assert.ok(whole > 0.7, `the model learned its table: ${whole}`);
      const reversedAccuracy = await accuracy(run.runId, 'file:old-reversed.csv');
      assert.ok(Math.abs(reversedAccuracy - whole) < 1e-9, `columns reversed: ${reversedAccuracy} against ${whole}`);
      // Read by position, b / c / d would be scored as a / b / c: accuracy near 0.
      assert.ok(withoutA > 0.6, `the same model on the same rows without class a: ${withoutA}`);
      // A fresh MLP trained on the table without "a", replaying the whole one, predicts all four classes.
      const replayed = await trained(
        spec({
          dataset: commonV1.DatasetRef.fromPartial({ uri: 'file:old-without-a.csv' }),
          mixture: { replayDataset: commonV1.DatasetRef.fromPartial({ uri: 'file:old.csv' }), replayFraction: 0.5 },
        }),
      );
      assert.equal(replayed.totalParams, 5 * 64 + 64 + 64 * 64 + 64 + 64 * 4 + 4);
      // Only the replay shows class "a": without it, no row of "a" could be right.
      const onlyA = await accuracy(replayed.runId, 'file:old-only-a.csv');
      assert.ok(onlyA > 0.5, `class a, learned from the replay alone: ${onlyA}`);
    } finally {
      client.close();
    }
  },
);

test(
  'a class the old model never saw: adapt() grows its head, learns the class, and scores the base as never predicting it',
  { timeout: 300_000 },
  async () => {
    // The old table without class "d"; the new one with all four.
    writeRows('old.csv', 'old-abc.csv', (l) => !l.endsWith(',d'));
    writeRows('new.csv', 'new-only-d.csv', (l) => l.endsWith(',d'));
    const client = new FloeClient({ address: server.address });
    try {
      const { result, summaries } = await adaptAll(client, 'file:new.csv', 'file:old-abc.csv', 'table-new-class', 150);
      assert.ok(
        ADAPT_STAGES_RUN.every((stage) => summaries.some((x) => x.startsWith(`${stage}: done`))),
        summaries.join('\n'),
      );
      const accuracy = (runId: string) => accuracyOn(client, runId, 'file:new-only-d.csv');
      const base = (await client.trainer.getRun({ runId: result.base.runId! })).run!;
      assert.equal(base.totalParams, 5 * 64 + 64 + 64 * 64 + 64 + 64 * 3 + 3, 'the base predicts a, b, c');
      const adapted = (await client.trainer.getRun({ runId: result.run!.runId })).run!;
      assert.equal(adapted.totalParams, 5 * 64 + 64 + 64 * 64 + 64 + 64 * 4 + 4, 'the adapted model also d');
      assert.equal(await accuracy(base.runId), 0, 'the base never predicts d');
      const learned = await accuracy(adapted.runId);
      assert.ok(learned > 0.5, `the adapted model learned d: ${learned}`);
    } finally {
      client.close();
    }
  },
);

test(
  'categories the old model never read: a run from its checkpoint grows the one-hot input and learns them',
  { timeout: 180_000 },
  async () => {
    // The class follows the colour alone (the numbers are noise). The old table has red, green and blue; the new
    // one purple and orange, which the old model reads as no colour — both alike, so it cannot tell them apart.
    const colourTable = (file: string, seed: number, colours: Record<string, string>) => {
      const rng = new Rng(seed);
      const names = Object.keys(colours);
      const lines = Array.from({ length: 240 }, () => {
        const colour = names[rng.int(names.length)]!;
        return `${rng.normal().toFixed(3)},${colour},${rng.normal().toFixed(3)},${colours[colour]}`;
      });
      writeFileSync(join(home.path, 'data', file), `x0,colour,x1,label\n${lines.join('\n')}\n`);
    };
    colourTable('colours-old.csv', 3, { red: 'a', green: 'b', blue: 'c' });
    colourTable('colours-new.csv', 4, { purple: 'c', orange: 'a' });
    const client = new FloeClient({ address: server.address });
    try {
      const trained = async (baseModel: commonV1.ModelRef, uri: string) => {
        const { run } = await client.trainer.startRun({
          requestId: '',
          spec: trainerV1.RunSpec.fromPartial({
            baseModel,
            dataset: { uri },
            strategy: trainerV1.Strategy.STRATEGY_FULL,
            optimizer: { learningRate: 1e-2 },
            batchSize: 32,
            budgetSteps: 120,
            seed: 1,
          }),
        });
        await collect(trainer.watchRun({ runId: run!.runId, fromStep: 0 }));
        const done = (await client.trainer.getRun({ runId: run!.runId })).run!;
        assert.equal(done.state, commonV1.RunState.RUN_STATE_PAUSED, done.error);
        return done;
      };
      const base = await trained(
        commonV1.ModelRef.fromPartial({
          source: {
            $case: 'builtin',
            value: { architecture: commonV1.ModelArchitecture.MODEL_ARCHITECTURE_MLP, size: 'small', seed: 2 },
          },
        }),
        'file:colours-old.csv',
      );
      // Inputs: x0, x1 and three colours one-hot.
      assert.equal(base.totalParams, 5 * 64 + 64 + 64 * 64 + 64 + 64 * 3 + 3);
      assert.ok((await accuracyOn(client, base.runId, 'file:colours-old.csv')) > 0.95);
      const adapted = await trained(
        commonV1.ModelRef.fromPartial({
          source: { $case: 'run', value: { runId: base.runId, step: 0, best: false } },
        }),
        'file:colours-new.csv',
      );
      assert.equal(adapted.totalParams, base.totalParams + 2 * 64, 'two more colours read one-hot');
      const learned = await accuracyOn(client, adapted.runId, 'file:colours-new.csv');
      assert.ok(learned > 0.95, `purple and orange told apart: ${learned}`);
    } finally {
      client.close();
    }
  },
);

test("a builtin MLP given straight to the evaluator and the explainer takes the table's shape", async () => {
  const client = new FloeClient({ address: server.address });
  try {
    const mlp = {
      source: {
        $case: 'builtin' as const,
        value: { architecture: commonV1.ModelArchitecture.MODEL_ARCHITECTURE_MLP, size: 'small', seed: 3 },
      },
    };
    // Untrained, it is still scored: the table's five columns in, one output per class.
    let accuracy = NaN;
    for await (const e of client.evaluator.evaluate({
      model: mlp,
      suites: [],
      bootstrapSamples: 10,
      seed: 1,
      inlineSuites: [
        evaluatorV1.Suite.fromPartial({
          name: 'table',
          taskKind: evaluatorV1.TaskKind.TASK_KIND_CLASSIFICATION,
          dataset: { uri: 'file:new.csv', split: commonV1.DatasetSplit.DATASET_SPLIT_ALL },
          metrics: ['accuracy'],
          batchSize: 32,
        }),
      ],
    }))
      if (e.event?.$case === 'evaluation')
        accuracy = e.event.value.results[0]!.metrics.find((m) => m.name === 'accuracy')!.value;
    assert.ok(accuracy >= 0 && accuracy <= 1, `accuracy ${accuracy}`);
    let features: string[] = [];
    for await (const e of client.explainer.explain({
      model: mlp,
      dataset: { uri: 'file:new.csv', split: commonV1.DatasetSplit.DATASET_SPLIT_UNSPECIFIED, maxExamples: 0 },
      options: explainerV1.ExplainOptions.fromPartial({
        method: explainerV1.Method.METHOD_EXACT,
        instances: 2,
        background: 8,
        seed: 1,
      }),
      includePlots: false,
    }))
      if (e.event?.$case === 'explanation') features = e.event.value.featureNames;
    assert.deepEqual(features, ['f0', 'f1', 'f2', 'f3', 'f4']);
  } finally {
    client.close();
  }
});
