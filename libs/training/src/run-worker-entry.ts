// The worker side of a trainer run (see run-job.ts). A `pause` message stops it after the current step
// with a checkpoint.
import { parentPort, workerData } from 'node:worker_threads';
import { initBackend } from '@floe/ml-runtime';
import { buildModel, type BlockModel } from '@floe/models';
import { openDataset, type TextDataset } from '@floe/data';
import { LocalArtifactStore } from '@floe/store';
import { loadCheckpoint, saveCheckpoint } from './checkpoint.js';
import { loadModelArtifact } from './open-model.js';
import {
  ExampleSource,
  LmSource,
  TRAINED_SEQUENCE_LENGTH,
  builtinShape,
  growToData,
  schemaOf,
  type BatchSource,
} from './sources.js';
import { TrainingSession } from './session.js';
import { applyStrategy } from './strategy.js';
import { BlockCoordinateTraining, MaskedTraining, restoreSelective } from './selective.js';
import { observeValidationLoss, stopsEarly } from './early-stopping.js';
import {
  VALIDATION_BATCHES,
  divergence,
  type Evaluation,
  type RunCommand,
  type RunEvent,
  type RunJob,
} from './run-job.js';
import { Attr, SpanName, type SpanNameValue } from '@floe/telemetry/names';

const job = (workerData as { job: RunJob }).job;
const post = (e: RunEvent) => parentPort!.postMessage(e);
let pauseRequested = false;
parentPort!.on('message', (c: RunCommand) => {
  if (c.type === 'pause') pauseRequested = true;
});
// The command listener must not keep the thread alive once the run has stopped.
parentPort!.unref();

const now = () => performance.timeOrigin + performance.now();

/** Runs `fn` as one phase: the parent opens a span at the start edge and closes it at the end edge. */
async function phase<T>(
  name: SpanNameValue,
  fn: () => T | Promise<T>,
  endAttributes?: () => Record<string, string | number>,
): Promise<T> {
  post({ type: 'phase', phase: name, edge: 'start', time: now() });
  let ok = false;
  try {
    const result = await fn();
    ok = true;
    return result;
  } finally {
    post({ type: 'phase', phase: name, edge: 'end', time: now(), attributes: ok ? endAttributes?.() : undefined });
  }
}

