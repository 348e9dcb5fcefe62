// Training in a worker thread leaves the event loop free: while a worker trains with the default backend
// (native kernels where built), timers on the main thread keep firing between its steps.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runTrainingWorker, type WorkerMessage } from '../src/index.js';

test('a training worker trains while the main event loop keeps running', { timeout: 120_000 }, async () => {
  const messages: WorkerMessage[] = [];
  let ticks = 0;
  let stepsAtFirstTick = -1;
  const timer = setInterval(() => {
    ticks++;
    if (stepsAtFirstTick < 0 && messages.some((m) => m.type === 'ready')) stepsAtFirstTick = messages.filter((m) => m.type === 'step').length;
  }, 5);
  const job = runTrainingWorker(
    { backend: 'auto', architecture: 'transformer-lm', size: 'small', seed: 1, dataset: 'builtin:spam-assassin', batchSize: 8, sequenceLength: 64, steps: 6, learningRate: 3e-3, dataRoots: [] },
    (m) => messages.push(m),
  );
  await job.done;
  clearInterval(timer);
  const steps = messages.filter((m): m is Extract<WorkerMessage, { type: 'step' }> => m.type === 'step');
  assert.equal(steps.length, 6);
  assert.ok(steps.at(-1)!.metrics.loss < steps[0]!.metrics.loss, 'the worker really trained');
  const trainingMs = steps.reduce((a, s) => a + s.metrics.ms, 0);
  // A 5 ms timer fires many times during the training; were the steps on this thread, it could not.
  assert.ok(ticks >= trainingMs / 5 / 4, `${ticks} ticks during ${trainingMs.toFixed(0)} ms of training`);
});
