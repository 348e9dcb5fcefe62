// The trainer on PostgreSQL (FLOE_DATABASE_URL; cluster mode's store), in a child process as deployed: a
// PostgreSQL restart in the middle of a run costs no committed step — the run carries on and every step is
// stored once, on the same curve as the same run on SQLite — and a restarted trainer answers GetRun and
// ListRuns from the database.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { commonV1, trainerV1 } from '@floe/contracts';
import { call, collect, createClient } from '@floe/service-kit';
import { spawnFloe, startPostgres, tempDir, type FloeProcess, type TestPostgres } from '@floe/testing';

const home = tempDir();
let pg: TestPostgres | undefined;
/** Every trainer started, killed at the end even when an assertion fails (else they keep the test alive). */
const started: FloeProcess[] = [];
after(() => {
  for (const p of started) p.child.kill('SIGKILL');
  pg?.remove();
  home.remove();
});

const spec = trainerV1.RunSpec.fromPartial({
  baseModel: {
    source: {
      $case: 'builtin',
      value: { architecture: commonV1.ModelArchitecture.MODEL_ARCHITECTURE_TRANSFORMER_LM, size: 'tiny', seed: 5 },
    },
  },
  dataset: { uri: 'builtin:spam-assassin' },
  strategy: trainerV1.Strategy.STRATEGY_FULL,
  optimizer: { kind: trainerV1.OptimizerKind.OPTIMIZER_KIND_ADAMW, learningRate: 2e-3, gradClipNorm: 1 },
  batchSize: 4,
  sequenceLength: 32,
  budgetSteps: 80,
  checkpointIntervalSteps: 20,
  seed: 3,
});

async function trainer(
  env: NodeJS.ProcessEnv,
  dir: string,
): Promise<FloeProcess & { client: trainerV1.TrainerServiceClient }> {
  const floe = await spawnFloe(dir, { FLOE_SERVICES: 'trainer', ...env });
  started.push(floe);
  return { ...floe, client: createClient(trainerV1.TrainerServiceClient, floe.address) };
}

async function stop(p: FloeProcess & { client: trainerV1.TrainerServiceClient }): Promise<void> {
  p.client.close();
  p.child.kill('SIGTERM');
  await p.exited;
}

const stepsOf = async (client: trainerV1.TrainerServiceClient, runId: string) =>
  (await collect(client.watchRun({ runId, fromStep: 0 }))).flatMap((e) =>
    e.event?.$case === 'step' ? [e.event.value] : [],
  );

test(
  'a PostgreSQL restart mid-run costs no committed step; a restarted trainer answers from the database',
  { timeout: 300_000 },
  async () => {
    pg = await startPostgres();
    const env = { FLOE_DATABASE_URL: pg.url, FLOE_DATABASE_RETRY_MS: '30000' };
    const first = await trainer(env, `${home.path}/a`);
    const { run } = await call(first.client.startRun.bind(first.client), { requestId: 'pg-run', spec });
    // Past step 10, the database goes away for a second and a half.
    const stream = first.client.watchRun({ runId: run!.runId, fromStep: 0 });
    let back: Promise<void> | undefined;
    for await (const e of stream as AsyncIterable<trainerV1.WatchRunResponse>) {
      if (e.event?.$case === 'step' && e.event.value.step >= 10 && !back) {
        pg.stop();
        back = pg.startIn(1500);
      }
      if (e.event?.$case === 'run' && e.event.value.state === commonV1.RunState.RUN_STATE_PAUSED) break;
    }
    await back;
    const done = (await call(first.client.getRun.bind(first.client), { runId: run!.runId })).run!;
    assert.equal(done.state, commonV1.RunState.RUN_STATE_PAUSED, done.error);
    assert.equal(done.step, 80);
    const steps = await stepsOf(first.client, run!.runId);
    assert.deepEqual(
      steps.map((m) => m.step),
      Array.from({ length: 80 }, (_, i) => i + 1),
      'every step once',
    );
    await stop(first);

    // The same run on SQLite: the same curve.
    const sqlite = await trainer({}, `${home.path}/b`);
    const { run: twin } = await call(sqlite.client.startRun.bind(sqlite.client), { requestId: '', spec });
    const twinSteps = await stepsOf(sqlite.client, twin!.runId);
    await stop(sqlite);
    steps.forEach((m, i) => assert.ok(Math.abs(m.trainLoss - twinSteps[i]!.trainLoss) <= 1e-6, `step ${m.step}`));

    // Another trainer process on the same database (and a fresh FLOE_HOME) answers for the run.
    const again = await trainer(env, `${home.path}/c`);
    try {
      const got = (await call(again.client.getRun.bind(again.client), { runId: run!.runId })).run!;
      assert.equal(got.step, 80);
      assert.equal(got.state, commonV1.RunState.RUN_STATE_PAUSED);
      const listed = await call(again.client.listRuns.bind(again.client), trainerV1.ListRunsRequest.fromPartial({}));
      assert.deepEqual(
        listed.runs.map((r) => r.runId),
        [run!.runId],
      );
      const replay = await call(again.client.startRun.bind(again.client), { requestId: 'pg-run', spec });
      assert.equal(replay.replayed, true);
      assert.equal(replay.run!.runId, run!.runId);
    } finally {
      await stop(again);
    }
  },
);