try {
  await initBackend(job.backend, { threads: job.threads });
  const store = new LocalArtifactStore(job.artifactsDir);
  const limits = { dataRoots: job.dataRoots, maxBytes: job.maxDatasetBytes };
  const { data, replay, validationData, referenceData } = await phase(SpanName.loadData, () => ({
    data: openDataset(job.dataset, limits, 'spec.dataset'),
    replay:
      job.replay && job.replay.fraction > 0
        ? openDataset(job.replay, limits, 'spec.mixture.replay_dataset')
        : undefined,
    // Validation: the same fixed batches at every evaluation (a fresh source with a fixed seed), so the
    // numbers compare across steps and are not part of the run's state.
    validationData:
      job.evalEvery > 0 && job.validation ? openDataset(job.validation, limits, 'spec.validation_dataset') : undefined,
    referenceData:
      job.evalEvery > 0 && job.referenceValidation
        ? openDataset(job.referenceValidation, limits, 'spec.reference_validation_dataset')
        : undefined,
  }));
  // Examples meet the model's classes by name (a table's own numbering may differ), so the sources are made
  // for the model once it is built or restored.
  const sourceFor = (m: BlockModel): BatchSource =>
    data.kind === 'text'
      ? new LmSource(
          data as TextDataset,
          job.batchSize,
          job.sequenceLength,
          job.seed,
          replay ? { data: replay as TextDataset, fraction: job.replay!.fraction } : undefined,
        )
      : new ExampleSource(data, job.batchSize, job.seed, {
          replay: replay && { data: replay as Exclude<typeof replay, TextDataset>, fraction: job.replay!.fraction },
          schema: schemaOf(m),
          balanceClasses: job.balanceClasses,
        });
  const fixedBatches = (d: typeof data): BatchSource =>
    d.kind === 'text'
      ? new LmSource(d as TextDataset, job.batchSize, job.sequenceLength, 7919)
      : new ExampleSource(d, job.batchSize, 7919, { schema: schemaOf(model) });
  /** The validation loss and, when the run has old-domain data to watch, the loss there too; each with its
   * per-batch losses (the same fixed batches in every run, so two runs compare batch by batch). */
  const evaluate = async (): Promise<Evaluation> =>
    phase(SpanName.evaluate, () => {
      const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
      const validationBatchLosses = session.evaluateBatches(fixedBatches(validationData!), VALIDATION_BATCHES);
      const referenceBatchLosses = referenceData
        ? session.evaluateBatches(fixedBatches(referenceData), VALIDATION_BATCHES)
        : undefined;
      return {
        validationLoss: mean(validationBatchLosses),
        validationBatchLosses,
        referenceValidationLoss: referenceBatchLosses && mean(referenceBatchLosses),
        referenceValidationBatchLosses: referenceBatchLosses,
      };
    });
  const options = {
    optimizer: job.optimizer,
    schedule: job.schedule,
    totalSteps: job.horizonSteps || job.budgetSteps,
  };
  const resumeFrom = job.resumeFrom;
  let model: BlockModel;
  let session: TrainingSession;
  if (resumeFrom) {
    const restored = await phase(SpanName.buildModel, () => loadCheckpoint(store, resumeFrom));
    model = restored.model;
    session = new TrainingSession(model, sourceFor(model), options);
    session.setState(restored.session);
    if (restored.session.selective)
      session.selective = restoreSelective(model, session.optimizer, restored.session.selective, job.seed);
  } else {
    const base = job.model;
    model = await phase(SpanName.buildModel, async () => {
      if (!('checkpoint' in base)) {
        const shape = builtinShape(base.architecture, data, replay);
        return buildModel(base.architecture, base.size, base.seed, shape.overrides, shape.task);
      }
      // A new run from a checkpoint takes its weights (and expansions), not its optimizer or data cursor;
      // its own strategy decides what trains.
      const m = await loadModelArtifact(store, base.checkpoint);
      m.setTrainable(() => true);
      // Categories the data brings that the model never read, and classes it never predicted: it grows by them.
      return growToData(m, [data, replay]);
    });
    session = new TrainingSession(model, sourceFor(model), options);
    const created = session;
    await phase(
      SpanName.applyStrategy,
      () => {
        applyStrategy(model, job.strategy);
        const { sparse, bcd } = job.strategy;
        if (sparse) {
          // The mask's batch comes from its own stream (seed + 1), so the run's data order is that of any other run.
          const scoring =
            data.kind === 'text'
              ? new LmSource(data as TextDataset, sparse.scoreExamples, job.sequenceLength, job.seed + 1)
              : new ExampleSource(data, sparse.scoreExamples, job.seed + 1, { schema: schemaOf(model) });
          const batch = scoring.next();
          try {
            created.selective = MaskedTraining.create(model, created.optimizer, sparse, batch);
          } finally {
            batch.x.dispose();
            batch.y.dispose();
          }
        }
        if (bcd) created.selective = new BlockCoordinateTraining(model, created.optimizer, bcd, job.seed);
      },
      () => ({
        [Attr.trainableParams]: created.selective?.trainableEntries() ?? model.countParams(true),
        [Attr.totalParams]: model.countParams(),
      }),
    );
  }
  // A language model learns positions up to the sequence length it trains on, not its whole context: its
  // checkpoints record the longest it has trained on, so Generate reads that much by default.
  if (model.task === 'language-model')
    model.spec.config[TRAINED_SEQUENCE_LENGTH] = Math.max(
      Number(model.spec.config[TRAINED_SEQUENCE_LENGTH] ?? 0),
      job.sequenceLength,
    );
  // Before the first step: the loss the strategy starts from (EXPAND: the base model's, unchanged).
  const initial = validationData && !resumeFrom ? await evaluate() : undefined;
  post({
    type: 'ready',
    step: session.step,
    trainableParams: session.selective?.trainableEntries() ?? model.countParams(true),
    totalParams: model.countParams(),
    blocks: model.blocks.map((b) => b.id),
    initialValidationLoss: initial?.validationLoss,
    initialReferenceValidationLoss: initial?.referenceValidationLoss,
  });
  // The step whose checkpoint exists: a resumed run's is the one it restored.
  let checkpointedStep = resumeFrom ? session.step : -1;
  const checkpoint = () =>
    phase(SpanName.checkpoint, async () => {
      // A pause right after an interval's checkpoint has nothing new to write.
      if (session.step === checkpointedStep) return;
      checkpointedStep = session.step;
      const a = await saveCheckpoint(store, model, session.getState(), {
        labels: { run: job.runId, step: String(session.step) },
      });
      post({ type: 'checkpoint', step: session.step, artifactId: a.manifest.id });
    });
  const early = job.earlyStopping;
  let earlyStopping = early?.state;
  let stoppedEarly = false;
  await phase(SpanName.trainSegment, async () => {
    while (session.step < job.budgetSteps && !pauseRequested && !stoppedEarly) {
      const metrics = session.trainStep();
      const evaluated = validationData && session.step % job.evalEvery === 0 ? await evaluate() : undefined;
      const diverged = divergence(metrics.step, metrics.loss, evaluated?.validationLoss);
      if (diverged) throw new Error(diverged);
      post({ type: 'step', metrics, ...evaluated });
      if (early && earlyStopping && evaluated?.validationLoss !== undefined) {
        earlyStopping = observeValidationLoss(earlyStopping, evaluated.validationLoss, early);
        stoppedEarly = stopsEarly(earlyStopping, early);
      }
      // Let a pause message in between steps.
      await new Promise((resolve) => setImmediate(resolve));
      if (job.checkpointEvery > 0 && session.step % job.checkpointEvery === 0 && session.step < job.budgetSteps)
        await checkpoint();
    }
    await checkpoint();
  });
  post({
    type: 'stopped',
    step: session.step,
    // Early stopping or a pause at the budget's last step is the budget's end.
    reason: session.step >= job.budgetSteps ? 'budget' : stoppedEarly ? 'early_stopped' : 'paused',
  });
} catch (err) {
  post({ type: 'error', message: (err as Error).message });
}
