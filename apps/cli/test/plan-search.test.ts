// PlanAdaptation in SEARCH mode across the three services in one process, as `floe up` hosts them: the
// data-profiler makes the rules' plan and its variants, the hpo-surrogate's freeze-thaw search decides
// which pilots the trainer trains and thaws, and the best new-domain loss within the forgetting budget
// wins. Checked: the rules' plan is always piloted; the pilots stay within the stated budget; every
// point's objective is its new-domain loss plus the penalty past the budget; a pilot follows the run's
// schedule compressed to the longest pilot and is the exact prefix of that compressed run; asking again
// resumes the same search without training anything; a pilot winner other than the rules' plan replaces it
// only after winning again on longer confirmation runs; bad input names its field.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { commonV1, dataProfilerV1 as dp, trainerV1 } from '@floe/contracts';
import { call, collect, createClient, type FloeServer } from '@floe/service-kit';
import { quietLog, rejectsWith, startTestServer, tempDir, testConfig } from '@floe/testing';
import { createTrainerService } from '@floe/trainer';
import { createDataProfilerService } from '@floe/data-profiler';
import { createHpoSurrogateService } from '@floe/hpo-surrogate';
import { floeAt } from './fixtures/floe.js';

const home = tempDir();
let server: FloeServer;
let profiler: dp.DataProfilerServiceClient;
let trainer: trainerV1.TrainerServiceClient;

