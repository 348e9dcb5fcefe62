// RunStudy end to end on the embedded services in a child process (`floe up`): ifBO searches learning rate
// and weight decay of transformer-lm tiny on e-mails, driving real trainer runs two at a time. The server
// is SIGKILLed in the middle and restarted on the same FLOE_HOME; the loop resumes by itself. Then: no
// observation lost (every trial observed at every fidelity step up to its target), every trained step
// stored once, a thawed trial's curve equal to an uninterrupted run's, and the best trial and curves come
// back from GetStudy and from `floe hpo get`.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hpoSurrogateV1 as hpo, trainerV1 } from '@floe/contracts';
import { call, collect, createClient } from '@floe/service-kit';
import { spawnFloe, tempDir } from '@floe/testing';
import { floeAt } from './fixtures/floe.js';

const SPF = 4;
const MAX_FIDELITY = 3;
const BUDGET = 18;

const startServer = (home: string) =>
  spawnFloe(home, { FLOE_MAX_CONCURRENT_RUNS: '2', FLOE_SERVICES: 'trainer,hpo-surrogate' });

/** Follows RunStudy until the study (last message) or until `stopWhen` holds for the study as stored. */
async function runStudy(
  client: hpo.HpoSurrogateServiceClient,
  studyId: string,
  stopWhen?: (s: hpo.Study) => boolean,
): Promise<hpo.Study | undefined> {
  const stream = client.runStudy({ studyId, parallelism: 2 });
  for await (const m of stream as AsyncIterable<hpo.RunStudyResponse>) {
    if (m.event?.$case === 'study') return m.event.value;
    if (stopWhen) {
      const { study } = await call(client.getStudy.bind(client), { studyId });
      if (stopWhen(study!)) {
        stream.cancel();
        return undefined;
      }
    }
  }
  throw new Error('RunStudy ended without the study');
}

