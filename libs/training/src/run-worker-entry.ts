// The worker side of a trainer run (see run-job.ts). A `pause` message stops it after the current step
// with a checkpoint.
import { parentPort, workerData } from 'node:worker_threads';
import { initBackend } from '@floe/ml-runtime';
import { buildModel, type BlockModel } from '@floe/models';
import { openDataset, type TextDataset } from '@floe/data';
import { LocalArtifactStore } from '@floe/store';
import { loadCheckpoint, saveCheckpoint } from './checkpoint.js';
import { ExampleSource, LmSource, type BatchSource } from './sources.js';
import { TrainingSession } from './session.js';
import type { RunCommand, RunEvent, RunJob } from './run-job.js';

const job = (workerData as { job: RunJob }).job;
const post = (e: RunEvent) => parentPort!.postMessage(e);
let pauseRequested = false;
parentPort!.on('message', (c: RunCommand) => {
  if (c.type === 'pause') pauseRequested = true;
});
// The command listener must not keep the thread alive once the run has stopped.
parentPort!.unref();

function applyStrategy(model: BlockModel): void {
  const s = job.strategy;
  if (s.kind === 'full') return;
  if (s.kind === 'freeze') {
    const frozen = new Set(s.freeze);
    model.setTrainable((b) => !frozen.has(b.id));
    return;
  }
  const added = s.expandAfter.length ? s.expandAfter.map((id) => model.expandAfter(id)) : model.expandEvenly(s.expandCount);
  const train = new Set([...added.map((b) => b.id), ...(s.kind === 'ade' ? s.tune : [])]);
  // EXPAND trains only the new blocks; ADE also tunes the blocks its plan names and freezes the rest.
  model.setTrainable((b) => train.has(b.id));
}

try {
  await initBackend(job.backend);
  const store = new LocalArtifactStore(job.artifactsDir);
  post({ type: 'phase', phase: 'floe.load_data' });
  const data = openDataset({ uri: job.dataset.uri, split: 'train' }, { dataRoots: job.dataRoots });
  const replay = job.replay && job.replay.fraction > 0 ? openDataset({ uri: job.replay.uri, split: 'train' }, { dataRoots: job.dataRoots }) : undefined;
  const source: BatchSource =
    data.kind === 'text'
      ? new LmSource(data as TextDataset, job.batchSize, job.sequenceLength, job.seed, replay ? { data: replay as TextDataset, fraction: job.replay!.fraction } : undefined)
      : new ExampleSource(data, job.batchSize, job.seed);
  // Validation: the same fixed batches at every evaluation (a fresh source with a fixed seed), so the
  // numbers compare across steps and are not part of the run's state.
  const validationData = job.evalEvery > 0 ? openDataset({ uri: (job.validation ?? job.dataset).uri, split: job.validation ? 'all' : 'validation' }, { dataRoots: job.dataRoots }) : undefined;
  const validationSource = (): BatchSource =>
    validationData!.kind === 'text' ? new LmSource(validationData as TextDataset, job.batchSize, job.sequenceLength, 7919) : new ExampleSource(validationData!, job.batchSize, 7919);
  post({ type: 'phase', phase: 'floe.build_model' });
  let model: BlockModel;
  let session: TrainingSession;
  const options = { optimizer: job.optimizer, schedule: job.schedule, totalSteps: job.budgetSteps };
  if (job.resumeFrom) {
    const restored = await loadCheckpoint(store, job.resumeFrom);
    model = restored.model;
    session = new TrainingSession(model, source, options);
    session.setState(restored.session);
  } else {
    model = buildModel(job.model.architecture, job.model.size, job.model.seed);
    post({ type: 'phase', phase: 'floe.apply_strategy' });
    applyStrategy(model);
    session = new TrainingSession(model, source, options);
  }
  post({ type: 'ready', step: session.step, trainableParams: model.countParams(true), totalParams: model.countParams(), blocks: model.blocks.map((b) => b.id) });
  const checkpoint = async () => {
    post({ type: 'phase', phase: 'floe.checkpoint' });
    const a = await saveCheckpoint(store, model, session.getState(), { labels: { run: job.runId, step: String(session.step) } });
    post({ type: 'checkpoint', step: session.step, artifactId: a.manifest.id });
  };
  post({ type: 'phase', phase: 'floe.train_segment' });
  while (session.step < job.budgetSteps && !pauseRequested) {
    const metrics = session.trainStep();
    let validationLoss: number | undefined;
    if (validationData && session.step % job.evalEvery === 0) {
      post({ type: 'phase', phase: 'floe.evaluate' });
      validationLoss = session.evaluate(validationSource(), 4);
      post({ type: 'phase', phase: 'floe.train_segment' });
    }
    post({ type: 'step', metrics, validationLoss });
    // Let a pause message in between steps.
    await new Promise((resolve) => setImmediate(resolve));
    if (job.checkpointEvery > 0 && session.step % job.checkpointEvery === 0 && session.step < job.budgetSteps) await checkpoint();
  }
  await checkpoint();
  post({ type: 'stopped', step: session.step, reason: pauseRequested && session.step < job.budgetSteps ? 'paused' : 'budget' });
} catch (err) {
  post({ type: 'error', message: (err as Error).message });
}
