// RunStudy when trials fail, on the embedded trainer and hpo-surrogate with real runs: a learning rate that
// makes the run diverge (SGD at 10: the loss reaches NaN within a few steps) fails that trial — FAILED, the
// trainer's reason as its error, its finite points kept — and the study goes on to finish the others; a study
// whose trials all fail stops after ten in a row, FAILED with the reason, instead of spending its budget. A
// space of int and categorical values is tried out: each configuration trained once, then the study completes.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { commonV1, hpoSurrogateV1 as hpo, trainerV1 } from '@floe/contracts';
import { call, collect, composeServices, createClient, startServer, type FloeServer } from '@floe/service-kit';
import { quietLog, tempDir, testConfig } from '@floe/testing';
import { SERVICES } from '../src/services.js';
import { MAX_FAILED_IN_A_ROW } from '@floe/hpo-surrogate';

const SPF = 4;
const MAX_FIDELITY = 3;
const home = tempDir();
let server: FloeServer;
let client: hpo.HpoSurrogateServiceClient;

before(async () => {
  const config = testConfig(home.path, { FLOE_SERVICES: 'trainer,hpo-surrogate', FLOE_MAX_CONCURRENT_RUNS: '2' });
  server = await startServer({ config, services: composeServices(SERVICES, { config, log: quietLog }), log: quietLog });
  client = createClient(hpo.HpoSurrogateServiceClient, server.address);
});

after(async () => {
  client.close();
  await server.shutdown();
  home.remove();
});

const template = trainerV1.RunSpec.fromPartial({
  baseModel: {
    source: {
      $case: 'builtin',
      value: { architecture: commonV1.ModelArchitecture.MODEL_ARCHITECTURE_TRANSFORMER_LM, size: 'tiny', seed: 3 },
    },
  },
  dataset: { uri: 'builtin:spam-assassin' },
  strategy: trainerV1.Strategy.STRATEGY_FULL,
  optimizer: { kind: trainerV1.OptimizerKind.OPTIMIZER_KIND_SGD },
  schedule: { kind: trainerV1.ScheduleKind.SCHEDULE_KIND_CONSTANT },
  batchSize: 4,
  sequenceLength: 32,
  seed: 5,
});

/** A finite search over these learning rates, each trained in full one after the other (random search). */
const study = async (learningRates: number[]) =>
  (
    await call(client.createStudy.bind(client), {
      requestId: '',
      spec: hpo.StudySpec.fromPartial({
        searchSpace: {
          parameters: [
            {
              name: 'optimizer.learning_rate',
              domain: { $case: 'floatRange', value: { min: 1e-4, max: 10, logScale: true } },
            },
          ],
        },
        candidates: learningRates.map((lr) => ({
          configuration: [{ name: 'optimizer.learning_rate', value: { $case: 'floatValue', value: lr } }],
          label: `lr ${lr}`,
        })),
        optimizer: hpo.Optimizer.OPTIMIZER_RANDOM,
        objective: 'validation_loss',
        stepsPerFidelity: SPF,
        maxFidelity: MAX_FIDELITY,
        totalBudget: learningRates.length * MAX_FIDELITY,
        seed: 1,
        runTemplate: Buffer.from(trainerV1.RunSpec.encode(template).finish()),
      }),
    })
  ).study!;

const run = async (studyId: string) => {
  const events = await collect(client.runStudy({ studyId, parallelism: 1 }));
  return (events.at(-1)!.event as { value: hpo.Study }).value;
};

test(
  'a trial whose run diverges fails with the reason; the study finishes the others',
  { timeout: 300_000 },
  async () => {
    const done = await run((await study([0.03, 10, 0.01])).studyId);
    assert.equal(hpo.studyStateToJSON(done.state), 'STUDY_STATE_COMPLETED', done.error);
    assert.equal(done.error, '');
    const lr = (t: hpo.Trial) => t.configuration[0]!.value!.value as number;
    const diverged = done.trials.find((t) => lr(t) === 10)!;
    assert.equal(diverged.state, commonV1.RunState.RUN_STATE_FAILED);
    assert.match(
      diverged.error,
      /^its run run-\S+ failed: diverged: the (training|validation) loss is (NaN|-?Infinity) at step \d+$/,
    );
    assert.ok(
      diverged.observations.every((o) => Number.isFinite(o.value)),
      'only finite points are kept',
    );
    const others = done.trials.filter((t) => lr(t) !== 10);
    assert.equal(others.length, 2, 'the study went on past the failure');
    for (const t of others) {
      assert.notEqual(t.state, commonV1.RunState.RUN_STATE_FAILED);
      assert.deepEqual(
        t.observations.map((o) => o.step),
        [4, 8, 12],
        'trained to the full curve',
      );
    }
    assert.ok(
      others.some((t) => t.trialId === done.bestTrialId),
      'the incumbent is a trial that trained',
    );
  },
);

