// The trainer's worker path (startRunWorker, as RunManager uses it): training leaves the event loop free,
// and two runs training at once share the native kernels safely.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tempDir } from '@floe/testing';
import { startRunWorker, type RunEvent, type RunJob } from '../src/index.js';

const home = tempDir();

const job = (runId: string, budgetSteps: number, seed: number): RunJob => ({
  runId,
  model: { architecture: 'transformer-lm', size: 'small', seed },
  dataset: { uri: 'builtin:spam-assassin', split: 'train', maxExamples: 0, targetColumn: '', ignoreColumns: [] },
  strategy: { kind: 'full', freeze: [], expandAfter: [], expandCount: 0, tune: [] },
  optimizer: {
    kind: 'adamw',
    learningRate: 3e-3,
    beta1: 0.9,
    beta2: 0.999,
    epsilon: 1e-8,
    weightDecay: 0,
    gradClipNorm: 0,
  },
  schedule: { kind: 'constant', warmupSteps: 0, minRatio: 0 },
  horizonSteps: 0,
  batchSize: 8,
  sequenceLength: 64,
  budgetSteps,
  checkpointEvery: 0,
  evalEvery: 0,
  seed,
  backend: 'auto',
  threads: 2,
  artifactsDir: `${home.path}/artifacts`,
  dataRoots: [],
  maxDatasetBytes: 1 << 30,
});

/** Runs a job to its end; returns every event. */
async function run(j: RunJob): Promise<RunEvent[]> {
  const events: RunEvent[] = [];
  const handle = startRunWorker(j, (e) => events.push(e));
  await handle.exited;
  return events;
}

const losses = (events: RunEvent[]) => events.flatMap((e) => (e.type === 'step' ? [e.metrics.loss] : []));

test('a run worker trains while the main event loop keeps running', { timeout: 120_000 }, async () => {
  let ticks = 0;
  const timer = setInterval(() => ticks++, 5);
  const events = await run(job('run-a', 6, 1));
  clearInterval(timer);
  const steps = events.flatMap((e) => (e.type === 'step' ? [e.metrics] : []));
  assert.equal(steps.length, 6);
  assert.equal(events.at(-1)?.type, 'stopped');
  assert.ok(steps.at(-1)!.loss < steps[0]!.loss, 'the worker really trained');
  const trainingMs = steps.reduce((a, s) => a + s.ms, 0);
  // A 5 ms timer fires many times during the training; were the steps on this thread, it could not.
  assert.ok(ticks >= trainingMs / 5 / 4, `${ticks} ticks during ${trainingMs.toFixed(0)} ms of training`);
});

test(
  'two run workers at once share the native kernels safely and match a lone worker',
  { timeout: 180_000 },
  async () => {
    const alone = losses(await run(job('run-b', 4, 2)));
    const together = await Promise.all([run(job('run-c', 4, 2)), run(job('run-d', 4, 2))]);
    // The one process-wide kernel thread pool takes its callers in turn; results do not depend on who else runs.
    for (const events of together) assert.deepEqual(losses(events), alone);
    home.remove();
  },
);
