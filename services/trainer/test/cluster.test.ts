// Cluster mode against the real thing: three trainer processes on loopback sharing one PostgreSQL and one
// FLOE_HOME (the shared artifact volume). Queued runs are each trained by exactly one replica, every step
// stored once; GetRun and WatchRun answer the same from every replica; a pause sent to a replica that is
// not training the run reaches the one that is; SIGKILL of the replica training a run → another takes it
// over within the lease from its last checkpoint, and the finished curve equals an uninterrupted run's;
// a study on an hpo-surrogate process that reaches the replicas through one round-robin address keeps
// going through the kill.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { commonV1, hpoSurrogateV1 as hpo, trainerV1 } from '@floe/contracts';
import { call, collect, createClient } from '@floe/service-kit';
import { spawnFloe, startPostgres, tempDir, type FloeProcess, type TestPostgres } from '@floe/testing';

const home = tempDir();
let pg: TestPostgres | undefined;
const replicas: Replica[] = [];
after(async () => {
  for (const r of replicas) {
    r.client.close();
    r.child.kill('SIGKILL');
  }
  pg?.remove();
  home.remove();
});

const LEASE_MS = 2000;
const R = commonV1.RunState;

interface Replica extends FloeProcess {
  name: string;
  client: trainerV1.TrainerServiceClient;
}

async function startReplica(name: string, url: string): Promise<Replica> {
  const floe = await spawnFloe(home.path, {
    FLOE_SERVICES: 'trainer',
    FLOE_DATABASE_URL: url,
    FLOE_REPLICA_ID: name,
    FLOE_LEASE_MS: String(LEASE_MS),
    FLOE_MAX_CONCURRENT_RUNS: '1',
    FLOE_THREADS: '1',
  });
  const r = { ...floe, name, client: createClient(trainerV1.TrainerServiceClient, floe.address) };
  replicas.push(r);
  return r;
}

const spec = (seed: number, budget: number) =>
  trainerV1.RunSpec.fromPartial({
    baseModel: {
      source: {
        $case: 'builtin',
        value: { architecture: commonV1.ModelArchitecture.MODEL_ARCHITECTURE_TRANSFORMER_LM, size: 'tiny', seed },
      },
    },
    dataset: { uri: 'builtin:spam-assassin' },
    strategy: trainerV1.Strategy.STRATEGY_FULL,
    optimizer: { kind: trainerV1.OptimizerKind.OPTIMIZER_KIND_ADAMW, learningRate: 2e-3, gradClipNorm: 1 },
    batchSize: 4,
    sequenceLength: 32,
    budgetSteps: budget,
    checkpointIntervalSteps: 20,
    seed,
  });

const getRun = async (r: Replica, runId: string) => (await call(r.client.getRun.bind(r.client), { runId })).run!;

