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
    if (stepsAtFirstTick < 0 && messages.some((m) => m.type === 'ready'))
      stepsAtFirstTick = messages.filter((m) => m.type === 'step').length;
  }, 5);
  const job = runTrainingWorker(
    {
      backend: 'auto',
      architecture: 'transformer-lm',
      size: 'small',
      seed: 1,
      dataset: 'builtin:spam-assassin',
      batchSize: 8,
      sequenceLength: 64,
      steps: 6,
      learningRate: 3e-3,
      dataRoots: [],
    },
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

test(
  'two workers training at once share the native kernels safely and match a lone worker',
  { timeout: 180_000 },
  async () => {
    const job = {
      backend: 'auto' as const,
      architecture: 'transformer-lm' as const,
      size: 'small',
      seed: 2,
      dataset: 'builtin:spam-assassin',
      batchSize: 8,
      sequenceLength: 64,
      steps: 4,
      learningRate: 3e-3,
      dataRoots: [],
    };
    const lossesOf = async (n: number) => {
      const runs = Array.from({ length: n }, () => {
        const losses: number[] = [];
        return { losses, done: runTrainingWorker(job, (m) => m.type === 'step' && losses.push(m.metrics.loss)).done };
      });
      await Promise.all(runs.map((r) => r.done));
      return runs.map((r) => r.losses);
    };
    const [alone] = await lossesOf(1);
    const together = await lossesOf(2);
    // The one process-wide kernel thread pool takes its callers in turn; results do not depend on who else runs.
    for (const losses of together) assert.deepEqual(losses, alone);
  },
);