test(
  `${MAX_FAILED_IN_A_ROW} trials failing in a row fail the study with the reason`,
  { timeout: 300_000 },
  async () => {
    // The same diverging learning rate each time (lower ones may not diverge within the curve).
    const rates = Array.from({ length: MAX_FAILED_IN_A_ROW + 2 }, () => 10);
    const done = await run((await study(rates)).studyId);
    assert.equal(
      hpo.studyStateToJSON(done.state),
      'STUDY_STATE_FAILED',
      JSON.stringify(done.trials.map((t) => [t.state, t.error, t.observations.length])),
    );
    assert.match(
      done.error,
      new RegExp(`^${MAX_FAILED_IN_A_ROW} trials in a row failed \\(the last: its run .* diverged`),
    );
    assert.equal(done.trials.length, MAX_FAILED_IN_A_ROW, 'no trial started after the tenth failure');
    assert.ok(done.trials.every((t) => t.state === commonV1.RunState.RUN_STATE_FAILED));
    assert.ok(done.budgetUsed < rates.length * MAX_FIDELITY);
  },
);

test('a space of two optimizer kinds: RunStudy trains each once to its full curve, then completes', async () => {
  const created = (
    await call(client.createStudy.bind(client), {
      requestId: '',
      spec: hpo.StudySpec.fromPartial({
        searchSpace: {
          parameters: [
            {
              name: 'optimizer.kind',
              domain: { $case: 'categorical', value: { choices: ['OPTIMIZER_KIND_SGD', 'OPTIMIZER_KIND_ADAMW'] } },
            },
          ],
        },
        objective: 'validation_loss',
        stepsPerFidelity: SPF,
        maxFidelity: 2,
        totalBudget: 20,
        seed: 1,
        runTemplate: Buffer.from(
          trainerV1.RunSpec.encode({ ...template, optimizer: { ...template.optimizer!, learningRate: 0.01 } }).finish(),
        ),
      }),
    })
  ).study!;
  const done = await run(created.studyId);
  assert.equal(done.state, hpo.StudyState.STUDY_STATE_COMPLETED, done.error);
  assert.equal(done.budgetUsed, 4, 'two configurations of two steps, then nothing is left to train');
  assert.deepEqual(done.trials.map((t) => t.configuration[0]!.value!.value).sort(), [
    'OPTIMIZER_KIND_ADAMW',
    'OPTIMIZER_KIND_SGD',
  ]);
  assert.ok(done.trials.every((t) => t.observations.length === 2 && t.observations.at(-1)!.step === 2 * SPF));
});

test(
  'a trial whose run was deleted ends FAILED saying so; the study goes on without it',
  { timeout: 300_000 },
  async () => {
    const created = await study([0.03, 0.01]);
    // The loop starts the first trial; once it has observed a point, the server stops (its run pauses there).
    const loop = collect(client.runStudy({ studyId: created.studyId, parallelism: 1 })).catch(() => []);
    let runId = '';
    while (!runId) {
      await new Promise((r) => setTimeout(r, 50));
      const t = (await call(client.getStudy.bind(client), { studyId: created.studyId })).study!.trials[0];
      if (t?.observations.length) runId = t.runId;
    }
    client.close();
    await server.shutdown();
    await loop;
    // The trainer alone: the paused run is deleted.
    const trainerOnly = testConfig(home.path, { FLOE_SERVICES: 'trainer' });
    const alone = await startServer({
      config: trainerOnly,
      services: composeServices(SERVICES, { config: trainerOnly, log: quietLog }),
      log: quietLog,
    });
    const trainer = createClient(trainerV1.TrainerServiceClient, alone.address);
    await call(trainer.deleteRun.bind(trainer), { runId, requestId: '' });
    trainer.close();
    await alone.shutdown();
    // Both again: the study resumes, finds its first trial's run gone and trains the second.
    const config = testConfig(home.path, { FLOE_SERVICES: 'trainer,hpo-surrogate', FLOE_MAX_CONCURRENT_RUNS: '2' });
    server = await startServer({
      config,
      services: composeServices(SERVICES, { config, log: quietLog }),
      log: quietLog,
    });
    client = createClient(hpo.HpoSurrogateServiceClient, server.address);
    let done = (await call(client.getStudy.bind(client), { studyId: created.studyId })).study!;
    while (done.state === hpo.StudyState.STUDY_STATE_RUNNING) {
      await new Promise((r) => setTimeout(r, 100));
      done = (await call(client.getStudy.bind(client), { studyId: created.studyId })).study!;
    }
    assert.equal(done.state, hpo.StudyState.STUDY_STATE_COMPLETED, done.error);
    const [first, second] = done.trials;
    assert.equal(first!.state, commonV1.RunState.RUN_STATE_FAILED);
    assert.equal(first!.error, `its run ${runId} was deleted`);
    assert.ok(first!.observations.length >= 1, 'what it observed before stays');
    assert.deepEqual(
      second!.observations.map((o) => o.step),
      [4, 8, 12],
      'the second trial trained to its full curve',
    );
  },
);

