// Data of the user's own under the data roots. A table (CSV) trains a fresh builtin MLP shaped to it: as many
// inputs as features, one output per class, or a regression head for a numeric target. A folder of images (a
// folder per class) trains a fresh LeNet shaped to it: the images' size and channels, one output per class. A
// checkpoint keeps its shape and its class names: a numeric target for a classifier is refused before a run
// exists; classes it never predicted grow its head; images of another size are resized to its input; a folder
// without one of its classes continues it, labels read by name.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { commonV1, trainerV1 } from '@floe/contracts';
import { Rng } from '@floe/random';
import { call, collect, createClient, type FloeServer } from '@floe/service-kit';
import { quietLog, rejectsWith, startTestServer, tempDir, testConfig, writeDigitFolder } from '@floe/testing';
import { createTrainerService } from '../src/index.js';
import { tinyLmSpec } from './trainer-fixture.js';

const home = tempDir();
let server: FloeServer;
let client: trainerV1.TrainerServiceClient;

/** 300 rows of three features; the class is the largest feature's index plus 2 × the sign of their sum. */
function tables(dir: string): void {
  const rng = new Rng(11);
  const rows = Array.from({ length: 300 }, () => [rng.normal(), rng.normal(), rng.normal()]);
  const cls = (r: number[]) => r.indexOf(Math.max(...r)) + (r[0]! + r[1]! + r[2]! > 1.5 ? 2 : 0);
  const csv = (header: string, lines: string[]) => `${header}\n${lines.join('\n')}\n`;
  const f = (v: number) => v.toFixed(4);
  writeFileSync(
    join(dir, 'five.csv'),
    csv(
      'a,b,c,label',
      rows.map((r) => `${r.map(f).join(',')},k${cls(r)}`),
    ),
  );
  writeFileSync(
    join(dir, 'three.csv'),
    csv(
      'a,b,c,label',
      rows.map((r) => `${r.map(f).join(',')},${r.indexOf(Math.max(...r))}`),
    ),
  );
  // A numeric target with gaps (rows left out) and a feature with missing cells.
  writeFileSync(
    join(dir, 'reg.csv'),
    csv(
      'a,b,c,y',
      rows.map(
        (r, i) =>
          `${i % 9 === 0 ? 'NA' : f(r[0]!)},${f(r[1]!)},${f(r[2]!)},${i % 50 === 7 ? '' : f(2 * r[1]! - r[2]!)}`,
      ),
    ),
  );
}

const names = ['zero', 'one', 'two', 'three', 'four'];

/** Folders of MNIST digits as PNG files, a folder per class named by word. */
function imageFolders(data: string): void {
  // Colour digits of 32×32 pixels, three classes named by word.
  writeDigitFolder(join(data, 'digits'), {
    digits: [0, 1, 2],
    perClass: 60,
    size: 32,
    color: [250, 200, 40],
    className: (d) => names[d]!,
  });
  writeDigitFolder(join(data, 'four-classes'), {
    digits: [0, 1, 2, 4],
    perClass: 10,
    start: 60,
    size: 32,
    color: [250, 200, 40],
    className: (d) => names[d]!,
  });
  // The same kind of images at 28×28: brought to the model's 32×32.
  writeDigitFolder(join(data, 'digits28'), {
    digits: [0, 1, 2],
    perClass: 20,
    start: 120,
    color: [250, 200, 40],
    className: (d) => names[d]!,
  });
  // Only "two" and "zero": each numbered 0 and 1 in a folder of its own.
  writeDigitFolder(join(data, 'two-and-zero'), {
    digits: [2, 0],
    perClass: 20,
    start: 80,
    size: 32,
    color: [250, 200, 40],
    className: (d) => names[d]!,
  });
}

before(async () => {
  mkdirSync(join(home.path, 'data'), { recursive: true });
  tables(join(home.path, 'data'));
  imageFolders(join(home.path, 'data'));
  const config = testConfig(home.path);
  server = await startTestServer([createTrainerService({ config, log: quietLog })], config);
  client = createClient(trainerV1.TrainerServiceClient, server.address);
});

after(async () => {
  client.close();
  await server.shutdown();
  home.remove();
});

