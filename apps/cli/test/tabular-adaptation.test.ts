// ADE on a table of the user's own, with a fresh builtin MLP and no plan: the trainer asks the data-profiler
// for one, which scores the MLP as the run builds it (shaped by the table) and, where nothing in an MLP is a
// residual block to expand, tunes its head; the run trains with the plan's changes recorded.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { commonV1, trainerV1 } from '@floe/contracts';
import { Rng } from '@floe/random';
import { call, collect, createClient, type FloeServer } from '@floe/service-kit';
import { quietLog, startTestServer, tempDir, testConfig } from '@floe/testing';
import { createTrainerService } from '@floe/trainer';
import { createDataProfilerService } from '@floe/data-profiler';

const home = tempDir();
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
    [createTrainerService({ config, log: quietLog }), createDataProfilerService({ config, log: quietLog })],
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
