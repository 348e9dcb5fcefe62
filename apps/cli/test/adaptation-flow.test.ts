// The adaptation flow across services in one process, as `floe up` hosts them: the trainer trains a byte
// LM on e-mails; the data-profiler scores that run's model (fetched through the trainer's client) and
// plans: code gets a plan that expands, held-out e-mails one that does not.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { commonV1, dataProfilerV1 as dp, trainerV1 } from '@floe/contracts';
import { call, collect, createClient, type FloeServer } from '@floe/service-kit';
import { quietLog, rejectsWith, startTestServer, tempDir, testConfig } from '@floe/testing';
import { createTrainerService } from '@floe/trainer';
import { createDataProfilerService } from '@floe/data-profiler';

const home = tempDir();
let server: FloeServer;
let profiler: dp.DataProfilerServiceClient;
let trainer: trainerV1.TrainerServiceClient;

before(async () => {
  const config = testConfig(home.path);
  server = await startTestServer(
    [createTrainerService({ config, log: quietLog }), createDataProfilerService({ config, log: quietLog })],
    config,
  );
  profiler = createClient(dp.DataProfilerServiceClient, server.address);
  trainer = createClient(trainerV1.TrainerServiceClient, server.address);
});

after(async () => {
  profiler.close();
  trainer.close();
  await server.shutdown();
  home.remove();
});

const ref = (uri: string, split = commonV1.DatasetSplit.DATASET_SPLIT_UNSPECIFIED): commonV1.DatasetRef => ({
  uri,
  split,
  maxExamples: 0,
  targetColumn: '',
  ignoreColumns: [],
});

test(
  'a language model trained on e-mails: code gets a plan that expands, held-out e-mails one that does not',
  { timeout: 300_000 },
  async () => {
    const spec = trainerV1.RunSpec.fromPartial({
      baseModel: {
        source: {
          $case: 'builtin',
          value: { architecture: commonV1.ModelArchitecture.MODEL_ARCHITECTURE_TRANSFORMER_LM, size: 'tiny', seed: 1 },
        },
      },
      dataset: { uri: 'builtin:spam-assassin' },
      strategy: trainerV1.Strategy.STRATEGY_FULL,
      optimizer: { kind: trainerV1.OptimizerKind.OPTIMIZER_KIND_ADAMW, learningRate: 3e-3 },
      batchSize: 8,
      sequenceLength: 64,
      budgetSteps: 150,
      seed: 1,
    });
    const { run } = await call(trainer.startRun.bind(trainer), { requestId: '', spec });
    const watched = await collect(trainer.watchRun({ runId: run!.runId, fromStep: 0 }));
    assert.equal((watched.at(-1)!.event!.value as trainerV1.Run).state, commonV1.RunState.RUN_STATE_PAUSED);
    const model: commonV1.ModelRef = { source: { $case: 'run', value: { runId: run!.runId, step: 0, best: false } } };
    const missing: commonV1.ModelRef = {
      source: { $case: 'run', value: { runId: 'run-missing', step: 0, best: false } },
    };
    await rejectsWith(
      collect(
        profiler.scoreBlocks({
          model: missing,
          dataset: ref('builtin:spam-assassin'),
          reference: undefined,
          calibrationBatches: 1,
          batchSize: 2,
          sequenceLength: 16,
          seed: 1,
        }),
      ),
      grpc.status.NOT_FOUND,
    );

    const scores = (
      await collect(
        profiler.scoreBlocks({
          model,
          dataset: ref('builtin:typescript-lib'),
          reference: ref('builtin:spam-assassin'),
          calibrationBatches: 4,
          batchSize: 4,
          sequenceLength: 64,
          seed: 1,
        }),
      )
    ).at(-1)!.event!.value as dp.BlockScores;
    assert.ok(
      scores.referenceLoss! < scores.loss,
      `the model knows e-mails (${scores.referenceLoss} bits/byte) better than code (${scores.loss})`,
    );
    assert.ok(
      scores.blocks
        .filter((b) => b.blockId.startsWith('block.'))
        .every((b) => b.angularDistanceAll > 0 && b.angularDistanceAll < 1),
    );

    const plan = async (dataset: commonV1.DatasetRef) => {
      const events = await collect(
        profiler.planAdaptation(
          dp.PlanAdaptationRequest.fromPartial({
            model,
            dataset,
            reference: ref('builtin:spam-assassin'),
            maxExpansions: 0,
            seed: 7,
          }),
        ),
      );
      assert.ok(events.some((e) => e.event?.$case === 'progress'));
      return events.at(-1)!.event!.value as dp.AdaptationPlanResult;
    };
    const code = await plan(ref('builtin:typescript-lib'));
    assert.ok(code.drift!.overallPsi > 0.25, `code PSI ${code.drift!.overallPsi}`);
    assert.ok(code.plan!.expansions.length >= 1);
    assert.ok(code.plan!.replayFraction > 0 && code.plan!.replayDataset?.uri === 'builtin:spam-assassin');
    assert.equal(code.plan!.decisions.length, scores.blocks.length, 'one decision per block');
    assert.ok(code.plan!.decisions.every((d) => d.reason.length > 0));
    assert.deepEqual(await plan(ref('builtin:typescript-lib')), code, 'deterministic for a seed');

    const heldOut = await plan(ref('builtin:spam-assassin', commonV1.DatasetSplit.DATASET_SPLIT_TEST));
    assert.ok(heldOut.drift!.overallPsi < 0.1, `held-out PSI ${heldOut.drift!.overallPsi}`);
    assert.equal(heldOut.plan!.expansions.length, 0);
  },
);