test(
  'RunStudy: six or more real trials, a SIGKILL in the middle, nothing lost, nothing trained twice, exact curves',
  { timeout: 600_000 },
  async () => {
    const home = tempDir();
    let server = await startServer(home.path);
    try {
      const floe = floeAt(() => server.address);
      const created = await floe(
        'hpo',
        'create',
        '--param',
        'optimizer.learning_rate=float:1e-4:3e-2:log',
        '--param',
        'optimizer.weight_decay=float:0:0.1',
        '--steps-per-fidelity',
        String(SPF),
        '--max-fidelity',
        String(MAX_FIDELITY),
        '--budget',
        String(BUDGET),
        '--dataset',
        'builtin:spam-assassin',
        '--size',
        'tiny',
        '--batch',
        '4',
        '--seq',
        '32',
        '--seed',
        '3',
        '--json',
      );
      assert.equal(created.code, 0, created.stderr);
      const studyId = (JSON.parse(created.stdout) as { study_id: string }).study_id;

      let client = createClient(hpo.HpoSurrogateServiceClient, server.address);
      // Half the budget decided, then the server dies without warning.
      await runStudy(
        client,
        studyId,
        (s) => s.budgetUsed >= BUDGET / 2 && s.trials.some((t) => t.observations.length > 0),
      );
      const before = (await call(client.getStudy.bind(client), { studyId })).study!;
      assert.ok(
        before.trials.some((t) => t.targetStep > (t.observations.at(-1)?.step ?? 0)),
        'a trial was being trained when the server died',
      );
      client.close();
      server.child.kill('SIGKILL');
      await server.exited;

      server = await startServer(home.path);
      client = createClient(hpo.HpoSurrogateServiceClient, server.address);
      // The rest of the loop through the CLI: not a terminal, it writes a line when the budget used or the
      // incumbent changes (not one per event).
      const rest = await floe('hpo', 'run', studyId, '--parallelism', '2');
      assert.equal(rest.code, 0, rest.stderr);
      const progress = rest.stderr.split('\n').filter((l) => / fidelity steps, /.test(l));
      assert.ok(progress.length >= 2, rest.stderr);
      progress.forEach((line, i) => assert.notEqual(line, progress[i - 1], 'a line repeated'));
      assert.match(progress.at(-1)!, new RegExp(`^${BUDGET}/${BUDGET} fidelity steps, incumbent trial-\\d+: `));
      assert.match(rest.stdout, new RegExp(`${studyId} COMPLETED`));
      const done = (await call(client.getStudy.bind(client), { studyId })).study!;
      assert.equal(hpo.studyStateToJSON(done.state), 'STUDY_STATE_COMPLETED');
      assert.equal(done.budgetUsed, BUDGET);
      assert.ok(done.trials.length >= 6, `${done.trials.length} trials`);

      // No observation lost: what was observed before the kill is still there, and every trial has one
      // observation per fidelity step up to its target.
      for (const t of before.trials) {
        const now = done.trials.find((x) => x.trialId === t.trialId)!;
        assert.deepEqual(now.observations.slice(0, t.observations.length), t.observations);
      }
      const trainer = createClient(trainerV1.TrainerServiceClient, server.address);
      let spent = 0;
      for (const t of done.trials) {
        assert.deepEqual(
          t.observations.map((o) => o.step),
          Array.from({ length: t.targetStep / SPF }, (_, k) => (k + 1) * SPF),
          `${t.trialId}'s observations`,
        );
        spent += t.targetStep / SPF;
        // Every step of its run stored once, up to the target and no further.
        const events = await collect(trainer.watchRun({ runId: t.runId, fromStep: 0 }));
        const steps = events.flatMap((e) => (e.event?.$case === 'step' ? [e.event.value] : []));
        assert.deepEqual(
          steps.map((m) => m.step),
          Array.from({ length: t.targetStep }, (_, k) => k + 1),
          `${t.trialId}'s run steps`,
        );
        const run = (await call(trainer.getRun.bind(trainer), { runId: t.runId })).run!;
        assert.ok(run.replayMaxAbsDiff <= 1e-6, `replayed steps reproduce the recorded ones (${run.replayMaxAbsDiff})`);
        for (const o of t.observations) assert.equal(steps[o.step - 1]!.validationLoss, o.value);
        // The trial keeps its latest checkpoint (to thaw from) and its best, not one per fidelity step.
        const held = await call(trainer.listCheckpoints.bind(trainer), { runId: t.runId });
        const heldSteps = held.checkpoints.map((c) => c.step);
        assert.equal(heldSteps.at(-1), t.targetStep, `${t.trialId} holds its latest checkpoint`);
        const bestObserved = t.observations.reduce((a, o) => (o.value < a.value ? o : a));
        assert.equal(held.bestStep, bestObserved.step, `${t.trialId}'s best checkpoint`);
        assert.deepEqual(
          heldSteps,
          [...new Set([bestObserved.step, t.targetStep])].sort((a, b) => a - b),
        );
      }
      assert.equal(spent, BUDGET, 'the study spent each fidelity step on exactly one trial');

      // A thawed trial follows exactly the curve of one uninterrupted run to its target.
      const thawed = [...done.trials].sort((a, b) => b.targetStep - a.targetStep)[0]!;
      assert.ok(thawed.targetStep > SPF, 'some trial was thawed');
      const template = trainerV1.RunSpec.decode(done.spec!.runTemplate);
      const lr = thawed.configuration.find((p) => p.name === 'optimizer.learning_rate')!.value!.value as number;
      const wd = thawed.configuration.find((p) => p.name === 'optimizer.weight_decay')!.value!.value as number;
      const straight = (
        await call(trainer.startRun.bind(trainer), {
          requestId: 'straight',
          spec: {
            ...template,
            optimizer: { ...template.optimizer!, learningRate: lr, weightDecay: wd },
            budgetSteps: thawed.targetStep,
            evalIntervalSteps: SPF,
          },
        })
      ).run!;
      const straightEvents = await collect(trainer.watchRun({ runId: straight.runId, fromStep: 0 }));
      const straightVal = straightEvents.flatMap((e) =>
        e.event?.$case === 'step' && e.event.value.validationLoss !== undefined ? [e.event.value.validationLoss] : [],
      );
      assert.equal(straightVal.length, thawed.observations.length);
      thawed.observations.forEach((o, i) =>
        assert.ok(Math.abs(o.value - straightVal[i]!) <= 1e-6, `step ${o.step}: ${o.value} vs ${straightVal[i]}`),
      );

      // The best trial and its curves, from the CLI.
      const got = await floe('hpo', 'get', studyId, '--json');
      assert.equal(got.code, 0, got.stderr);
      const summary = JSON.parse(got.stdout) as {
        best_trial_id: string;
        best_value: number;
        trials: { trial_id: string; curve: [number, number][] }[];
      };
      const best = Math.min(...done.trials.flatMap((t) => t.observations.map((o) => o.value)));
      assert.equal(summary.best_value, best);
      assert.equal(summary.best_trial_id, done.bestTrialId);
      assert.equal(summary.trials.length, done.trials.length);
      assert.ok(summary.trials.every((t) => t.curve.length > 0));
      // And as a plot: a line per trial.
      const svgPath = join(home.path, 'study.svg');
      const plotted = await floe('hpo', 'get', studyId, '--svg', svgPath);
      assert.equal(plotted.code, 0, plotted.stderr);
      const svg = readFileSync(svgPath, 'utf8');
      assert.equal((svg.match(/aria-roledescription="line mark"/g) ?? []).length, done.trials.length);
      client.close();
      trainer.close();
    } finally {
      server.child.kill('SIGTERM');
      await server.exited;
      home.remove();
    }
  },
);
