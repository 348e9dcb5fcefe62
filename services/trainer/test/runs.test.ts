// Trainer runs through a real gRPC server: training in worker threads, durable state and metrics,
// WatchRun, freeze-thaw (a run paused at its budget resumes with more and follows the same curve).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { commonV1, trainerV1 } from '@floe/contracts';
import { call, collect } from '@floe/service-kit';
import { rejectsWith } from '@floe/testing';
import { tinyLmSpec, trainerUnderTest } from './trainer-fixture.js';

let client: trainerV1.TrainerServiceClient;
trainerUnderTest({ FLOE_MAX_CONCURRENT_RUNS: '2' }, (t) => (client = t.client));

const spec = tinyLmSpec;

/** Watches a run until it stops; returns the losses by step and the final run. */
async function watch(runId: string): Promise<{ losses: number[]; run: trainerV1.Run }> {
  const events = await collect(client.watchRun({ runId, fromStep: 0 }));
  const losses = events
    .filter((e) => e.event?.$case === 'step')
    .map((e) => (e.event as { value: trainerV1.StepMetrics }).value.trainLoss);
  const last = events.at(-1)!.event;
  assert.equal(last?.$case, 'run', 'the last message carries the run');
  return { losses, run: (last as { value: trainerV1.Run }).value };
}

test('a run trains in a worker, reaches its budget PAUSED, and keeps every step', { timeout: 120_000 }, async () => {
  const { run } = await call(client.startRun.bind(client), { requestId: 'run-a', spec: spec() });
  assert.equal(run!.state, commonV1.RunState.RUN_STATE_QUEUED);
  const again = await call(client.startRun.bind(client), { requestId: 'run-a', spec: spec() });
  assert.equal(again.run!.runId, run!.runId, 'idempotent on request_id');
  const watched = await watch(run!.runId);
  assert.equal(watched.run.state, commonV1.RunState.RUN_STATE_PAUSED);
  assert.equal(watched.losses.length, 6);
  const got = (await call(client.getRun.bind(client), { runId: run!.runId })).run!;
  assert.equal(got.step, 6);
  assert.equal(got.checkpointStep, 6);
  assert.ok(got.trainableParams > 0 && got.trainableParams === got.totalParams);
  // A second watch replays the stored steps.
  assert.deepEqual((await watch(run!.runId)).losses, watched.losses);
});

test('freeze-thaw: 3 steps, resume with 3 more = 6 uninterrupted steps (1e-6)', { timeout: 120_000 }, async () => {
  const full = await call(client.startRun.bind(client), { requestId: 'full-6', spec: spec() });
  const part = await call(client.startRun.bind(client), { requestId: 'part-3', spec: spec({ budgetSteps: 3 }) });
  const a = await watch(full.run!.runId);
  const b1 = await watch(part.run!.runId);
  assert.equal(b1.run.state, commonV1.RunState.RUN_STATE_PAUSED);
  await call(client.resumeRun.bind(client), { runId: part.run!.runId, additionalSteps: 3, requestId: '' });
  const b = await watch(part.run!.runId);
  assert.equal(b.losses.length, 6);
  b.losses.forEach((l, i) => assert.ok(Math.abs(l - a.losses[i]!) <= 1e-6, `step ${i + 1}: ${l} vs ${a.losses[i]}`));
});

