// A table of the user's own (a CSV under the data roots) trains a fresh builtin MLP shaped to it: as many
// inputs as features, one output per class, or a regression head for a numeric target. A checkpoint keeps its
// shape and its class names, so continuing it on a table it cannot predict is refused before a run exists.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { commonV1, trainerV1 } from '@floe/contracts';
import { Rng } from '@floe/random';
import { call, collect, createClient, type FloeServer } from '@floe/service-kit';
import { quietLog, rejectsWith, startTestServer, tempDir, testConfig } from '@floe/testing';
import { createTrainerService } from '../src/index.js';

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

before(async () => {
  mkdirSync(join(home.path, 'data'), { recursive: true });
  tables(join(home.path, 'data'));
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
    assert.equal(regression.totalParams, 3 * 64 + 64 + 64 * 64 + 64 + 64 * 1 + 1);
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