const mlp = {
  source: {
    $case: 'builtin' as const,
    value: { architecture: commonV1.ModelArchitecture.MODEL_ARCHITECTURE_MLP, size: 'small', seed: 1 },
  },
};
const spec = (over: Partial<trainerV1.RunSpec>): trainerV1.RunSpec =>
  trainerV1.RunSpec.fromPartial({
    baseModel: mlp,
    strategy: trainerV1.Strategy.STRATEGY_FULL,
    optimizer: { learningRate: 1e-2 },
    batchSize: 32,
    budgetSteps: 60,
    evalIntervalSteps: 60,
    seed: 3,
    ...over,
  });

const table = (uri: string) => commonV1.DatasetRef.fromPartial({ uri });

async function train(s: trainerV1.RunSpec): Promise<trainerV1.Run> {
  const { run } = await call(client.startRun.bind(client), { requestId: '', spec: s });
  const events = await collect(client.watchRun({ runId: run!.runId, fromStep: 0 }));
  return (events.at(-1)!.event as { value: trainerV1.Run }).value;
}

test('balance_classes: a classifier trains on balanced batches; a regression or a language model is refused, named', async () => {
  const balanced = await train(spec({ dataset: table('file:five.csv'), balanceClasses: true, budgetSteps: 10 }));
  assert.equal(balanced.state, commonV1.RunState.RUN_STATE_PAUSED, balanced.error);
  assert.equal(balanced.spec!.balanceClasses, true);
  const refused = (s: trainerV1.RunSpec) =>
    rejectsWith(
      call(client.startRun.bind(client), { requestId: '', spec: s }),
      grpc.status.INVALID_ARGUMENT,
      'spec.balance_classes',
    );
  await refused(spec({ dataset: table('file:reg.csv'), balanceClasses: true }));
  await refused(tinyLmSpec({ balanceClasses: true }));
});

test(
  "a fresh MLP takes the table's shape: 3 inputs and 5 classes, or a regression head; both learn",
  { timeout: 120_000 },
  async () => {
    const classes = await train(spec({ dataset: table('file:five.csv') }));
    assert.equal(classes.state, commonV1.RunState.RUN_STATE_PAUSED, classes.error);
    // Hidden 64, 64 (the size), inputs 3 and outputs 5 (the table): (3·64 + 64) + (64·64 + 64) + (64·5 + 5).
    assert.equal(classes.totalParams, 3 * 64 + 64 + 64 * 64 + 64 + 64 * 5 + 5);
    const initial = classes.initialValidationLoss!;
    assert.ok(Math.abs(initial - Math.log(5)) < 0.5, `a fresh 5-way classifier starts near ln 5: ${initial}`);
    assert.ok(
      classes.lastMetrics!.validationLoss! < initial - 0.3,
      `learns: ${initial} → ${classes.lastMetrics!.validationLoss}`,
    );

    const regression = await train(spec({ dataset: table('file:reg.csv') }));
    assert.equal(regression.state, commonV1.RunState.RUN_STATE_PAUSED, regression.error);
    // Four inputs: a, b, c, and whether a is missing (a ninth of its cells are).
    assert.equal(regression.totalParams, 4 * 64 + 64 + 64 * 64 + 64 + 64 * 1 + 1);
    const start = regression.initialValidationLoss!;
    const end = regression.lastMetrics!.validationLoss!;
    assert.ok(Number.isFinite(end) && end < start / 2, `mean squared error falls: ${start} → ${end}`);
  },
);