test(
  'FREEZE and EXPAND train fewer parameters; bad requests are refused and change nothing',
  { timeout: 120_000 },
  async () => {
    const frozen = await call(client.startRun.bind(client), {
      requestId: '',
      spec: spec({
        strategy: trainerV1.Strategy.STRATEGY_FREEZE,
        freezeBlockIds: ['embedding', 'block.0'],
        budgetSteps: 2,
      }),
    });
    const expanded = await call(client.startRun.bind(client), {
      requestId: '',
      spec: spec({
        strategy: trainerV1.Strategy.STRATEGY_EXPAND,
        expansion: { afterBlockIds: ['block.1'], count: 0 },
        budgetSteps: 2,
      }),
    });
    const f = (await watch(frozen.run!.runId)).run;
    const withEval = await call(client.startRun.bind(client), {
      requestId: '',
      spec: spec({ budgetSteps: 4, evalIntervalSteps: 2 }),
    });
    const evEvents = await collect(client.watchRun({ runId: withEval.run!.runId, fromStep: 0 }));
    const vals = evEvents.flatMap((e) =>
      e.event?.$case === 'step' && e.event.value.validationLoss !== undefined
        ? [[e.event.value.step, e.event.value.validationLoss]]
        : [],
    );
    assert.deepEqual(
      vals.map(([s]) => s),
      [2, 4],
      'validation loss at steps 2 and 4',
    );
    assert.ok(vals.every(([, v]) => Number.isFinite(v) && v! > 0));
    const e = (await watch(expanded.run!.runId)).run;
    assert.ok(f.trainableParams < f.totalParams);
    assert.ok(e.trainableParams < e.totalParams / 2, 'only the new block trains');
    const listed = await call(client.listRuns.bind(client), {
      page: { pageSize: 100, pageToken: '' },
      states: [],
      labels: {},
    });
    const before = listed.runs.length;
    await rejectsWith(
      call(client.startRun.bind(client), {
        requestId: '',
        spec: spec({ strategy: trainerV1.Strategy.STRATEGY_FREEZE, freezeBlockIds: ['block.9'] }),
      }),
      grpc.status.INVALID_ARGUMENT,
      'spec.freeze_block_ids[0]',
    );
    // What the base model's blocks can tell is refused by StartRun, not left to fail inside the run.
    const refusedByBlocks: [Partial<trainerV1.RunSpec>, string, string][] = [
      [
        { strategy: trainerV1.Strategy.STRATEGY_FREEZE, freezeBlockIds: ['embedding', 'block.0', 'block.1', 'head'] },
        'spec.freeze_block_ids',
        'freezes every block',
      ],
      [
        { strategy: trainerV1.Strategy.STRATEGY_EXPAND, expansion: { afterBlockIds: ['block.0', 'head'], count: 0 } },
        'spec.expansion.after_block_ids[1]',
        'block "head" is not a residual block',
      ],
      [
        { strategy: trainerV1.Strategy.STRATEGY_EXPAND, expansion: { afterBlockIds: [], count: 3 } },
        'spec.expansion.count',
        '3 copies',
      ],
      [
        {
          strategy: trainerV1.Strategy.STRATEGY_ADE,
          plan: commonV1.AdaptationPlan.fromPartial({
            tuneBlockIds: ['head'],
            expansions: [{ afterBlockId: 'embedding' }],
          }),
        },
        'spec.plan.expansions[0].after_block_id',
        'block "embedding" is not a residual block',
      ],
      [
        {
          strategy: trainerV1.Strategy.STRATEGY_ADE,
          plan: commonV1.AdaptationPlan.fromPartial({ freezeBlockIds: ['block.0'] }),
        },
        'spec.plan',
        'tunes no block and adds no copy',
      ],
    ];
    for (const [over, field, message] of refusedByBlocks) {
      const refused = await rejectsWith(
        call(client.startRun.bind(client), { requestId: '', spec: spec(over) }),
        grpc.status.INVALID_ARGUMENT,
        field,
      );
      assert.ok(refused.details.includes(message), refused.details);
    }
    await rejectsWith(
      call(client.startRun.bind(client), { requestId: '', spec: spec({ budgetSteps: -1 }) }),
      grpc.status.INVALID_ARGUMENT,
      'spec.budget_steps',
    );
    await rejectsWith(
      call(client.startRun.bind(client), {
        requestId: '',
        spec: spec({ dataset: { uri: 'builtin:nope', split: 0, maxExamples: 0, targetColumn: '', ignoreColumns: [] } }),
      }),
      grpc.status.NOT_FOUND,
    );
    await rejectsWith(
      call(client.startRun.bind(client), {
        requestId: '',
        spec: spec({ schedule: { kind: 3, warmupSteps: 0, warmupRatio: 0, minLrRatio: 0, horizonSteps: -1 } }),
      }),
      grpc.status.INVALID_ARGUMENT,
      'spec.schedule.horizon_steps',
    );
    await rejectsWith(
      call(client.startRun.bind(client), {
        requestId: '',
        spec: spec({
          evalIntervalSteps: 1,
          referenceValidationDataset: {
            uri: 'builtin:nope',
            split: 0,
            maxExamples: 0,
            targetColumn: '',
            ignoreColumns: [],
          },
        }),
      }),
      grpc.status.NOT_FOUND,
    );
    await call(client.cancelRun.bind(client), trainerV1.CancelRunRequest.fromPartial({ runId: f.runId }));
    await rejectsWith(
      call(client.resumeRun.bind(client), { runId: f.runId, additionalSteps: 2, requestId: '' }),
      grpc.status.FAILED_PRECONDITION,
    );
    assert.equal(
      (await call(client.listRuns.bind(client), { page: { pageSize: 100, pageToken: '' }, states: [], labels: {} }))
        .runs.length,
      before,
    );
    const exported = await call(client.exportModel.bind(client), {
      runId: e.runId,
      step: 0,
      format: 0,
      best: false,
      transient: false,
    });
    assert.equal(exported.model!.source?.$case, 'artifactId');
  },
);