test(
  "DeleteStudy: refused while RUNNING; with delete_runs the trials' runs go, without them they stay",
  { timeout: 300_000 },
  async () => {
    const trainer = createClient(trainerV1.TrainerServiceClient, server.address);
    const studyState = async (studyId: string) => (await call(client.getStudy.bind(client), { studyId })).study!;
    const gone = async (p: Promise<unknown>) =>
      assert.equal(
        await p.then(
          () => 0,
          (err: { code: number }) => err.code,
        ),
        5,
        'NOT_FOUND',
      );
    try {
      // A study that finished: deleted alone, its runs stay.
      const kept = await run((await study([0.03])).studyId);
      const keptRun = kept.trials[0]!.runId;
      const alone = await call(client.deleteStudy.bind(client), {
        studyId: kept.studyId,
        requestId: 'delete-kept',
        deleteRuns: false,
      });
      assert.deepEqual([alone.study!.studyId, alone.deletedRuns], [kept.studyId, 0]);
      assert.equal(
        (
          await call(client.deleteStudy.bind(client), {
            studyId: kept.studyId,
            requestId: 'delete-kept',
            deleteRuns: false,
          })
        ).replayed,
        true,
      );
      await gone(call(client.getStudy.bind(client), { studyId: kept.studyId }));
      assert.equal((await call(trainer.getRun.bind(trainer), { runId: keptRun })).run!.runId, keptRun);

      // A study in the middle of RunStudy is refused, then stopped and deleted with its runs.
      const busy = await study([0.03, 0.01]);
      const loop = collect(client.runStudy({ studyId: busy.studyId, parallelism: 1 })).catch(() => []);
      while ((await studyState(busy.studyId)).trials.length === 0) await new Promise((r) => setTimeout(r, 50));
      const refused = await call(client.deleteStudy.bind(client), {
        studyId: busy.studyId,
        requestId: '',
        deleteRuns: true,
      }).then(
        () => undefined,
        (err: { code: number; details: string }) => err,
      );
      assert.equal(refused?.code, 9, 'FAILED_PRECONDITION');
      assert.match(refused!.details, /RUNNING: stop it/);
      await call(client.stopStudy.bind(client), { studyId: busy.studyId, requestId: '' });
      await loop;
      const runIds = (await studyState(busy.studyId)).trials.map((t) => t.runId).filter(Boolean);
      assert.ok(runIds.length >= 1);
      const deleted = await call(client.deleteStudy.bind(client), {
        studyId: busy.studyId,
        requestId: '',
        deleteRuns: true,
      });
      assert.equal(deleted.deletedRuns, runIds.length);
      await gone(call(client.getStudy.bind(client), { studyId: busy.studyId }));
      for (const runId of runIds) await gone(call(trainer.getRun.bind(trainer), { runId }));
      const listed = await call(client.listStudies.bind(client), {
        states: [],
        page: { pageSize: 100, pageToken: '' },
      });
      assert.ok(!listed.studies.some((s) => s.studyId === busy.studyId || s.studyId === kept.studyId));
      await gone(call(client.deleteStudy.bind(client), { studyId: busy.studyId, requestId: '', deleteRuns: false }));
    } finally {
      trainer.close();
    }
  },
);