test(
  'ADE without a plan: the trainer asks the data-profiler and trains by the whole plan',
  { timeout: 300_000 },
  async () => {
    const base = trainerV1.RunSpec.fromPartial({
      baseModel: {
        source: {
          $case: 'builtin',
          value: { architecture: commonV1.ModelArchitecture.MODEL_ARCHITECTURE_TRANSFORMER_LM, size: 'tiny', seed: 2 },
        },
      },
      dataset: { uri: 'builtin:spam-assassin' },
      strategy: trainerV1.Strategy.STRATEGY_FULL,
      batchSize: 8,
      sequenceLength: 64,
      budgetSteps: 40,
      seed: 2,
    });
    const pre = await call(trainer.startRun.bind(trainer), { requestId: '', spec: base });
    const preRun = (await collect(trainer.watchRun({ runId: pre.run!.runId, fromStep: 0 }))).at(-1)!.event!
      .value as trainerV1.Run;
    const ade = trainerV1.RunSpec.fromPartial({
      ...base,
      baseModel: { source: { $case: 'run', value: { runId: pre.run!.runId, step: 0 } } },
      dataset: { uri: 'builtin:typescript-lib' },
      strategy: trainerV1.Strategy.STRATEGY_ADE,
      mixture: { replayDataset: { uri: 'builtin:spam-assassin' }, replayFraction: 0 },
      budgetSteps: 5,
    });
    const startedAt = Date.now();
    const { run } = await call(trainer.startRun.bind(trainer), { requestId: '', spec: ade });
    // StartRun answers at once, QUEUED: the planning happens inside the run.
    assert.equal(run!.state, commonV1.RunState.RUN_STATE_QUEUED);
    assert.equal(run!.spec!.plan, undefined);
    assert.ok(Date.now() - startedAt < 2000, `StartRun took ${Date.now() - startedAt} ms`);
    const events = await collect(trainer.watchRun({ runId: run!.runId, fromStep: 0 }));
    const done = events.at(-1)!.event!.value as trainerV1.Run;
    const plan = done.spec!.plan!;
    assert.ok(plan.expansions.length >= 1, 'code against e-mails: the plan expands');
    assert.equal(done.spec!.mixture!.replayFraction, plan.replayFraction, "the plan's replay fraction applies");
    assert.equal(done.spec!.optimizer!.learningRate, plan.learningRate, 'and its learning rate');
    const changed = Object.fromEntries(done.planChanges.map((c) => [c.field, c]));
    assert.equal(
      Number(changed['mixture.replay_fraction']?.after),
      plan.replayFraction,
      'the run records what the plan changed',
    );
    assert.equal(changed['mixture.replay_fraction']?.before, '0');
    assert.equal(done.spec!.budgetSteps, 5, "the plan's budget is a suggestion unless plan_policy.use_plan_budget");
    assert.equal(done.state, commonV1.RunState.RUN_STATE_PAUSED);
    assert.ok(done.totalParams > preRun.totalParams, "the plan's expansions were inserted");
    const frozen = plan.freezeBlockIds.length > 0;
    assert.equal(done.trainableParams < done.totalParams, frozen, 'frozen blocks, if the plan has any, do not train');
    await rejectsWith(
      call(trainer.startRun.bind(trainer), { requestId: '', spec: { ...ade, mixture: undefined } }),
      grpc.status.INVALID_ARGUMENT,
      'spec.mixture.replay_dataset',
    );
  },
);