test(
  "EXPAND preserves the function: its validation loss before step 1 equals the base model's",
  { timeout: 120_000 },
  async () => {
    const base = await call(client.startRun.bind(client), {
      requestId: '',
      spec: spec({ budgetSteps: 1, evalIntervalSteps: 1 }),
    });
    const evenly = await call(client.startRun.bind(client), {
      requestId: '',
      spec: spec({
        strategy: trainerV1.Strategy.STRATEGY_EXPAND,
        expansion: { afterBlockIds: [], count: 2 },
        budgetSteps: 1,
        evalIntervalSteps: 1,
      }),
    });
    const b = (await watch(base.run!.runId)).run;
    const e = (await watch(evenly.run!.runId)).run;
    assert.ok(b.initialValidationLoss !== undefined && e.initialValidationLoss !== undefined);
    assert.ok(
      Math.abs(b.initialValidationLoss - e.initialValidationLoss) <= 1e-6,
      `${b.initialValidationLoss} vs ${e.initialValidationLoss}`,
    );
    assert.ok(e.totalParams > b.totalParams, 'two blocks were added');
  },
);

test(
  "a run continues from another run's checkpoint: its starting loss is where the first run ended",
  { timeout: 120_000 },
  async () => {
    const first = await call(client.startRun.bind(client), {
      requestId: '',
      spec: spec({
        budgetSteps: 4,
        evalIntervalSteps: 4,
        strategy: trainerV1.Strategy.STRATEGY_EXPAND,
        expansion: { afterBlockIds: ['block.0'], count: 0 },
      }),
    });
    const events = await collect(client.watchRun({ runId: first.run!.runId, fromStep: 0 }));
    const last = events.flatMap((e) => (e.event?.$case === 'step' ? [e.event.value] : [])).at(-1)!;
    assert.equal(last.step, 4);
    // The checkpoint carries the expansion: block.0.exp1 is a block of the new base and can be frozen.
    const second = await call(client.startRun.bind(client), {
      requestId: '',
      spec: spec({
        baseModel: { source: { $case: 'run', value: { runId: first.run!.runId, step: 0, best: false } } },
        strategy: trainerV1.Strategy.STRATEGY_FREEZE,
        freezeBlockIds: ['block.0.exp1'],
        budgetSteps: 1,
        evalIntervalSteps: 1,
      }),
    });
    const s = (await watch(second.run!.runId)).run;
    assert.ok(s.baseArtifactId, 'the resolved checkpoint is recorded');
    assert.ok(
      Math.abs(s.initialValidationLoss! - last.validationLoss!) <= 1e-6,
      `${s.initialValidationLoss} vs ${last.validationLoss}`,
    );
    const byArtifact = await call(client.startRun.bind(client), {
      requestId: '',
      spec: spec({ baseModel: { source: { $case: 'artifactId', value: s.baseArtifactId } }, budgetSteps: 1 }),
    });
    assert.equal((await watch(byArtifact.run!.runId)).run.state, commonV1.RunState.RUN_STATE_PAUSED);
    await rejectsWith(
      call(client.startRun.bind(client), {
        requestId: '',
        spec: spec({ baseModel: { source: { $case: 'artifactId', value: 'art-missing' } } }),
      }),
      grpc.status.NOT_FOUND,
    );
    await rejectsWith(
      call(client.startRun.bind(client), {
        requestId: '',
        spec: spec({
          baseModel: { source: { $case: 'run', value: { runId: first.run!.runId, step: 3, best: false } } },
        }),
      }),
      grpc.status.NOT_FOUND,
    );
    // ExportModel resolves a step the same way: any step with a checkpoint, else NOT_FOUND.
    const atTwo = await call(client.exportModel.bind(client), {
      runId: first.run!.runId,
      step: 2,
      format: 0,
      best: false,
      transient: false,
    });
    assert.equal(atTwo.artifact!.labels.step, '2');
    await rejectsWith(
      call(client.exportModel.bind(client), {
        runId: first.run!.runId,
        step: 3,
        format: 0,
        best: false,
        transient: false,
      }),
      grpc.status.NOT_FOUND,
    );
    await rejectsWith(
      call(client.startRun.bind(client), {
        requestId: '',
        spec: spec({
          baseModel: { source: { $case: 'run', value: { runId: first.run!.runId, step: 0, best: false } } },
          strategy: trainerV1.Strategy.STRATEGY_FREEZE,
          freezeBlockIds: ['block.7'],
        }),
      }),
      grpc.status.INVALID_ARGUMENT,
      'spec.freeze_block_ids[0]',
    );
  },
);

