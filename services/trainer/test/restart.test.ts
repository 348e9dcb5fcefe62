// Durability across server processes: the trainer runs in a child process that is SIGKILLed mid-run and
// restarted on the same FLOE_HOME. The killed run is INTERRUPTED at its last checkpoint, keeps the metrics
// of every completed step, and resumes to the same curve as an uninterrupted run (the replayed steps are
// stored once and reproduce the recorded ones). A run paused by a graceful shutdown resumes the same way.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { commonV1, trainerV1 } from '@floe/contracts';
import { call, collect, createClient } from '@floe/service-kit';
import { LocalArtifactStore, SqliteMetadataStore, floeDirs } from '@floe/store';
import { spawnFloe, tempDir, type FloeProcess } from '@floe/testing';

const BUDGET = 160;
const CHECKPOINT_EVERY = 40;

const spec = trainerV1.RunSpec.fromPartial({
  baseModel: {
    source: {
      $case: 'builtin',
      value: { architecture: commonV1.ModelArchitecture.MODEL_ARCHITECTURE_TRANSFORMER_LM, size: 'tiny', seed: 11 },
    },
  },
  dataset: { uri: 'builtin:spam-assassin' },
  strategy: trainerV1.Strategy.STRATEGY_FULL,
  optimizer: {
    kind: trainerV1.OptimizerKind.OPTIMIZER_KIND_ADAMW,
    learningRate: 2e-3,
    weightDecay: 0.01,
    gradClipNorm: 1,
  },
  schedule: { kind: trainerV1.ScheduleKind.SCHEDULE_KIND_COSINE, warmupSteps: 10 },
  batchSize: 4,
  sequenceLength: 32,
  budgetSteps: BUDGET,
  checkpointIntervalSteps: CHECKPOINT_EVERY,
  seed: 13,
});

interface Server extends FloeProcess {
  client: trainerV1.TrainerServiceClient;
}

async function startServer(home: string): Promise<Server> {
  const floe = await spawnFloe(home, { FLOE_MAX_CONCURRENT_RUNS: '2', FLOE_SERVICES: 'trainer' });
  return { ...floe, client: createClient(trainerV1.TrainerServiceClient, floe.address) };
}

/** Every stored step of a run (WatchRun replays them, then ends with the run since it is stopped). */
async function storedSteps(
  client: trainerV1.TrainerServiceClient,
  runId: string,
): Promise<{ steps: trainerV1.StepMetrics[]; run: trainerV1.Run }> {
  const events = await collect(client.watchRun({ runId, fromStep: 0 }));
  const steps = events.flatMap((e) => (e.event?.$case === 'step' ? [e.event.value] : []));
  const last = events.at(-1)!.event;
  assert.equal(last?.$case, 'run');
  return { steps, run: last.value as trainerV1.Run };
}

/** Watches a live run and calls `then` once it has passed `step`. */
async function whenPast(client: trainerV1.TrainerServiceClient, runId: string, step: number): Promise<number> {
  const stream = client.watchRun({ runId, fromStep: 0 });
  for await (const e of stream as AsyncIterable<trainerV1.WatchRunResponse>) {
    if (e.event?.$case === 'step' && e.event.value.step > step) {
      stream.cancel();
      return e.event.value.step;
    }
  }
  throw new Error(`run ${runId} stopped before step ${step}`);
}

function sameCurve(got: trainerV1.StepMetrics[], want: trainerV1.StepMetrics[]): void {
  assert.deepEqual(
    got.map((m) => m.step),
    want.map((m) => m.step),
    'every step once',
  );
  got.forEach((m, i) =>
    assert.ok(
      Math.abs(m.trainLoss - want[i]!.trainLoss) <= 1e-6,
      `step ${m.step}: ${m.trainLoss} vs ${want[i]!.trainLoss}`,
    ),
  );
}

