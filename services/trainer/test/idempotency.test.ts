// Retried PauseRun / ResumeRun / CancelRun with the same request id change nothing and answer the first
// answer (replayed) — also after the run has moved on (paused again).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { commonV1, trainerV1 } from '@floe/contracts';
import { call, collect } from '@floe/service-kit';
import { rejectsWith } from '@floe/testing';
import { trainerUnderTest } from './trainer-fixture.js';

let client: trainerV1.TrainerServiceClient;
trainerUnderTest({ FLOE_MAX_CONCURRENT_RUNS: '2' }, (t) => (client = t.client));
const S = commonV1.RunState;

const spec = (budgetSteps: number) =>
  trainerV1.RunSpec.fromPartial({
    baseModel: {
      source: {
        $case: 'builtin',
        value: { architecture: commonV1.ModelArchitecture.MODEL_ARCHITECTURE_TRANSFORMER_LM, size: 'tiny', seed: 1 },
      },
    },
    dataset: { uri: 'builtin:spam-assassin' },
    strategy: trainerV1.Strategy.STRATEGY_FULL,
    batchSize: 2,
    sequenceLength: 16,
    budgetSteps,
    seed: 1,
  });

async function stopped(runId: string): Promise<trainerV1.Run> {
  const last = (await collect(client.watchRun({ runId, fromStep: 0 }))).at(-1)!.event!;
  assert.equal(last.$case, 'run');
  return last.value as trainerV1.Run;
}
const resume = (runId: string, additionalSteps: number, requestId: string) =>
  call(client.resumeRun.bind(client), { runId, additionalSteps, requestId });

test('a retried ResumeRun adds no steps, even after the run has paused again', { timeout: 60_000 }, async () => {
  const { run } = await call(client.startRun.bind(client), { requestId: '', spec: spec(2) });
  await stopped(run!.runId);
  const first = await resume(run!.runId, 2, 'resume-1');
  assert.equal(first.replayed, false);
  assert.equal((await stopped(run!.runId)).step, 4);
  const retry = await resume(run!.runId, 2, 'resume-1');
  assert.equal(retry.replayed, true);
  assert.deepEqual(retry.run, first.run, 'the first answer');
  const now = (await call(client.getRun.bind(client), { runId: run!.runId })).run!;
  assert.equal(now.state, S.RUN_STATE_PAUSED, 'nothing was resumed');
  assert.equal(now.spec!.budgetSteps, 4, 'no steps were added');
  await rejectsWith(resume(run!.runId, 3, 'resume-1'), grpc.status.INVALID_ARGUMENT, 'request_id');
});

test('a retried PauseRun answers the first answer after the run was resumed', { timeout: 60_000 }, async () => {
  const { run } = await call(client.startRun.bind(client), { requestId: '', spec: spec(10_000) });
  const pause = () => call(client.pauseRun.bind(client), { runId: run!.runId, requestId: 'pause-1' });
  const first = await pause();
  const paused = await stopped(run!.runId);
  assert.equal(paused.state, S.RUN_STATE_PAUSED);
  await resume(run!.runId, 0, 'resume-after-pause');
  const retry = await pause();
  assert.equal(retry.replayed, true);
  assert.deepEqual(retry.run, first.run);
  const now = (await call(client.getRun.bind(client), { runId: run!.runId })).run!;
  assert.ok(now.state === S.RUN_STATE_QUEUED || now.state === S.RUN_STATE_RUNNING, 'the retry did not pause it again');
  await call(client.cancelRun.bind(client), { runId: run!.runId, requestId: '' });
});

test('a retried CancelRun answers the first answer instead of FAILED_PRECONDITION', { timeout: 60_000 }, async () => {
  const { run } = await call(client.startRun.bind(client), { requestId: '', spec: spec(10_000) });
  const cancel = () => call(client.cancelRun.bind(client), { runId: run!.runId, requestId: 'cancel-1' });
  const first = await cancel();
  const retry = await cancel();
  assert.equal(first.run!.state, S.RUN_STATE_CANCELLED);
  assert.equal(retry.replayed, true);
  assert.deepEqual(retry.run, first.run);
  // Without a request id, cancelling a cancelled run is the wrong state.
  await rejectsWith(
    call(client.cancelRun.bind(client), { runId: run!.runId, requestId: '' }),
    grpc.status.FAILED_PRECONDITION,
  );
});
