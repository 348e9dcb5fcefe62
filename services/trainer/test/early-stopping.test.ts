// Early stopping through a real trainer: a run pauses where `patience` evaluations brought no improvement of
// more than min_delta (a min_delta no loss can beat makes the step exact: the first evaluation is the best,
// every later one is not), with a checkpoint there; a run paused at its budget first and resumed stops at the
// same step, its earlier evaluations counted; resumed after early stopping it has its patience again. Bad
// settings are refused naming the field.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { commonV1, trainerV1 } from '@floe/contracts';
import { call, collect } from '@floe/service-kit';
import { rejectsWith } from '@floe/testing';
import { tinyLmSpec, trainerUnderTest } from './trainer-fixture.js';

let client: trainerV1.TrainerServiceClient;
trainerUnderTest({}, (t) => (client = t.client));

const PAUSED = commonV1.RunState.RUN_STATE_PAUSED;
/** Evaluations every 2 steps; none after the first improves by 10^6 nats: the 3rd after it (step 8) stops. */
const stopping = (budgetSteps: number) =>
  tinyLmSpec({ budgetSteps, evalIntervalSteps: 2, earlyStopping: { patience: 3, minDelta: 1e6 } });

async function until(runId: string): Promise<{ run: trainerV1.Run; steps: number[] }> {
  const events = await collect(client.watchRun({ runId, fromStep: 0 }));
  const steps = events.flatMap((e) => (e.event?.$case === 'step' ? [e.event.value.step] : []));
  return { run: (events.at(-1)!.event as { value: trainerV1.Run }).value, steps };
}

const resume = (runId: string, additionalSteps: number) =>
  call(client.resumeRun.bind(client), { runId, additionalSteps, requestId: '' });

test('a run pauses at the step where its patience ran out, checkpointed; resumed, it has its patience again', async () => {
  const { run } = await call(client.startRun.bind(client), { requestId: '', spec: stopping(40) });
  const stopped = await until(run!.runId);
  assert.equal(stopped.run.state, PAUSED);
  assert.equal(stopped.run.step, 8);
  assert.equal(stopped.run.earlyStoppedStep, 8);
  assert.equal(stopped.run.checkpointStep, 8);
  assert.deepEqual(stopped.steps, [1, 2, 3, 4, 5, 6, 7, 8]);
  // Resumed: the evaluations at 10, 12 and 14 are its patience anew.
  await resume(run!.runId, 0);
  const again = await until(run!.runId);
  assert.equal(again.run.state, PAUSED);
  assert.equal(again.run.step, 14);
  assert.equal(again.run.earlyStoppedStep, 14);
});

test('paused at its budget and resumed, a run stops early at the step it would have uninterrupted', async () => {
  const { run } = await call(client.startRun.bind(client), { requestId: '', spec: stopping(5) });
  const atBudget = await until(run!.runId);
  assert.equal(atBudget.run.step, 5);
  assert.equal(atBudget.run.earlyStoppedStep, 0, 'the budget paused it');
  // The evaluations at steps 2 and 4 count: without them the resumed run would stop at 12.
  await resume(run!.runId, 35);
  const stopped = await until(run!.runId);
  assert.equal(stopped.run.step, 8);
  assert.equal(stopped.run.earlyStoppedStep, 8);
  // With patience past the budget, the budget ends the run as ever.
  const long = await call(client.startRun.bind(client), {
    requestId: '',
    spec: tinyLmSpec({ budgetSteps: 6, evalIntervalSteps: 2, earlyStopping: { patience: 5, minDelta: 1e6 } }),
  });
  const done = await until(long.run!.runId);
  assert.equal(done.run.step, 6);
  assert.equal(done.run.earlyStoppedStep, 0);
});

test('early stopping without evaluations, a negative or infinite min_delta, a patience out of range: refused, named', async () => {
  const refused = (earlyStopping: trainerV1.EarlyStopping, field: string, evalIntervalSteps = 2) =>
    rejectsWith(
      call(client.startRun.bind(client), {
        requestId: '',
        spec: tinyLmSpec({ evalIntervalSteps, earlyStopping }),
      }),
      grpc.status.INVALID_ARGUMENT,
      field,
    );
  const none = await refused({ patience: 3, minDelta: 0 }, 'spec.early_stopping.patience', 0);
  assert.match(none.details, /eval_interval_steps/);
  await refused({ patience: 3, minDelta: -0.1 }, 'spec.early_stopping.min_delta');
  await refused({ patience: 3, minDelta: Infinity }, 'spec.early_stopping.min_delta');
  await refused({ patience: 200_000, minDelta: 0 }, 'spec.early_stopping.patience');
  await refused({ patience: -1, minDelta: 0 }, 'spec.early_stopping.patience');
});