test(
  'a run whose loss turns NaN stops FAILED at that step; its steps and last checkpoint before it stay',
  { timeout: 120_000 },
  async () => {
    // SGD at the largest learning rate the contract allows blows the tiny transformer's logits up to
    // Infinity within a few steps.
    const diverging = spec({
      optimizer: trainerV1.OptimizerConfig.fromPartial({
        kind: trainerV1.OptimizerKind.OPTIMIZER_KIND_SGD,
        learningRate: 10,
      }),
      budgetSteps: 40,
      evalIntervalSteps: 1,
    });
    const { run } = await call(client.startRun.bind(client), { requestId: 'diverge', spec: diverging });
    const watched = await watch(run!.runId);
    assert.equal(watched.run.state, commonV1.RunState.RUN_STATE_FAILED);
    const m = /^diverged: the (training|validation) loss is (NaN|-?Infinity) at step (\d+)$/.exec(watched.run.error);
    assert.ok(m, `the error says where it diverged: ${watched.run.error}`);
    const at = Number(m[3]);
    assert.ok(at > 1 && at < 40, `diverged at step ${at}`);
    // Every step before the divergence was recorded, none at or after it, and all of them are finite.
    assert.equal(watched.losses.length, at - 1);
    assert.ok(watched.losses.every(Number.isFinite));
    assert.equal(watched.run.step, at - 1);
    // The last checkpoint is from before the divergence, and every checkpoint stays listed. A new run starts from
    // the best one (the lowest validation loss — what a user continues from: the last one before a divergence
    // may already hold weights that any step blows up) and trains.
    const checkpointStep = watched.run.checkpointStep;
    assert.ok(checkpointStep > 0 && checkpointStep < at && checkpointStep % 2 === 0, `checkpoint at ${checkpointStep}`);
    const listed = await call(client.listCheckpoints.bind(client), { runId: run!.runId });
    assert.equal(listed.checkpoints.at(-1)!.step, checkpointStep);
    assert.ok(listed.bestStep > 0 && listed.bestStep <= checkpointStep, `best checkpoint at ${listed.bestStep}`);
    const again = await call(client.startRun.bind(client), {
      requestId: 'from-before-divergence',
      spec: spec({
        baseModel: { source: { $case: 'run', value: { runId: run!.runId, step: 0, best: true } } },
        optimizer: trainerV1.OptimizerConfig.fromPartial({
          kind: trainerV1.OptimizerKind.OPTIMIZER_KIND_SGD,
          learningRate: 1e-3,
        }),
        budgetSteps: 2,
      }),
    });
    const continued = await watch(again.run!.runId);
    assert.equal(continued.run.state, commonV1.RunState.RUN_STATE_PAUSED, continued.run.error);
    assert.equal(continued.losses.length, 2);
    assert.ok(continued.losses.every(Number.isFinite));
  },
);
