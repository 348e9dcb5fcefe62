// DataProfilerService handlers: validate, open the data within the roots and the size cap, run the
// profiling libs with progress on the stream, and map results to the contract.
import { SERVICE_NAMES, commonV1, dataProfilerV1 as dp } from '@floe/contracts';
import { FloeError, invalidArgument } from '@floe/errors';
import {
  checkDatasetRef,
  checkModelRef,
  datasetSplit,
  defineService,
  modelSource,
  trainerRunResolver,
  validate,
  withProgress,
  yieldToEventLoop,
  type FloeConfig,
  type HostedService,
  type Logger,
  type ProgressReport,
} from '@floe/service-kit';
import { byteCount, exampleCount, openDataset, type Dataset, type TextDataset } from '@floe/data';
import { initBackend } from '@floe/ml-runtime';
import { LocalArtifactStore, floeDirs } from '@floe/store';
import { ExampleSource, LmSource, mismatch, openModel } from '@floe/training';
import type { Batch, BlockModel } from '@floe/models';
import {
  TextProfiler,
  compareDatasets,
  profileImages,
  profileTabular,
  DEFAULT_THRESHOLDS,
  type DriftThresholds,
} from '@floe/profiling';
import { meanLoss, planAdaptation, scoreBlocks, type Scores } from '@floe/adaptation';
import { Attr, SpanName, instrument } from '@floe/telemetry';
import { blockScore, driftReport, imageProfile, tabularProfile, textProfile } from './convert.js';

const KIND = {
  text: dp.DataKind.DATA_KIND_TEXT,
  tabular: dp.DataKind.DATA_KIND_TABULAR,
  image: dp.DataKind.DATA_KIND_IMAGE,
};
const ACTION = {
  freeze: commonV1.BlockAction.BLOCK_ACTION_FREEZE,
  tune: commonV1.BlockAction.BLOCK_ACTION_TUNE,
  expand: commonV1.BlockAction.BLOCK_ACTION_EXPAND,
};

type Split = 'train' | 'validation' | 'test' | 'all';

const tfDispose = (b: Batch) => {
  b.x.dispose();
  b.y.dispose();
};

