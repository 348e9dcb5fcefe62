// The sparse and selective strategies through a real trainer: FREEZENET with a freeze-thaw resume on the
// same curve and a SPARSE export that rebuilds the model, BCD recording the block of each step, and the
// bad inputs each strategy can get.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import * as tf from '@tensorflow/tfjs-core';
import { commonV1, trainerV1 } from '@floe/contracts';
import { call, collect } from '@floe/service-kit';
import { rejectsWith } from '@floe/testing';
import { initBackend } from '@floe/ml-runtime';
import { loadBuiltin, selectSplit, type ImageDataset } from '@floe/data';
import { floeDirs, LocalArtifactStore } from '@floe/store';
import { ExampleSource, loadModelArtifact } from '@floe/training';
import { trainerUnderTest } from './trainer-fixture.js';

let client: trainerV1.TrainerServiceClient;
const trainer = trainerUnderTest({ FLOE_MAX_CONCURRENT_RUNS: '2' }, (t) => (client = t.client));

const T = trainerV1.Strategy;
const lenet = (over: trainerV1.DeepPartial<trainerV1.RunSpec> = {}): trainerV1.RunSpec =>
  trainerV1.RunSpec.fromPartial({
    baseModel: {
      source: {
        $case: 'builtin',
        value: { architecture: commonV1.ModelArchitecture.MODEL_ARCHITECTURE_LENET5, size: 'small', seed: 8 },
      },
    },
    dataset: { uri: 'builtin:mnist', maxExamples: 600 },
    strategy: T.STRATEGY_FREEZENET,
    sparse: { freezingRate: 0.9 },
    optimizer: { learningRate: 2e-3, weightDecay: 0.01 },
    schedule: { kind: trainerV1.ScheduleKind.SCHEDULE_KIND_CONSTANT },
    batchSize: 16,
    budgetSteps: 6,
    seed: 2,
    ...over,
  });

async function untilStopped(
  runId: string,
): Promise<{ losses: number[]; steps: trainerV1.StepMetrics[]; run: trainerV1.Run }> {
  const events = await collect(client.watchRun({ runId, fromStep: 0 }));
  const steps = events.flatMap((e) => (e.event?.$case === 'step' ? [e.event.value] : []));
  const last = events.at(-1)!.event as { $case: 'run'; value: trainerV1.Run };
  return { losses: steps.map((s) => s.trainLoss), steps, run: last.value };
}

test(
  'FREEZENET trains the unfrozen tenth, resumes on the same curve, and exports as seed + indices + values',
  { timeout: 240_000 },
  async () => {
    const whole = await call(client.startRun.bind(client), { requestId: 'fz-whole', spec: lenet() });
    const split = await call(client.startRun.bind(client), { requestId: 'fz-split', spec: lenet({ budgetSteps: 3 }) });
    const a = await untilStopped(whole.run!.runId);
    const first = await untilStopped(split.run!.runId);
    assert.equal(first.run.state, commonV1.RunState.RUN_STATE_PAUSED);
    await call(client.resumeRun.bind(client), { runId: split.run!.runId, additionalSteps: 3, requestId: 'fz-more' });
    const b = await untilStopped(split.run!.runId);
    assert.deepEqual(b.losses, a.losses, 'freeze-thaw gives the uninterrupted curve');
    assert.equal(a.losses.length, 6);
    // Recorded on the run: trainable entries are a tenth of the weights (plus biases), not the whole model.
    assert.ok(a.run.trainableParams < 0.15 * a.run.totalParams, `${a.run.trainableParams} of ${a.run.totalParams}`);
    assert.equal(a.run.spec!.sparse!.freezingRate, 0.9);

    const sparse = await call(client.exportModel.bind(client), {
      runId: a.run.runId,
      step: 0,
      format: 0,
      best: false,
      transient: false,
    });
    assert.equal(sparse.format, trainerV1.ExportFormat.EXPORT_FORMAT_SPARSE);
    assert.equal(sparse.artifact!.kind, 'sparse-model');
    assert.ok(sparse.compression > 7 && sparse.compression < 11, `compression ${sparse.compression}`);
    assert.equal(sparse.totalParams, a.run.totalParams);
    const again = await call(client.exportModel.bind(client), {
      runId: a.run.runId,
      step: 0,
      format: 0,
      best: false,
      transient: false,
    });
    assert.equal(again.artifact!.artifactId, sparse.artifact!.artifactId, 'one sparse artifact per checkpoint');
    const dense = await call(client.exportModel.bind(client), {
      runId: a.run.runId,
      step: 0,
      format: trainerV1.ExportFormat.EXPORT_FORMAT_CHECKPOINT,
      best: false,
      transient: false,
    });
    assert.equal(dense.compression, 1);
    assert.ok(dense.artifact!.sizeBytes > 5 * sparse.artifact!.sizeBytes);

    // Both load through the same path every service uses, and compute the same outputs.
    await initBackend('wasm');
    const store = new LocalArtifactStore(floeDirs(trainer.home.path).artifacts);
    const fromSparse = await loadModelArtifact(store, sparse.artifact!.artifactId);
    const fromCheckpoint = await loadModelArtifact(store, dense.artifact!.artifactId);
    const x = new ExampleSource(selectSplit(loadBuiltin('mnist') as ImageDataset, 'test', 32), 8, 1).next().x;
    assert.ok(tf.util.arraysEqual(fromSparse.forward(x).dataSync(), fromCheckpoint.forward(x).dataSync()));

    // A run on top of the sparse artifact trains (the trainer reads it as a base model too).
    const onTop = await call(client.startRun.bind(client), {
      requestId: 'fz-on-top',
      spec: lenet({
        baseModel: { source: { $case: 'artifactId', value: sparse.artifact!.artifactId } },
        strategy: T.STRATEGY_FULL,
        sparse: undefined,
        budgetSteps: 1,
      }),
    });
    assert.equal((await untilStopped(onTop.run!.runId)).run.state, commonV1.RunState.RUN_STATE_PAUSED);
    // A FULL run has no masks: SPARSE is refused, and the default is the checkpoint.
    await rejectsWith(
      call(client.exportModel.bind(client), {
        runId: onTop.run!.runId,
        step: 0,
        format: trainerV1.ExportFormat.EXPORT_FORMAT_SPARSE,
        best: false,
        transient: false,
      }),
      grpc.status.FAILED_PRECONDITION,
    );
  },
);

