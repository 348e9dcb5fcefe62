// CompareModels on two models with a known difference: a fresh byte LM, and the same model trained on
// e-mails by the trainer. The trained stage gains on e-mails by many paired standard errors; pairing
// (the same examples under both models) gives a smaller error than independent errors would; and FWT is
// exactly 0, since the base is its own fresh initialisation.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { commonV1, evaluatorV1 as ev, trainerV1 } from '@floe/contracts';
import { call, collect, composeServices, createClient, type FloeServer } from '@floe/service-kit';
import { quietLog, startTestServer, tempDir, testConfig } from '@floe/testing';
import { SERVICES } from '../src/services.js';

const home = tempDir();
let server: FloeServer;

before(async () => {
  const config = testConfig(home.path, { FLOE_SERVICES: 'trainer,evaluator' });
  server = await startTestServer(composeServices(SERVICES, { config, log: quietLog }), config);
});

after(async () => {
  await server.shutdown();
  home.remove();
});

const base: commonV1.ModelRef = {
  source: {
    $case: 'builtin',
    value: { architecture: commonV1.ModelArchitecture.MODEL_ARCHITECTURE_TRANSFORMER_LM, size: 'tiny', seed: 4 },
  },
};
const suite = (name: string, uri: string): ev.Suite =>
  ev.Suite.fromPartial({
    name,
    taskKind: ev.TaskKind.TASK_KIND_LANGUAGE_MODEL,
    dataset: { uri, split: commonV1.DatasetSplit.DATASET_SPLIT_TEST },
    sampleCount: 64,
    sequenceLength: 64,
  });

test(
  'a trained stage against its fresh base: a gain of many paired errors, and FWT exactly 0',
  { timeout: 180_000 },
  async () => {
    const trainer = createClient(trainerV1.TrainerServiceClient, server.address);
    const evaluator = createClient(ev.EvaluatorServiceClient, server.address);
    const { run } = await call(trainer.startRun.bind(trainer), {
      requestId: '',
      spec: trainerV1.RunSpec.fromPartial({
        baseModel: base,
        dataset: { uri: 'builtin:spam-assassin' },
        strategy: trainerV1.Strategy.STRATEGY_FULL,
        optimizer: { learningRate: 3e-3 },
        batchSize: 8,
        sequenceLength: 64,
        budgetSteps: 60,
        seed: 4,
      }),
    });
    await collect(trainer.watchRun({ runId: run!.runId, fromStep: 0 }));
    const events = await collect(
      evaluator.compareModels(
        ev.CompareModelsRequest.fromPartial({
          stages: [base, { source: { $case: 'run', value: { runId: run!.runId, step: 0 } } }],
          inlineSuites: [suite('mail', 'builtin:spam-assassin'), suite('code', 'builtin:typescript-lib')],
          bootstrapSamples: 400,
          seed: 9,
          stageLabels: ['fresh', 'trained on mail'],
        }),
      ),
    );
    const r = events.at(-1)!.event!.value as ev.ForgettingReport;
    const at = (m: commonV1.Matrix | undefined, i: number, j: number) => m!.values[i * m!.cols + j]!;
    assert.deepEqual(r.rMatrix!.rowLabels, ['fresh', 'trained on mail']);
    const gain = at(r.gains, 1, 0);
    const pairedSe = at(r.gainsStderr, 1, 0);
    const independentSe = Math.hypot(at(r.rStderr, 0, 0), at(r.rStderr, 1, 0));
    assert.ok(gain > 1, `the trained model gains ${gain} bits per byte on mail`);
    assert.ok(gain > 10 * pairedSe, `gain ${gain} vs paired error ${pairedSe}`);
    assert.ok(pairedSe < independentSe, `paired ${pairedSe} < independent ${independentSe}`);
    assert.equal(r.sequenceMetricsApply, true);
    assert.equal(r.fwt, 0, 'FWT: the base on suite 2 minus its own fresh initialisation on suite 2');
    assert.equal(at(r.gains, 0, 0), 0);
    for (const c of [trainer, evaluator]) c.close();
  },
);