test(
  'a checkpoint keeps its shape: a numeric target is refused; classes it does not predict grow its head',
  { timeout: 120_000 },
  async () => {
    const three = await train(spec({ dataset: table('file:three.csv'), budgetSteps: 2, evalIntervalSteps: 0 }));
    const fromThree = commonV1.ModelRef.fromPartial({
      source: { $case: 'run', value: { runId: three.runId, step: 0 } },
    });
    const before = (
      await call(client.listRuns.bind(client), { page: { pageSize: 100, pageToken: '' }, states: [], labels: {} })
    ).runs.length;
    const numeric = await rejectsWith(
      call(client.startRun.bind(client), {
        requestId: '',
        spec: spec({ baseModel: fromThree, dataset: table('file:reg.csv') }),
      }),
      grpc.status.INVALID_ARGUMENT,
      'spec.dataset',
    );
    assert.match(numeric.details, /is a classification model; the data's target is a number/);
    const after = (
      await call(client.listRuns.bind(client), { page: { pageSize: 100, pageToken: '' }, states: [], labels: {} })
    ).runs.length;
    assert.equal(after, before, 'nothing was started');
    // Classes it never predicted: its head grows by them (3 + 5 outputs), and the run trains.
    const grown = await train(
      spec({ baseModel: fromThree, dataset: table('file:five.csv'), budgetSteps: 2, evalIntervalSteps: 0 }),
    );
    assert.equal(grown.state, commonV1.RunState.RUN_STATE_PAUSED, grown.error);
    assert.equal(grown.totalParams, 3 * 64 + 64 + 64 * 64 + 64 + 64 * 8 + 8);
    // The same table continues the checkpoint.
    const continued = await train(
      spec({ baseModel: fromThree, dataset: table('file:three.csv'), budgetSteps: 2, evalIntervalSteps: 0 }),
    );
    assert.equal(continued.state, commonV1.RunState.RUN_STATE_PAUSED, continued.error);
  },
);

const lenet = {
  source: {
    $case: 'builtin' as const,
    value: { architecture: commonV1.ModelArchitecture.MODEL_ARCHITECTURE_LENET5, size: 'small', seed: 1 },
  },
};
const lenetSpec = (over: Partial<trainerV1.RunSpec>): trainerV1.RunSpec =>
  trainerV1.RunSpec.fromPartial({
    baseModel: lenet,
    strategy: trainerV1.Strategy.STRATEGY_FULL,
    optimizer: { learningRate: 3e-3 },
    batchSize: 16,
    budgetSteps: 40,
    evalIntervalSteps: 40,
    seed: 3,
    ...over,
  });
const folder = (uri: string) => commonV1.DatasetRef.fromPartial({ uri });

test(
  'a folder of 32×32 colour images trains a LeNet of their shape; its checkpoint reads other sizes and grows by new classes',
  { timeout: 180_000 },
  async () => {
    const run = await train(lenetSpec({ dataset: folder('file:digits') }));
    assert.equal(run.state, commonV1.RunState.RUN_STATE_PAUSED, run.error);
    // 32 → conv 28 → pool 14 → conv 10 → pool 5: fc1 reads 5·5·16; three channels in, three classes out.
    const params = 5 * 5 * 3 * 6 + 6 + (5 * 5 * 6 * 16 + 16) + (5 * 5 * 16 * 120 + 120) + (120 * 3 + 3);
    assert.equal(run.totalParams, params);
    const initial = run.initialValidationLoss!;
    assert.ok(Math.abs(initial - Math.log(3)) < 0.3, `a fresh 3-way classifier starts near ln 3: ${initial}`);
    const final = run.lastMetrics!.validationLoss!;
    assert.ok(final < 0.5 * initial, `learns the digits: ${initial} → ${final}`);

    const base = commonV1.ModelRef.fromPartial({ source: { $case: 'run', value: { runId: run.runId, step: 0 } } });
    // A class it never predicted ("four"): the head grows by one output, and the run trains.
    const grown = await train(
      lenetSpec({ baseModel: base, dataset: folder('file:four-classes'), budgetSteps: 2, evalIntervalSteps: 0 }),
    );
    assert.equal(grown.state, commonV1.RunState.RUN_STATE_PAUSED, grown.error);
    assert.equal(grown.totalParams, params + 120 + 1);

    // Smaller images of the same kind are resized to what the model reads, and it reads them as well.
    const resized = await train(
      lenetSpec({ baseModel: base, dataset: folder('file:digits28'), budgetSteps: 2, evalIntervalSteps: 1 }),
    );
    assert.equal(resized.state, commonV1.RunState.RUN_STATE_PAUSED, resized.error);
    assert.ok(
      resized.initialValidationLoss! < 0.7 * initial,
      `28×28 images read by a 32×32 model: ${resized.initialValidationLoss} (fresh: ${initial})`,
    );

    // Two of its classes only: continued, each image labelled by its folder's name, not its position.
    const continued = await train(
      lenetSpec({ baseModel: base, dataset: folder('file:two-and-zero'), budgetSteps: 2, evalIntervalSteps: 1 }),
    );
    assert.equal(continued.state, commonV1.RunState.RUN_STATE_PAUSED, continued.error);
    assert.ok(
      continued.initialValidationLoss! < 0.7 * initial,
      `the trained model already knows these classes: ${continued.initialValidationLoss} (fresh: ${initial})`,
    );
  },
);