export function createDataProfilerService(opts: {
  config: FloeConfig;
  log: Logger;
  backend?: 'auto' | 'native' | 'wasm' | 'cpu';
}): HostedService {
  const artifacts = new LocalArtifactStore(floeDirs(opts.config.home).artifacts);
  let selfAddress = opts.config.address;
  const resolveRun = trainerRunResolver(() => opts.config.peers.trainer ?? selfAddress);
  let backend: Promise<unknown> | undefined;
  const ready = () => (backend ??= initBackend(opts.backend));

  const open = (field: string, ref: commonV1.DatasetRef, fallback: Split): Dataset =>
    openDataset(
      { uri: ref.uri, split: datasetSplit(ref.split, fallback), maxExamples: ref.maxExamples },
      { dataRoots: opts.config.dataRoots, maxBytes: opts.config.maxDatasetBytes },
    );

  const thresholdsOf = (t: dp.DriftThresholds | undefined): DriftThresholds => ({
    psiModerate: t?.psiModerate || DEFAULT_THRESHOLDS.psiModerate,
    psiShifted: t?.psiShifted || DEFAULT_THRESHOLDS.psiShifted,
    ksPValue: t?.ksPValue || DEFAULT_THRESHOLDS.ksPValue,
    jsDistance: t?.jsDistance || DEFAULT_THRESHOLDS.jsDistance,
  });

  /** Calibration batches of `data` for `model`: byte sequences for language models, examples otherwise. */
  const batchesOf = (
    field: string,
    model: BlockModel,
    data: Dataset,
    n: number,
    batchSize: number,
    seqLen: number,
    seed: number,
  ): Batch[] => {
    const why = mismatch(model, data);
    if (why) throw invalidArgument(field, `cannot score the model: ${why}`);
    const context = Number(model.spec.config.context ?? 128);
    const source =
      data.kind === 'text'
        ? new LmSource(data as TextDataset, batchSize, Math.min(seqLen, context), seed)
        : new ExampleSource(data, batchSize, seed);
    return Array.from({ length: n }, () => source.next());
  };

  /** Scores the blocks of the requested model on new data (and its loss on the reference data, if given). */
  const score = async (
    req: {
      model?: commonV1.ModelRef;
      dataset?: commonV1.DatasetRef;
      calibrationBatches: number;
      batchSize: number;
      sequenceLength: number;
      seed: number;
    },
    data: Dataset,
    reference: Dataset | undefined,
    report: (p: ProgressReport) => void,
  ): Promise<{ scores: Scores; referenceLoss?: number; model: BlockModel }> => {
    await ready();
    const model = await openModel('model', modelSource(req.model!), artifacts, resolveRun);
    try {
      const n = req.calibrationBatches || 8;
      const batchSize = req.batchSize || 8;
      const seqLen = req.sequenceLength || 128;
      const batches = batchesOf('dataset', model, data, n, batchSize, seqLen, req.seed);
      const scores = await instrument(
        { name: SpanName.scoreBlocks, attributes: { [Attr.dataset]: req.dataset!.uri } },
        () =>
          scoreBlocks(model, batches, async (done) => {
            report({
              phase: 'score_blocks',
              done,
              total: n,
              fraction: (0.9 * done) / n,
              message: `calibration batch ${done} of ${n}`,
            });
            await yieldToEventLoop();
          }),
      );
      let referenceLoss: number | undefined;
      if (reference) {
        const refBatches = batchesOf('reference', model, reference, n, batchSize, seqLen, req.seed);
        referenceLoss = meanLoss(model, refBatches);
        for (const b of refBatches) tfDispose(b);
      }
      for (const b of batches) tfDispose(b);
      return { scores, referenceLoss, model };
    } catch (err) {
      model.dispose();
      throw err;
    }
  };

  const scoresMessage = (ref: commonV1.ModelRef, s: Scores, referenceLoss?: number): dp.BlockScores => ({
    model: ref,
    blocks: s.blocks.map(blockScore),
    loss: s.loss,
    referenceLoss,
  });

  return defineService(
    SERVICE_NAMES.dataProfiler,
    dp.DataProfilerServiceService,
    {
      async *profileDataset(req, ctx) {
        validate((v) => {
          checkDatasetRef(v, 'dataset', req.dataset);
          v.number('bins', req.bins, { min: 0, max: 1000, integer: true });
        });
        const bins = req.bins || 20;
        for await (const e of withProgress(async (report) =>
          instrument({ name: SpanName.profile, attributes: { [Attr.dataset]: req.dataset!.uri } }, async () => {
            const data = open('dataset', req.dataset!, 'all');
            report({ phase: 'load_data', done: 1, total: 1, fraction: 0.05, message: `${data.name}: ${data.kind}` });
            const base = { dataset: req.dataset, kind: KIND[data.kind] };
            if (data.kind === 'text') {
              const profiler = new TextProfiler();
              const n = data.documents.length;
              const every = Math.max(1, Math.ceil(n / 20));
              for (let i = 0; i < n; i++) {
                profiler.add(data.documents[i]!);
                if ((i + 1) % every === 0 || i === n - 1) {
                  if (ctx.signal.aborted) throw new FloeError('cancelled', 'the caller went away');
                  report({
                    phase: 'profile',
                    done: i + 1,
                    total: n,
                    fraction: 0.05 + (0.95 * (i + 1)) / n,
                    message: `${i + 1} of ${n} documents`,
                  });
                  await yieldToEventLoop();
                }
              }
              const text = profiler.finish(bins);
              return {
                ...base,
                exampleCount: n,
                byteCount: text.bytes,
                detail: { $case: 'text' as const, value: textProfile(text) },
              };
            }
            const counts = { exampleCount: exampleCount(data), byteCount: byteCount(data) };
            if (data.kind === 'tabular')
              return {
                ...base,
                ...counts,
                detail: { $case: 'tabular' as const, value: tabularProfile(profileTabular(data, bins)) },
              };
            return {
              ...base,
              ...counts,
              detail: { $case: 'image' as const, value: imageProfile(profileImages(data)) },
            };
          }),
        )) {
          yield 'progress' in e
            ? { event: { $case: 'progress', value: e.progress } }
            : { event: { $case: 'profile', value: e.result } };
        }
      },
      async *compareDatasets(req) {
        validate((v) => {
          checkDatasetRef(v, 'reference', req.reference);
          checkDatasetRef(v, 'current', req.current);
          v.number('bins', req.bins, { min: 0, max: 1000, integer: true });
          const t = req.thresholds;
          if (t) {
            v.number('thresholds.psi_moderate', t.psiModerate, { min: 0 });
            v.number('thresholds.psi_shifted', t.psiShifted, { min: 0 });
            v.number('thresholds.ks_p_value', t.ksPValue, { min: 0, max: 1 });
            v.number('thresholds.js_distance', t.jsDistance, { min: 0, max: 1 });
            if (t.psiModerate && t.psiShifted)
              v.check(t.psiModerate <= t.psiShifted, 'thresholds.psi_moderate', 'must not exceed psi_shifted');
          }
        });
        for await (const e of withProgress(async (report) =>
          instrument({ name: SpanName.drift, attributes: { [Attr.dataset]: req.current!.uri } }, async () => {
            const reference = open('reference', req.reference!, 'all');
            report({ phase: 'load_data', done: 1, total: 2, fraction: 0.25, message: reference.name });
            await yieldToEventLoop();
            const current = open('current', req.current!, 'all');
            report({ phase: 'load_data', done: 2, total: 2, fraction: 0.5, message: current.name });
            await yieldToEventLoop();
            if (reference.kind !== current.kind)
              throw invalidArgument('current', `is ${current.kind} data; the reference is ${reference.kind}`);
            return driftReport(
              compareDatasets(reference, current, { bins: req.bins || 10, thresholds: thresholdsOf(req.thresholds) }),
            );
          }),
        )) {
          yield 'progress' in e
            ? { event: { $case: 'progress', value: e.progress } }
            : { event: { $case: 'report', value: e.result } };
        }
      },
      async *scoreBlocks(req) {
        validate((v) => {
          checkModelRef(v, 'model', req.model);
          checkDatasetRef(v, 'dataset', req.dataset);
          checkDatasetRef(v, 'reference', req.reference, { required: false });
          v.number('calibration_batches', req.calibrationBatches, { min: 0, max: 10_000, integer: true });
          v.number('batch_size', req.batchSize, { min: 0, max: 4096, integer: true });
          v.number('sequence_length', req.sequenceLength, { min: 0, max: 65536, integer: true });
        });
        for await (const e of withProgress(async (report) => {
          const data = open('dataset', req.dataset!, 'train');
          const reference = req.reference?.uri ? open('reference', req.reference, 'train') : undefined;
          const { scores, referenceLoss, model } = await score(
            { ...req, seed: Number(req.seed) },
            data,
            reference,
            report,
          );
          model.dispose();
          return scoresMessage(req.model!, scores, referenceLoss);
        })) {
          yield 'progress' in e
            ? { event: { $case: 'progress', value: e.progress } }
            : { event: { $case: 'scores', value: e.result } };
        }
      },
      async *planAdaptation(req) {
        validate((v) => {
          checkModelRef(v, 'model', req.model);
          checkDatasetRef(v, 'dataset', req.dataset);
          checkDatasetRef(v, 'reference', req.reference);
          v.number('max_expansions', req.maxExpansions, { min: 0, max: 64, integer: true });
        });
        for await (const e of withProgress(async (report) => {
          const reference = open('reference', req.reference!, 'train');
          const current = open('dataset', req.dataset!, 'train');
          if (reference.kind !== current.kind)
            throw invalidArgument('dataset', `is ${current.kind} data; the reference is ${reference.kind}`);
          const drift = await instrument(
            { name: SpanName.drift, attributes: { [Attr.dataset]: req.dataset!.uri } },
            async () => compareDatasets(reference, current),
          );
          report({
            phase: 'drift',
            done: 1,
            total: 1,
            fraction: 0.1,
            message: `drift ${drift.verdict} (PSI ${drift.overallPsi.toFixed(3)})`,
          });
          // The data opened for the drift is the data scored: each is read once.
          const { scores, referenceLoss, model } = await score(
            {
              model: req.model,
              dataset: req.dataset,
              calibrationBatches: 8,
              batchSize: 8,
              sequenceLength: 128,
              seed: Number(req.seed),
            },
            current,
            reference,
            (p) => report({ ...p, fraction: 0.1 + 0.8 * p.fraction }),
          );
          model.dispose();
          return instrument({ name: SpanName.plan, attributes: { [Attr.dataset]: req.dataset!.uri } }, async () => {
            // The level of drift comes from PSI alone (the byte distribution for text): document lengths
            // of two samples of one source differ by chance more often than their bytes do.
            const t = DEFAULT_THRESHOLDS;
            const level =
              drift.overallPsi >= t.psiShifted ? 'shifted' : drift.overallPsi >= t.psiModerate ? 'moderate' : 'stable';
            const units = current.kind === 'text' ? byteCount(current) : exampleCount(current);
            const plan = planAdaptation({
              blocks: scores.blocks,
              drift: { verdict: level, psi: drift.overallPsi },
              maxExpansions: req.maxExpansions,
              newDataUnits: units,
              unitsPerStep: current.kind === 'text' ? 16 * 128 : 64,
              newLoss: scores.loss,
              referenceLoss,
            });
            const result: dp.AdaptationPlanResult = {
              plan: {
                freezeBlockIds: plan.freeze,
                tuneBlockIds: plan.tune,
                expansions: plan.expansions,
                replayFraction: plan.replayFraction,
                replayDataset:
                  plan.replayFraction > 0
                    ? { ...req.reference!, split: commonV1.DatasetSplit.DATASET_SPLIT_TRAIN }
                    : undefined,
                learningRate: plan.learningRate,
                budgetSteps: plan.budgetSteps,
                decisions: plan.decisions.map((d) => ({
                  blockId: d.blockId,
                  action: ACTION[d.action],
                  reason: d.reason,
                  score: d.score,
                })),
              },
              scores: scoresMessage(req.model!, scores, referenceLoss),
              drift: driftReport(drift),
            };
            return result;
          });
        })) {
          yield 'progress' in e
            ? { event: { $case: 'progress', value: e.progress } }
            : { event: { $case: 'result', value: e.result } };
        }
      },
    },
    { log: opts.log, onListening: (address) => (selfAddress = address) },
  );
}