before(async () => {
  const config = testConfig(home.path);
  server = await startTestServer(
    [
      createTrainerService({ config, log: quietLog }),
      createDataProfilerService({ config, log: quietLog }),
      createHpoSurrogateService({ config, log: quietLog }),
    ],
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

const ref = (uri: string): commonV1.DatasetRef => ({
  uri,
  split: commonV1.DatasetSplit.DATASET_SPLIT_UNSPECIFIED,
  maxExamples: 0,
  targetColumn: '',
  ignoreColumns: [],
});
const RUN_BUDGET = 40;
const BUDGET_BITS = 0.05;
const common = {
  optimizer: { kind: trainerV1.OptimizerKind.OPTIMIZER_KIND_ADAMW, learningRate: 3e-3, gradClipNorm: 1 },
  schedule: { kind: trainerV1.ScheduleKind.SCHEDULE_KIND_COSINE, warmupSteps: 4, minLrRatio: 0.1 },
  batchSize: 8,
  sequenceLength: 64,
  seed: 1,
};

const runsNow = async () =>
  (await call(trainer.listRuns.bind(trainer), trainerV1.ListRunsRequest.fromPartial({}))).runs;

test(
  'SEARCH pilots the rules plan and its variants with freeze-thaw and picks within the forgetting budget',
  { timeout: 600_000 },
  async () => {
    const base = (
      await call(trainer.startRun.bind(trainer), {
        requestId: '',
        spec: trainerV1.RunSpec.fromPartial({
          ...common,
          baseModel: {
            source: {
              $case: 'builtin',
              value: {
                architecture: commonV1.ModelArchitecture.MODEL_ARCHITECTURE_TRANSFORMER_LM,
                size: 'tiny',
                seed: 1,
              },
            },
          },
          dataset: ref('builtin:spam-assassin'),
          strategy: trainerV1.Strategy.STRATEGY_FULL,
          budgetSteps: 80,
        }),
      })
    ).run!;
    await collect(trainer.watchRun({ runId: base.runId, fromStep: 0 }));
    const model: commonV1.ModelRef = { source: { $case: 'run', value: { runId: base.runId, step: 0, best: false } } };
    const template = trainerV1.RunSpec.fromPartial({ ...common, budgetSteps: RUN_BUDGET });
    const request = dp.PlanAdaptationRequest.fromPartial({
      model,
      dataset: ref('builtin:typescript-lib'),
      reference: ref('builtin:spam-assassin'),
      seed: 3,
      calibrationBatches: 2,
      batchSize: 4,
      sequenceLength: 64,
      mode: dp.PlanMode.PLAN_MODE_SEARCH,
      forgettingBudget: BUDGET_BITS,
      search: {
        runTemplate: Buffer.from(trainerV1.RunSpec.encode(template).finish()),
        pilotFraction: 1,
        maxPilotFraction: 0.5,
        maxCandidates: 4,
        fidelitySteps: 2,
      },
    });
    const events = await collect(profiler.planAdaptation(request));
    assert.ok(events.some((e) => e.event?.$case === 'progress' && e.event.value.phase === 'pilots'));
    const result = events.at(-1)!.event!.value as dp.AdaptationPlanResult;
    const search = result.search!;
    assert.ok(search.studyId.startsWith('study-'));
    assert.ok(search.candidates.length >= 2 && search.candidates.length <= 4);
    assert.equal(search.candidates[0]!.label, 'rules');
    assert.equal(search.candidates[0]!.curve.at(-1)?.step, 20, "the rules' plan, the baseline, has its full pilot");
    // Pilots: 10 steps per fidelity step, at most 2 of them each, 4 in all (pilot_fraction 1 of 40 steps).
    assert.ok(search.pilotSteps > 0 && search.pilotSteps <= RUN_BUDGET, `${search.pilotSteps} pilot steps`);
    assert.equal(search.pilotFraction, search.pilotSteps / RUN_BUDGET);
    for (const c of search.candidates)
      for (const p of c.curve) {
        assert.equal(p.step % 10, 0);
        assert.ok(p.step <= 20);
        assert.ok(Number.isFinite(p.newLoss) && Number.isFinite(p.forgetting));
        const excess = Math.max(0, p.forgetting - BUDGET_BITS);
        assert.ok(Math.abs(p.objective - (p.newLoss + 10 * excess)) < 1e-9, 'objective = new loss + 10 × excess');
      }
    // The winner has the lowest objective of the candidates that reached the compared step, the deepest two reached.
    const depths = search.candidates.map((c) => c.curve.at(-1)?.step ?? 0).sort((a, b) => b - a);
    assert.equal(search.comparedStep, depths[1]);
    const at = (c: dp.PlanCandidate) => c.curve.find((p) => p.step === search.comparedStep)?.objective ?? Infinity;
    // The pilots' winner (a variant that won them is confirmed on longer runs, checked in the next test).
    const pilotWinner = search.confirmation
      ? search.candidates.findIndex((c) => c.label === search.confirmation!.candidates[1]!.label)
      : search.winner;
    const winner = search.candidates[pilotWinner]!;
    // …unless every one compared is over the budget there: then the rules' plan stands.
    const compared = search.candidates.flatMap((c) => c.curve.filter((p) => p.step === search.comparedStep));
    // …or the leader's lead over it is within 2 paired standard errors of the validation batches.
    const lowest = Math.min(...search.candidates.map(at));
    if (compared.every((p) => p.forgetting > BUDGET_BITS)) assert.equal(pilotWinner, 0);
    else if (pilotWinner === 0 && at(winner) > lowest)
      assert.match(search.reason, /not more than 2 paired standard errors .* the rules' plan stands/);
    else assert.equal(at(winner), lowest);
    assert.deepEqual(result.plan, search.candidates[search.winner]!.plan);
    assert.match(search.reason, new RegExp(winner.label.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));

    // A pilot follows the run's schedule compressed to the longest pilot (20 of 40 steps: warm-up 4 → 2),
    // and is the exact prefix of that compressed run: the same spec trained to 20 steps in one go records
    // the same validation losses (both domains) at the pilot's steps.
    const pilotRun = (await call(trainer.getRun.bind(trainer), { runId: winner.runId })).run!;
    assert.deepEqual(pilotRun.spec!.schedule, { ...common.schedule, warmupRatio: 0, warmupSteps: 2, horizonSteps: 20 });
    const full = (
      await call(trainer.startRun.bind(trainer), {
        requestId: '',
        spec: { ...pilotRun.spec!, budgetSteps: 20, labels: {} },
      })
    ).run!;
    const steps = (await collect(trainer.watchRun({ runId: full.runId, fromStep: 0 })))
      .filter((e) => e.event?.$case === 'step')
      .map((e) => e.event!.value as trainerV1.StepMetrics);
    const fullDone = (await call(trainer.getRun.bind(trainer), { runId: full.runId })).run!;
    for (const p of winner.curve) {
      const s = steps.find((m) => m.step === p.step)!;
      // Each evaluation records its fixed batches' losses (what the paired test reads); the loss is their mean.
      for (const [batches, mean] of [
        [s.validationBatchLosses, s.validationLoss!],
        [s.referenceValidationBatchLosses, s.referenceValidationLoss!],
      ] as const) {
        assert.equal(batches.length, 4);
        assert.ok(Math.abs(batches.reduce((a, b) => a + b, 0) / 4 - mean) < 1e-9);
      }
      assert.ok(Math.abs(s.validationLoss! / Math.LN2 - p.newLoss) < 1e-6, `new-domain loss at step ${p.step}`);
      const rise = (s.referenceValidationLoss! - fullDone.initialReferenceValidationLoss!) / Math.LN2;
      assert.ok(Math.abs(rise - p.forgetting) < 1e-6, `forgetting at step ${p.step}`);
    }

    // Asking again resumes the same search: the same study and answer, nothing trained.
    const before = (await runsNow()).length;
    const again = (await collect(profiler.planAdaptation(request))).at(-1)!.event!.value as dp.AdaptationPlanResult;
    assert.equal(again.search!.studyId, search.studyId);
    assert.deepEqual(again.plan, result.plan);
    assert.equal((await runsNow()).length, before);

    // Bad input names its field.
    await rejectsWith(
      collect(profiler.planAdaptation({ ...request, search: { ...request.search!, runTemplate: Buffer.alloc(0) } })),
      grpc.status.INVALID_ARGUMENT,
      'search.run_template',
    );
    await rejectsWith(
      collect(profiler.planAdaptation({ ...request, forgettingBudget: -1 })),
      grpc.status.INVALID_ARGUMENT,
      'forgetting_budget',
    );
    await rejectsWith(
      collect(profiler.planAdaptation({ ...request, search: { ...request.search!, maxCandidates: 99 } })),
      grpc.status.INVALID_ARGUMENT,
      'search.max_candidates',
    );
  },
);

test(
  "a pilot winner other than the rules' plan replaces it only after it wins again on longer runs",
  { timeout: 600_000 },
  async () => {
    // A learning rate far too low for 10-step pilots: the variant with twice the rate (or one that replays
    // less) learns the new domain faster and wins the pilots, so the confirmation runs.
    const template = trainerV1.RunSpec.fromPartial({
      ...common,
      optimizer: { ...common.optimizer, learningRate: 1e-4 },
      budgetSteps: RUN_BUDGET,
    });
    const request = dp.PlanAdaptationRequest.fromPartial({
      model: {
        source: {
          $case: 'builtin',
          value: { architecture: commonV1.ModelArchitecture.MODEL_ARCHITECTURE_TRANSFORMER_LM, size: 'tiny', seed: 4 },
        },
      },
      dataset: ref('builtin:typescript-lib'),
      reference: ref('builtin:spam-assassin'),
      seed: 5,
      calibrationBatches: 2,
      batchSize: 4,
      sequenceLength: 64,
      mode: dp.PlanMode.PLAN_MODE_SEARCH,
      search: {
        runTemplate: Buffer.from(trainerV1.RunSpec.encode(template).finish()),
        pilotFraction: 3,
        maxPilotFraction: 0.25,
        maxCandidates: 32,
        fidelitySteps: 2,
        confirmFraction: 0.5,
      },
    });
    const before = (await runsNow()).length;
    const events = await collect(profiler.planAdaptation(request));
    assert.ok(events.some((e) => e.event?.$case === 'progress' && e.event.value.phase === 'confirmation'));
    const result = events.at(-1)!.event!.value as dp.AdaptationPlanResult;
    const search = result.search!;
    const confirmation = search.confirmation!;
    assert.ok(confirmation, `a variant won the pilots: ${search.reason}`);
    const challenger = search.candidates.findIndex((c) => c.label === confirmation.candidates[1]!.label);
    assert.ok(challenger > 0);
    assert.equal(confirmation.candidates[0]!.label, 'rules');
    assert.deepEqual(confirmation.candidates[1]!.plan, search.candidates[challenger]!.plan);
    // Each confirmation run is half the run (20 steps), on the run's schedule compressed to it, scored once at its end.
    assert.equal(confirmation.steps, RUN_BUDGET / 2);
    const pilotStepsAlone = search.candidates.reduce((n, c) => n + Number(c.curve.at(-1)?.step ?? 0), 0);
    assert.equal(
      search.pilotSteps,
      pilotStepsAlone + 2 * confirmation.steps,
      'the stated budget counts the confirmation',
    );
    const [rulesRun, challengerRun] = confirmation.candidates;
    for (const c of confirmation.candidates) {
      assert.deepEqual(
        c.curve.map((p) => p.step),
        [20],
      );
      const run = (await call(trainer.getRun.bind(trainer), { runId: c.runId })).run!;
      assert.equal(run.spec!.schedule!.horizonSteps, 20);
      assert.equal(run.spec!.schedule!.warmupSteps, 2);
    }
    // Confirmed: the challenger's objective is lower at the end, and its plan is the answer; else the rules' plan.
    const end = (c: dp.PlanCandidate) => c.curve.at(-1)!.objective;
    if (confirmation.confirmed) {
      assert.ok(end(challengerRun!) < end(rulesRun!));
      assert.equal(search.winner, challenger);
    } else assert.equal(search.winner, 0);
    assert.deepEqual(result.plan, search.candidates[search.winner]!.plan);
    assert.match(search.reason, /The confirmation of ".+": (confirmed|not confirmed) over 20 steps/);
    const trained = (await runsNow()).length - before;
    assert.equal(trained, search.candidates.filter((c) => c.runId).length + 2);

    // Without the confirmation the pilots are reused (nothing trained) and their winner is the answer.
    const skipped = (
      await collect(profiler.planAdaptation({ ...request, search: { ...request.search!, skipConfirmation: true } }))
    ).at(-1)!.event!.value as dp.AdaptationPlanResult;
    assert.equal(skipped.search!.studyId, search.studyId);
    assert.equal(skipped.search!.confirmation, undefined);
    assert.equal(skipped.search!.winner, challenger);
    assert.equal((await runsNow()).length - before, trained);
    await rejectsWith(
      collect(profiler.planAdaptation({ ...request, search: { ...request.search!, confirmFraction: 2 } })),
      grpc.status.INVALID_ARGUMENT,
      'search.confirm_fraction',
    );
  },
);

test("floe plan --search prints every candidate's pilot and why the winner won", { timeout: 300_000 }, async () => {
  const floe = floeAt(() => server.address);
  const r = await floe(
    'plan',
    '--model',
    'transformer-lm/tiny:2',
    '--dataset',
    'builtin:typescript-lib',
    '--reference',
    'builtin:spam-assassin',
    '--search',
    '--forgetting-budget',
    '0.1',
    '--steps',
    '20',
    '--batch-size',
    '4',
    '--sequence-length',
    '32',
    '--candidates',
    '3',
  );
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /search \(study study-[0-9a-f-]+\): pilots \d+ steps/);
  assert.match(r.stdout, /^\* /m, 'the winner is starred');
  assert.match(r.stdout, /^[* ] rules /m);
  assert.match(r.stdout, /why: /);
});