test('BCD updates one block a step and records which; PRUNE_AT_INIT and RIGL run', { timeout: 240_000 }, async () => {
  const bcd = await call(client.startRun.bind(client), {
    requestId: 'bcd-gsl',
    spec: lenet({
      strategy: T.STRATEGY_BCD,
      sparse: undefined,
      bcd: { rule: trainerV1.BcdRule.BCD_RULE_GSL, refreshIntervalSteps: 2 },
    }),
  });
  const { steps, run } = await untilStopped(bcd.run!.runId);
  assert.equal(run.state, commonV1.RunState.RUN_STATE_PAUSED);
  for (const s of steps) assert.equal(s.updatedBlockIds.length, 1, `step ${s.step}`);
  for (const method of [trainerV1.MaskMethod.MASK_METHOD_GRASP, trainerV1.MaskMethod.MASK_METHOD_SYNFLOW]) {
    for (const strategy of [T.STRATEGY_PRUNE_AT_INIT, T.STRATEGY_RIGL]) {
      const r = await call(client.startRun.bind(client), {
        requestId: `sparse-${method}-${strategy}`,
        spec: lenet({
          strategy,
          sparse: { sparsity: 0.8, method, rigl: { updateIntervalSteps: 2, endFraction: 1, dropFraction: 0.3 } },
          budgetSteps: 4,
        }),
      });
      const done = await untilStopped(r.run!.runId);
      assert.equal(done.run.state, commonV1.RunState.RUN_STATE_PAUSED, done.run.error);
      assert.ok(done.run.trainableParams < 0.3 * done.run.totalParams);
    }
  }
});

test('bad sparse and BCD settings are INVALID_ARGUMENT naming the field; nothing is started', async () => {
  const start = (spec: trainerV1.RunSpec) => call(client.startRun.bind(client), { requestId: '', spec });
  const before = (await call(client.listRuns.bind(client), { states: [], labels: {} })).runs.length;
  await rejectsWith(
    start(lenet({ sparse: { freezingRate: 1 } })),
    grpc.status.INVALID_ARGUMENT,
    'spec.sparse.freezing_rate',
  );
  await rejectsWith(
    start(lenet({ sparse: { freezingRate: -0.1 } })),
    grpc.status.INVALID_ARGUMENT,
    'spec.sparse.freezing_rate',
  );
  await rejectsWith(start(lenet({ sparse: undefined })), grpc.status.INVALID_ARGUMENT, 'spec.sparse.freezing_rate');
  await rejectsWith(
    start(lenet({ strategy: T.STRATEGY_PRUNE_AT_INIT, sparse: { sparsity: 0.5, method: 42 as trainerV1.MaskMethod } })),
    grpc.status.INVALID_ARGUMENT,
    'spec.sparse.method',
  );
  await rejectsWith(
    start(lenet({ strategy: T.STRATEGY_RIGL, sparse: undefined })),
    grpc.status.INVALID_ARGUMENT,
    'spec.sparse.sparsity',
  );
  await rejectsWith(
    start(lenet({ strategy: T.STRATEGY_BCD, sparse: undefined })),
    grpc.status.INVALID_ARGUMENT,
    'spec.bcd.rule',
  );
  await rejectsWith(
    start(lenet({ strategy: T.STRATEGY_BCD, sparse: undefined, bcd: { rule: 77 as trainerV1.BcdRule } })),
    grpc.status.INVALID_ARGUMENT,
    'spec.bcd.rule',
  );
  // A model whose blocks, but one, are frozen leaves BCD one block to choose from.
  await rejectsWith(
    start(
      lenet({
        baseModel: {
          source: {
            $case: 'builtin',
            value: { architecture: commonV1.ModelArchitecture.MODEL_ARCHITECTURE_MLP, size: 'tiny', seed: 1 },
          },
        },
        dataset: { uri: 'builtin:iris', split: 0, maxExamples: 0 },
        strategy: T.STRATEGY_BCD,
        sparse: undefined,
        freezeBlockIds: ['head'],
        bcd: { rule: trainerV1.BcdRule.BCD_RULE_GS },
      }),
    ),
    grpc.status.INVALID_ARGUMENT,
    'spec.strategy',
  );
  assert.equal((await call(client.listRuns.bind(client), { states: [], labels: {} })).runs.length, before);
});
