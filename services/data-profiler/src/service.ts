// DataProfilerService handlers: validate, open the data within the roots and the size cap, run the
// profiling libs with progress on the stream, and map results to the contract. Block scoring (TF.js) runs
// in a worker thread (score-task.ts); the policy of plans is libs/adaptation's.
import { SERVICE_NAMES, commonV1, dataProfilerV1 as dp } from '@floe/contracts';
import { invalidArgument } from '@floe/errors';
import {
  Peers,
  checkDatasetRef,
  checkModelRef,
  datasetSplit,
  defineService,
  modelSource,
  trainerRunResolver,
  validate,
  withProgress,
  yieldToEventLoop,
  type HostedService,
  type ProgressReport,
  type ServiceContext,
  type Validator,
} from '@floe/service-kit';
import {
  byteCount,
  exampleCount,
  finishYielding,
  openDatasetAsync,
  selectSplitSteps,
  splitSizes,
  splitRule,
  type Dataset,
} from '@floe/data';
import { computeEnv, resolveModelSource, runTask, taskWorkerOptions } from '@floe/training';
import {
  TextProfiler,
  compareSteps,
  profileImageSteps,
  profileTabularSteps,
  DEFAULT_THRESHOLDS,
  type DriftThresholds,
} from '@floe/profiling';
import { driftLevel, planAdaptation, unitsPerStep, type Plan, type Scores } from '@floe/adaptation';
import { Attr, SpanName, instrument } from '@floe/telemetry';
import { blockScore, driftReport, imageProfile, tabularProfile, textProfile } from './convert.js';
import { searchPlan, searchTemplate } from './plan-search.js';
import type { ScoreTaskInput, ScoreTaskOutput, ScoreTaskProgress, TaskDataRef } from './score-task.js';

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
const SCORE_TASK = new URL('./score-task.ts', import.meta.url);

type Split = 'train' | 'validation' | 'test' | 'all';

function checkThresholds(v: Validator, field: string, t: dp.DriftThresholds | undefined): void {
  if (!t) return;
  v.number(`${field}.psi_moderate`, t.psiModerate, { min: 0 });
  v.number(`${field}.psi_shifted`, t.psiShifted, { min: 0 });
  v.number(`${field}.ks_p_value`, t.ksPValue, { min: 0, max: 1 });
  v.number(`${field}.js_distance`, t.jsDistance, { min: 0, max: 1 });
  if (t.psiModerate && t.psiShifted)
    v.check(t.psiModerate <= t.psiShifted, `${field}.psi_moderate`, 'must not exceed psi_shifted');
}

function checkScoring(v: Validator, req: { calibrationBatches: number; batchSize: number; sequenceLength: number }) {
  v.number('calibration_batches', req.calibrationBatches, { min: 0, max: 10_000, integer: true });
  v.number('batch_size', req.batchSize, { min: 0, max: 4096, integer: true });
  v.number('sequence_length', req.sequenceLength, { min: 0, max: 65536, integer: true });
}