async function until<T>(what: string, ms: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const stepsOf = async (r: Replica, runId: string) =>
  (await collect(r.client.watchRun({ runId, fromStep: 0 }))).flatMap((e) =>
    e.event?.$case === 'step' ? [e.event.value] : [],
  );

test(
  'three trainer replicas share one queue; a killed replica’s run is taken over and ends on the same curve',
  { timeout: 600_000 },
  async () => {
    pg = await startPostgres();
    const [a, b, c] = [
      await startReplica('replica-a', pg.url),
      await startReplica('replica-b', pg.url),
      await startReplica('replica-c', pg.url),
    ];
    // Ten short runs, all sent to one replica: the queue spreads them.
    const ids: string[] = [];
    for (let i = 0; i < 10; i++)
      ids.push(
        (await call(a.client.startRun.bind(a.client), { requestId: `q-${i}`, spec: spec(i + 1, 40) })).run!.runId,
      );
    const finished = await until('the queue to drain', 300_000, async () => {
      const runs = await Promise.all(ids.map((id) => getRun(b, id)));
      return runs.every((r) => r.state === R.RUN_STATE_PAUSED) ? runs : undefined;
    });
    const trainedBy = new Set(finished.map((r) => r.replicaId));
    assert.ok(trainedBy.size >= 2, `runs spread over replicas: ${[...trainedBy].join(', ')}`);
    for (const r of finished) {
      assert.equal(r.takeovers, 0);
      const steps = await stepsOf(c, r.runId);
      assert.deepEqual(
        steps.map((m) => m.step),
        Array.from({ length: 40 }, (_, k) => k + 1),
        'every step once',
      );
    }
    // The same answer from every replica: GetRun, and WatchRun's steps.
    for (const id of ids.slice(0, 2)) {
      const answers = await Promise.all([a, b, c].map((r) => getRun(r, id)));
      for (const x of answers.slice(1)) assert.deepEqual(x, answers[0]);
      const watched = await Promise.all([a, b, c].map((r) => stepsOf(r, id)));
      for (const x of watched.slice(1)) assert.deepEqual(x, watched[0]);
    }

    // A pause sent to a replica that is not training the run reaches the one that is.
    const paused = (await call(a.client.startRun.bind(a.client), { requestId: 'pause-me', spec: spec(21, 400) })).run!;
    const owner = await until('the run to start', 60_000, async () => {
      const r = await getRun(a, paused.runId);
      return r.state === R.RUN_STATE_RUNNING && r.step > 0 ? r.replicaId : undefined;
    });
    const other = [a, b, c].find((r) => r.name !== owner)!;
    await call(other.client.pauseRun.bind(other.client), { runId: paused.runId, requestId: '' });
    const p = await until('the pause', 30_000, async () => {
      const r = await getRun(a, paused.runId);
      return r.state === R.RUN_STATE_PAUSED ? r : undefined;
    });
    assert.ok(p.step < 400);

    // A study on a separate hpo-surrogate process reaches the replicas through one round-robin address.
    const study = await spawnFloe(home.path, {
      FLOE_SERVICES: 'hpo-surrogate',
      FLOE_DATABASE_URL: pg.url,
      FLOE_TRAINER_ADDRESS: `ipv4:${[a, b, c].map((r) => r.address).join(',')}`,
    });
    // A failed assertion must not leave the process behind (after() kills it with the replicas).
    replicas.push({ ...study, name: 'hpo', client: createClient(trainerV1.TrainerServiceClient, study.address) });
    const hpoClient = createClient(hpo.HpoSurrogateServiceClient, study.address);
    const template = spec(41, 1);
    template.schedule = trainerV1.LrSchedule.fromPartial({ kind: trainerV1.ScheduleKind.SCHEDULE_KIND_CONSTANT });
    const created = (
      await call(hpoClient.createStudy.bind(hpoClient), {
        requestId: 'cluster-study',
        spec: hpo.StudySpec.fromPartial({
          name: 'through a kill',
          objective: 'validation_loss',
          optimizer: hpo.Optimizer.OPTIMIZER_ASHA,
          searchSpace: {
            parameters: [
              {
                name: 'optimizer.learning_rate',
                domain: { $case: 'floatRange', value: { min: 1e-3, max: 1e-2, logScale: true } },
              },
            ],
          },
          stepsPerFidelity: 10,
          maxFidelity: 3,
          totalBudget: 12,
          seed: 3,
          runTemplate: Buffer.from(trainerV1.RunSpec.encode(template).finish()),
        }),
      })
    ).study!;
    const studyDone = collect(hpoClient.runStudy({ studyId: created.studyId, parallelism: 1 }));

    // The kill: the replica training a longer run dies; another continues it within the lease.
    const long = spec(31, 160);
    const victimRun = (await call(b.client.startRun.bind(b.client), { requestId: 'kill-me', spec: long })).run!;
    const victimName = await until('the run to pass step 50', 120_000, async () => {
      const r = await getRun(b, victimRun.runId);
      return r.step > 50 ? r.replicaId : undefined;
    });
    const victim = [a, b, c].find((r) => r.name === victimName)!;
    const survivor = [a, b, c].find((r) => r !== victim)!;
    const before = (await call(hpoClient.getStudy.bind(hpoClient), { studyId: created.studyId })).study!;
    assert.equal(before.state, hpo.StudyState.STUDY_STATE_RUNNING, 'the study is still going at the kill');
    victim.child.kill('SIGKILL');
    const killedAt = Date.now();
    const taken = await until('a takeover', 10 * LEASE_MS, async () => {
      const r = await getRun(survivor, victimRun.runId);
      return r.takeovers === 1 && r.state === R.RUN_STATE_RUNNING ? r : undefined;
    });
    const takeoverS = (Date.now() - killedAt) / 1000;
    assert.notEqual(taken.replicaId, victimName);
    const done = await until('the taken-over run to finish', 300_000, async () => {
      const r = await getRun(survivor, victimRun.runId);
      return r.state === R.RUN_STATE_PAUSED ? r : undefined;
    });
    assert.equal(done.step, 160);
    assert.ok(done.replayedSteps > 0, 'steps after the last checkpoint were replayed');
    assert.ok(done.replayMaxAbsDiff <= 1e-6, `replayed steps reproduce the stored ones (${done.replayMaxAbsDiff})`);
    const steps = await stepsOf(survivor, victimRun.runId);
    assert.deepEqual(
      steps.map((m) => m.step),
      Array.from({ length: 160 }, (_, k) => k + 1),
      'every step stored once',
    );
    // The same spec uninterrupted, on a surviving replica: the same curve.
    const twin = (await call(survivor.client.startRun.bind(survivor.client), { requestId: '', spec: long })).run!;
    await until('the twin', 300_000, async () =>
      (await getRun(survivor, twin.runId)).state === R.RUN_STATE_PAUSED ? true : undefined,
    );
    const twinSteps = await stepsOf(survivor, twin.runId);
    steps.forEach((m, i) =>
      assert.ok(
        Math.abs(m.trainLoss - twinSteps[i]!.trainLoss) <= 1e-6,
        `step ${m.step}: ${m.trainLoss} vs ${twinSteps[i]!.trainLoss}`,
      ),
    );
    // The study went on through the kill and completed.
    const last = (await studyDone).at(-1)!.event!;
    assert.equal(last.$case, 'study');
    const finalStudy = last.value as hpo.Study;
    assert.equal(
      hpo.studyStateToJSON(finalStudy.state),
      'STUDY_STATE_COMPLETED',
      `trials: ${JSON.stringify(finalStudy.trials.map((t) => [t.trialId, t.runId, t.state, t.observations.length]))}`,
    );
    assert.equal(finalStudy.budgetUsed, 12);
    for (const t of finalStudy.trials) {
      const observed = t.observations.map((o) => o.step);
      assert.deepEqual(
        observed,
        [...new Set(observed)].sort((x, y) => x - y),
        'each point once, in order',
      );
    }
    hpoClient.close();
    study.child.kill('SIGTERM');
    await study.exited;
    process.stderr.write(`# takeover ${takeoverS.toFixed(1)} s after the SIGKILL (lease ${LEASE_MS} ms)\n`);
  },
);