test(
  'SIGKILL mid-run, restart: INTERRUPTED at the last checkpoint, nothing lost, resume reproduces the uninterrupted curve',
  { timeout: 300_000 },
  async () => {
    const home = tempDir();
    let server = await startServer(home.path);
    try {
      const reference = await call(server.client.startRun.bind(server.client), { requestId: 'reference', spec });
      const want = (await storedSteps(server.client, reference.run!.runId)).steps;
      assert.equal(want.length, BUDGET);

      const killed = (await call(server.client.startRun.bind(server.client), { requestId: 'killed', spec })).run!.runId;
      const paused = (await call(server.client.startRun.bind(server.client), { requestId: 'paused', spec })).run!.runId;
      // Kill between two checkpoints, so that some completed steps lie after the last checkpoint.
      await whenPast(server.client, killed, CHECKPOINT_EVERY + 5);
      server.child.kill('SIGKILL');
      await server.exited;
      server.client.close();

      server = await startServer(home.path);
      const before = await storedSteps(server.client, killed);
      assert.equal(before.run.state, commonV1.RunState.RUN_STATE_INTERRUPTED);
      assert.ok(
        before.run.checkpointStep >= CHECKPOINT_EVERY && before.run.checkpointStep % CHECKPOINT_EVERY === 0,
        `checkpoint at ${before.run.checkpointStep}`,
      );
      assert.ok(
        before.run.step > before.run.checkpointStep,
        `steps after the checkpoint were completed (${before.run.step} > ${before.run.checkpointStep})`,
      );
      assert.deepEqual(
        before.steps.map((m) => m.step),
        Array.from({ length: before.run.step }, (_, i) => i + 1),
        'metrics of every completed step are there',
      );
      sameCurve(before.steps, want.slice(0, before.steps.length));

      const resumed = await call(server.client.resumeRun.bind(server.client), {
        runId: killed,
        additionalSteps: 0,
        requestId: '',
      });
      assert.equal(resumed.run!.state, commonV1.RunState.RUN_STATE_QUEUED);
      const after = await storedSteps(server.client, killed);
      assert.equal(after.run.state, commonV1.RunState.RUN_STATE_PAUSED);
      sameCurve(after.steps, want);
      assert.equal(
        after.run.replayedSteps,
        before.run.step - before.run.checkpointStep,
        'the steps after the checkpoint were replayed',
      );
      assert.ok(
        after.run.replayMaxAbsDiff <= 1e-6,
        `replay reproduced the recorded losses (max |Δ| ${after.run.replayMaxAbsDiff})`,
      );

      // The second run was interrupted too; now pause it by a graceful shutdown instead.
      await call(server.client.resumeRun.bind(server.client), { runId: paused, additionalSteps: 0, requestId: '' });
      await whenPast(server.client, paused, 2 * CHECKPOINT_EVERY + 5);
      server.child.kill('SIGTERM');
      assert.equal(await server.exited, 0);
      server.client.close();

      server = await startServer(home.path);
      const stopped = await storedSteps(server.client, paused);
      assert.equal(stopped.run.state, commonV1.RunState.RUN_STATE_PAUSED, 'shutdown pauses with a checkpoint');
      assert.equal(stopped.run.checkpointStep, stopped.run.step);
      await call(server.client.resumeRun.bind(server.client), { runId: paused, additionalSteps: 0, requestId: '' });
      sameCurve((await storedSteps(server.client, paused)).steps, want);
    } finally {
      server.client.close();
      server.child.kill('SIGKILL');
      home.remove();
    }
  },
);

test(
  'a run that died after its last step but before that step was checkpointed resumes with no added steps and writes it',
  { timeout: 120_000 },
  async () => {
    const home = tempDir();
    let server = await startServer(home.path);
    try {
      const short = { ...spec, budgetSteps: 6, checkpointIntervalSteps: 0, schedule: undefined };
      const { run } = await call(server.client.startRun.bind(server.client), { requestId: 'short', spec: short });
      const runId = run!.runId;
      const want = (await storedSteps(server.client, runId)).steps;
      server.child.kill('SIGTERM');
      assert.equal(await server.exited, 0);
      server.client.close();
      // What a SIGKILL between the last step's metrics and its checkpoint leaves: every step stored, the run
      // INTERRUPTED, no checkpoint recorded (its artifact never written).
      const store = new SqliteMetadataStore(floeDirs(home.path).database('trainer'));
      const stored = trainerV1.Run.fromJSON(store.get('run', runId)!.body);
      const checkpoint = store.get<{ checkpoint: string }>('run-checkpoint', runId)!.body.checkpoint;
      store.delete('run-checkpoint', runId);
      store.update(
        'run',
        runId,
        'RUN_STATE_INTERRUPTED',
        trainerV1.Run.toJSON({ ...stored, state: commonV1.RunState.RUN_STATE_INTERRUPTED, checkpointStep: 0 }),
      );
      store.close();
      await new LocalArtifactStore(floeDirs(home.path).artifacts).delete(checkpoint);

      server = await startServer(home.path);
      const before = await storedSteps(server.client, runId);
      assert.deepEqual([before.run.state, before.run.step], [commonV1.RunState.RUN_STATE_INTERRUPTED, 6]);
      await call(server.client.resumeRun.bind(server.client), { runId, additionalSteps: 0, requestId: '' });
      const after = await storedSteps(server.client, runId);
      assert.equal(after.run.state, commonV1.RunState.RUN_STATE_PAUSED);
      assert.equal(after.run.checkpointStep, 6);
      assert.equal(after.run.replayedSteps, 6, 'replayed from the start, compared with the stored steps');
      sameCurve(after.steps, want);
      const held = await call(server.client.listCheckpoints.bind(server.client), { runId });
      assert.deepEqual(
        held.checkpoints.map((c) => c.step),
        [6],
      );
      // At its budget with its checkpoint, it needs steps to resume again.
      await assert.rejects(
        call(server.client.resumeRun.bind(server.client), { runId, additionalSteps: 0, requestId: '' }),
        /additional_steps/,
      );
    } finally {
      server.client.close();
      server.child.kill('SIGKILL');
      home.remove();
    }
  },
);