export function createDataProfilerService(opts: ServiceContext): HostedService {
  const { config } = opts;
  const peers = opts.peers ?? new Peers(config);
  const resolveRun = trainerRunResolver(peers);
  const env = computeEnv(config);
  const limits = { dataRoots: config.dataRoots, maxBytes: config.maxDatasetBytes };

  const taskRef = (field: string, ref: commonV1.DatasetRef, fallback: Split): TaskDataRef => ({
    field,
    uri: ref.uri,
    split: datasetSplit(ref.split, fallback),
    maxExamples: Number(ref.maxExamples),
    targetColumn: ref.targetColumn,
    ignoreColumns: ref.ignoreColumns,
  });
  // Reading stops when the call's signal aborts (the caller went away, the deadline passed).
  const open = (r: TaskDataRef, signal: AbortSignal): Promise<Dataset> =>
    openDatasetAsync(r, { ...limits, signal }, r.field);

  const thresholdsOf = (t: dp.DriftThresholds | undefined): DriftThresholds => ({
    psiModerate: t?.psiModerate || DEFAULT_THRESHOLDS.psiModerate,
    psiShifted: t?.psiShifted || DEFAULT_THRESHOLDS.psiShifted,
    ksPValue: t?.ksPValue || DEFAULT_THRESHOLDS.ksPValue,
    jsDistance: t?.jsDistance || DEFAULT_THRESHOLDS.jsDistance,
  });

  /** Scores the model's blocks on `dataset` (and its loss on `reference`) in a worker thread. */
  const score = async (
    req: {
      model?: commonV1.ModelRef;
      calibrationBatches: number;
      batchSize: number;
      sequenceLength: number;
      seed: number;
    },
    dataset: TaskDataRef,
    reference: TaskDataRef | undefined,
    report: (p: ProgressReport) => void,
    signal: AbortSignal,
  ): Promise<ScoreTaskOutput> => {
    const model = await resolveModelSource(modelSource(req.model!), resolveRun);
    return instrument({ name: SpanName.scoreBlocks, attributes: { [Attr.dataset]: dataset.uri } }, () =>
      runTask<ScoreTaskInput, ScoreTaskOutput, ScoreTaskProgress>(
        SCORE_TASK,
        { env, model, dataset, reference, scoring: req, seed: req.seed },
        {
          signal,
          ...taskWorkerOptions(env),
          onProgress: ({ done, total }) =>
            report({
              phase: 'score_blocks',
              done,
              total,
              fraction: (0.9 * done) / total,
              message: `calibration batch ${done} of ${total}`,
            }),
        },
      ),
    );
  };

  const scoresMessage = (ref: commonV1.ModelRef, s: Scores, referenceLoss?: number): dp.BlockScores => ({
    model: ref,
    blocks: s.blocks.map(blockScore),
    loss: s.loss,
    referenceLoss,
  });

  return defineService(
    SERVICE_NAMES['data-profiler'],
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
            const ref = taskRef('dataset', req.dataset!, 'all');
            const full = await open({ ...ref, split: 'all', maxExamples: 0 }, ctx.signal);
            const data =
              ref.split === 'all' && !ref.maxExamples
                ? full
                : await finishYielding(selectSplitSteps(full, ref.split, ref.maxExamples), { signal: ctx.signal });
            report({ phase: 'load_data', done: 1, total: 1, fraction: 0.05, message: `${data.name}: ${data.kind}` });
            const base = {
              dataset: req.dataset,
              kind: KIND[data.kind],
              splitRule: splitRule(full),
              splitSizes: splitSizes(full),
            };
            if (data.kind === 'text') {
              const profiler = new TextProfiler();
              const n = data.documents.length;
              const every = Math.max(1, Math.ceil(n / 20));
              // In slices of time, inside a document too (a single file can be hundreds of megabytes).
              await finishYielding(
                (function* () {
                  for (let i = 0; i < n; i++) {
                    yield* profiler.addSteps(data.documents[i]!);
                    if ((i + 1) % every === 0 || i === n - 1)
                      report({
                        phase: 'profile',
                        done: i + 1,
                        total: n,
                        fraction: 0.05 + (0.95 * (i + 1)) / n,
                        message: `${i + 1} of ${n} documents`,
                      });
                    yield;
                  }
                })(),
                { signal: ctx.signal },
              );
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
                detail: {
                  $case: 'tabular' as const,
                  value: tabularProfile(await finishYielding(profileTabularSteps(data, bins), { signal: ctx.signal })),
                },
              };
            return {
              ...base,
              ...counts,
              detail: {
                $case: 'image' as const,
                value: imageProfile(await finishYielding(profileImageSteps(data), { signal: ctx.signal })),
              },
            };
          }),
        )) {
          yield 'progress' in e
            ? { event: { $case: 'progress', value: e.progress } }
            : { event: { $case: 'profile', value: e.result } };
        }
      },
      async *compareDatasets(req, ctx) {
        validate((v) => {
          checkDatasetRef(v, 'reference', req.reference);
          checkDatasetRef(v, 'current', req.current);
          v.number('bins', req.bins, { min: 0, max: 1000, integer: true });
          checkThresholds(v, 'thresholds', req.thresholds);
        });
        for await (const e of withProgress(async (report) =>
          instrument({ name: SpanName.drift, attributes: { [Attr.dataset]: req.current!.uri } }, async () => {
            const reference = await open(taskRef('reference', req.reference!, 'all'), ctx.signal);
            report({ phase: 'load_data', done: 1, total: 2, fraction: 0.25, message: reference.name });
            await yieldToEventLoop();
            const current = await open(taskRef('current', req.current!, 'all'), ctx.signal);
            report({ phase: 'load_data', done: 2, total: 2, fraction: 0.5, message: current.name });
            await yieldToEventLoop();
            if (reference.kind !== current.kind)
              throw invalidArgument('current', `is ${current.kind} data; the reference is ${reference.kind}`);
            return driftReport(
              await finishYielding(
                compareSteps(reference, current, { bins: req.bins || 10, thresholds: thresholdsOf(req.thresholds) }),
                { signal: ctx.signal },
              ),
            );
          }),
        )) {
          yield 'progress' in e
            ? { event: { $case: 'progress', value: e.progress } }
            : { event: { $case: 'report', value: e.result } };
        }
      },
      async *scoreBlocks(req, ctx) {
        validate((v) => {
          checkModelRef(v, 'model', req.model);
          checkDatasetRef(v, 'dataset', req.dataset);
          checkDatasetRef(v, 'reference', req.reference, { required: false });
          checkScoring(v, req);
        });
        for await (const e of withProgress(async (report) => {
          const dataset = taskRef('dataset', req.dataset!, 'train');
          const reference = req.reference?.uri ? taskRef('reference', req.reference, 'train') : undefined;
          const { scores, referenceLoss } = await score(
            { ...req, seed: Number(req.seed) },
            dataset,
            reference,
            report,
            ctx.signal,
          );
          return scoresMessage(req.model!, scores, referenceLoss);
        })) {
          yield 'progress' in e
            ? { event: { $case: 'progress', value: e.progress } }
            : { event: { $case: 'scores', value: e.result } };
        }
      },
      async *planAdaptation(req, ctx) {
        validate((v) => {
          checkModelRef(v, 'model', req.model);
          checkDatasetRef(v, 'dataset', req.dataset);
          checkDatasetRef(v, 'reference', req.reference);
          v.number('max_expansions', req.maxExpansions, { min: 0, max: 64, integer: true });
          checkScoring(v, req);
          checkThresholds(v, 'thresholds', req.thresholds);
          v.number('units_per_step', req.unitsPerStep, { min: 0, max: 1e12, integer: true });
          v.enumValue('mode', req.mode, dp.PlanMode, { allowUnspecified: true });
          v.number('forgetting_budget', req.forgettingBudget, { min: 0 });
          const o = req.search;
          if (o) {
            v.number('search.pilot_fraction', o.pilotFraction, { min: 0, max: 10 });
            v.number('search.max_pilot_fraction', o.maxPilotFraction, { min: 0, max: 1 });
            v.number('search.max_candidates', o.maxCandidates, { min: 0, max: 32, integer: true });
            v.number('search.fidelity_steps', o.fidelitySteps, { min: 0, max: 100, integer: true });
            v.number('search.confirm_fraction', o.confirmFraction, { min: 0, max: 1 });
          }
        });
        const searching = req.mode === dp.PlanMode.PLAN_MODE_SEARCH;
        // A SEARCH request's run template is checked before any work.
        if (searching) searchTemplate(req);
        for await (const e of withProgress(async (report) => {
          const referenceRef = taskRef('reference', req.reference!, 'train');
          const currentRef = taskRef('dataset', req.dataset!, 'train');
          const reference = await open(referenceRef, ctx.signal);
          const current = await open(currentRef, ctx.signal);
          if (reference.kind !== current.kind)
            throw invalidArgument('dataset', `is ${current.kind} data; the reference is ${reference.kind}`);
          const drift = await instrument(
            { name: SpanName.drift, attributes: { [Attr.dataset]: req.dataset!.uri } },
            () => finishYielding(compareSteps(reference, current), { signal: ctx.signal }),
          );
          report({
            phase: 'drift',
            done: 1,
            total: 1,
            fraction: 0.1,
            message: `drift ${drift.verdict} (PSI ${drift.overallPsi.toFixed(3)})`,
          });
          // The worker opens the same data again for scoring (a thread has its own copy).
          const { scores, referenceLoss } = await score(
            { ...req, seed: Number(req.seed) },
            currentRef,
            referenceRef,
            (p) => report({ ...p, fraction: 0.1 + (searching ? 0.2 : 0.8) * p.fraction }),
            ctx.signal,
          );
          const rules = await instrument(
            { name: SpanName.plan, attributes: { [Attr.dataset]: req.dataset!.uri } },
            async () =>
              planAdaptation({
                blocks: scores.blocks,
                drift: { verdict: driftLevel(drift.overallPsi, thresholdsOf(req.thresholds)), psi: drift.overallPsi },
                maxExpansions: req.maxExpansions,
                newDataUnits: current.kind === 'text' ? byteCount(current) : exampleCount(current),
                unitsPerStep: unitsPerStep(current.kind, Number(req.unitsPerStep)),
                newLoss: scores.loss,
                referenceLoss,
              }),
          );
          const toContract = (plan: Plan): commonV1.AdaptationPlan => ({
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
          });
          const result: dp.AdaptationPlanResult = {
            plan: toContract(rules),
            scores: scoresMessage(req.model!, scores, referenceLoss),
            drift: driftReport(drift),
          };
          if (!searching) return result;
          const found = await instrument(
            { name: SpanName.planSearch, attributes: { [Attr.dataset]: req.dataset!.uri } },
            () =>
              searchPlan({
                request: req,
                rules,
                blocks: scores.blocks,
                text: current.kind === 'text',
                toContract,
                peers,
                report,
                signal: ctx.signal,
              }),
          );
          return { ...result, plan: toContract(found.plan), search: found.report };
        })) {
          yield 'progress' in e
            ? { event: { $case: 'progress', value: e.progress } }
            : { event: { $case: 'result', value: e.result } };
        }
      },
    },
    { log: opts.log, peers },
  );
}