test('a completed study given more budget thaws its paused trial where it stopped: the same run, no step twice', async () => {
  const created = (
    await call(client.createStudy.bind(client), {
      requestId: '',
      spec: hpo.StudySpec.fromPartial({
        searchSpace: {
          parameters: [
            {
              name: 'optimizer.learning_rate',
              domain: { $case: 'floatRange', value: { min: 1e-4, max: 1, logScale: true } },
            },
          ],
        },
        // One configuration: after its first step every decision is to thaw it.
        candidates: [
          { configuration: [{ name: 'optimizer.learning_rate', value: { $case: 'floatValue', value: 0.05 } }] },
        ],
        objective: 'validation_loss',
        stepsPerFidelity: SPF,
        maxFidelity: 4,
        totalBudget: 2,
        seed: 1,
        runTemplate: Buffer.from(trainerV1.RunSpec.encode(template).finish()),
      }),
    })
  ).study!;
  const first = await run(created.studyId);
  assert.equal(first.state, hpo.StudyState.STUDY_STATE_COMPLETED, first.error);
  const trial = first.trials[0]!;
  assert.deepEqual(
    trial.observations.map((o) => o.step),
    [SPF, 2 * SPF],
  );
  const resumed = (
    await call(client.resumeStudy.bind(client), { studyId: created.studyId, requestId: '', additionalBudget: 2 })
  ).study!;
  assert.equal(resumed.state, hpo.StudyState.STUDY_STATE_ACTIVE);
  assert.equal(resumed.spec!.totalBudget, 4);
  const done = await run(created.studyId);
  assert.equal(done.state, hpo.StudyState.STUDY_STATE_COMPLETED, done.error);
  assert.equal(done.budgetUsed, 4);
  assert.equal(done.trials.length, 1);
  assert.equal(done.trials[0]!.runId, trial.runId, 'the paused run was resumed, not started again');
  assert.deepEqual(
    done.trials[0]!.observations.map((o) => o.step),
    [SPF, 2 * SPF, 3 * SPF, 4 * SPF],
  );
  // The trainer's run trained each step once.
  const trainer = createClient(trainerV1.TrainerServiceClient, server.address);
  try {
    const r = (await call(trainer.getRun.bind(trainer), { runId: trial.runId })).run!;
    assert.equal(r.step, 4 * SPF);
  } finally {
    trainer.close();
  }
});

test(
  'a study stopped in the middle of a segment, resumed: RunStudy finishes the cut segment from its checkpoint first',
  { timeout: 300_000 },
  async () => {
    const trainer = createClient(trainerV1.TrainerServiceClient, server.address);
    try {
      const busy = await study([0.03, 0.01]);
      const loop = collect(client.runStudy({ studyId: busy.studyId, parallelism: 1 })).catch(() => []);
      const observed = async () =>
        (await call(client.getStudy.bind(client), { studyId: busy.studyId })).study!.trials[0]?.observations.length ??
        0;
      while ((await observed()) === 0) await new Promise((r) => setTimeout(r, 20));
      await call(client.stopStudy.bind(client), { studyId: busy.studyId, requestId: '' });
      await loop;
      const stopped = (await call(client.getStudy.bind(client), { studyId: busy.studyId })).study!;
      assert.equal(stopped.state, hpo.StudyState.STUDY_STATE_STOPPED);
      const cut = stopped.trials[0]!;
      assert.ok(cut.observations.at(-1)!.step < cut.targetStep, 'the stop cut the first trial short of its target');
      await call(client.resumeStudy.bind(client), { studyId: busy.studyId, requestId: '', additionalBudget: 0 });
      const done = await run(busy.studyId);
      assert.equal(done.state, hpo.StudyState.STUDY_STATE_COMPLETED, done.error);
      assert.equal(done.trials.length, 2);
      assert.equal(done.trials[0]!.runId, cut.runId, 'the cut trial went on in its own run');
      for (const t of done.trials) {
        assert.deepEqual(
          t.observations.map((o) => o.step),
          [SPF, 2 * SPF, 3 * SPF],
        );
        const r = (await call(trainer.getRun.bind(trainer), { runId: t.runId })).run!;
        assert.equal(r.step, MAX_FIDELITY * SPF, 'each step trained once');
      }
    } finally {
      trainer.close();
    }
  },
);
