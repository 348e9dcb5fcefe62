// TrainerService handlers: validate, read and write the run store, map to the contract. Runs themselves
// (workers, durability, spans) live in run-manager.ts.
import { SERVICE_NAMES, commonV1, dataProfilerV1, trainerV1 } from '@floe/contracts';
import { FloeError, failedPrecondition, notFound } from '@floe/errors';
import { computeEnv, runTask, taskWorkerOptions } from '@floe/training';
import {
  Peers,
  Validator,
  checkDatasetRef,
  checkModelRef,
  checkPage,
  checkPlan,
  collect,
  fromPeerError,
  defineService,
  validate,
  type HostedService,
  type ServiceContext,
} from '@floe/service-kit';
import { RequestLog, LocalArtifactStore, openMetadataStore, floeDirs, type MetadataStore } from '@floe/store';
import { RunManager, SPARSE_STRATEGIES } from './run-manager.js';
import type { ExportTaskInput, ExportTaskOutput } from './export-task.js';

const EXPORT_TASK = new URL('./export-task.ts', import.meta.url);

export function checkRunSpec(v: Validator, field: string, spec: trainerV1.RunSpec | undefined): void {
  if (!spec) {
    v.add(field, 'is required');
    return;
  }
  checkModelRef(v, `${field}.base_model`, spec.baseModel);
  checkDatasetRef(v, `${field}.dataset`, spec.dataset);
  checkDatasetRef(v, `${field}.validation_dataset`, spec.validationDataset, { required: false });
  v.enumValue(`${field}.strategy`, spec.strategy, trainerV1.Strategy);
  spec.freezeBlockIds.forEach((b, i) => v.string(`${field}.freeze_block_ids[${i}]`, b, { required: true, max: 128 }));
  v.count(`${field}.freeze_block_ids`, spec.freezeBlockIds, 1024);
  if (spec.strategy === trainerV1.Strategy.STRATEGY_FREEZE)
    v.count(`${field}.freeze_block_ids`, spec.freezeBlockIds, 1024, 1);
  if (spec.expansion) {
    spec.expansion.afterBlockIds.forEach((b, i) =>
      v.string(`${field}.expansion.after_block_ids[${i}]`, b, { required: true, max: 128 }),
    );
    v.number(`${field}.expansion.count`, spec.expansion.count, { min: 0, max: 64, integer: true });
  }
  if (spec.strategy === trainerV1.Strategy.STRATEGY_EXPAND) {
    v.check(
      !!spec.expansion && (spec.expansion.afterBlockIds.length > 0 || spec.expansion.count > 0),
      `${field}.expansion`,
      'EXPAND needs after_block_ids or a count',
    );
  }
  checkPlan(v, `${field}.plan`, spec.plan);
  checkSelective(v, field, spec);
  const o = spec.optimizer;
  if (o) {
    v.enumValue(`${field}.optimizer.kind`, o.kind, trainerV1.OptimizerKind, { allowUnspecified: true });
    v.number(`${field}.optimizer.learning_rate`, o.learningRate, { min: 0, max: 10 });
    v.number(`${field}.optimizer.beta1`, o.beta1, { min: 0, max: 0.999999 });
    v.number(`${field}.optimizer.beta2`, o.beta2, { min: 0, max: 0.999999 });
    v.number(`${field}.optimizer.epsilon`, o.epsilon, { min: 0, max: 1 });
    v.number(`${field}.optimizer.weight_decay`, o.weightDecay, { min: 0, max: 10 });
    v.number(`${field}.optimizer.grad_clip_norm`, o.gradClipNorm, { min: 0 });
  }
  const s = spec.schedule;
  if (s) {
    v.enumValue(`${field}.schedule.kind`, s.kind, trainerV1.ScheduleKind, { allowUnspecified: true });
    v.number(`${field}.schedule.warmup_steps`, s.warmupSteps, { min: 0, integer: true });
    v.number(`${field}.schedule.warmup_ratio`, s.warmupRatio, { min: 0, max: 0.999 });
    v.number(`${field}.schedule.min_lr_ratio`, s.minLrRatio, { min: 0, max: 1 });
    v.number(`${field}.schedule.horizon_steps`, s.horizonSteps, { min: 0, max: 1e9, integer: true });
  }
  v.number(`${field}.batch_size`, spec.batchSize, { min: 1, max: 65536, integer: true });
  v.number(`${field}.sequence_length`, spec.sequenceLength, { min: 0, max: 65536, integer: true });
  v.number(`${field}.budget_steps`, spec.budgetSteps, { min: 1, max: 1e9, integer: true });
  v.number(`${field}.eval_interval_steps`, spec.evalIntervalSteps, { min: 0, integer: true });
  v.number(`${field}.checkpoint_interval_steps`, spec.checkpointIntervalSteps, { min: 0, integer: true });
  const retention = spec.checkpointRetention;
  if (retention) {
    v.number(`${field}.checkpoint_retention.keep_last`, retention.keepLast, { min: 0, max: 1e6, integer: true });
    if (retention.keepBest)
      v.check(
        Number(spec.evalIntervalSteps) > 0,
        `${field}.checkpoint_retention.keep_best`,
        'the best checkpoint is the one with the lowest validation loss at its step; set eval_interval_steps > 0',
      );
  }
  const early = spec.earlyStopping;
  if (early) {
    v.number(`${field}.early_stopping.min_delta`, early.minDelta, { min: 0 });
    if (v.number(`${field}.early_stopping.patience`, early.patience, { min: 0, max: 100_000, integer: true }))
      v.check(
        early.patience === 0 || Number(spec.evalIntervalSteps) > 0,
        `${field}.early_stopping.patience`,
        'early stopping watches the validation loss; set eval_interval_steps > 0',
      );
  }
  if (spec.referenceValidationDataset)
    checkDatasetRef(v, `${field}.reference_validation_dataset`, spec.referenceValidationDataset);
  if (spec.mixture) {
    v.number(`${field}.mixture.replay_fraction`, spec.mixture.replayFraction, { min: 0, max: 0.99 });
    // ADE without a plan reads the old domain from here even at fraction 0.
    const adeWithoutPlan = spec.strategy === trainerV1.Strategy.STRATEGY_ADE && !spec.plan;
    if (spec.mixture.replayFraction > 0 || (adeWithoutPlan && spec.mixture.replayDataset))
      checkDatasetRef(v, `${field}.mixture.replay_dataset`, spec.mixture.replayDataset);
  }
  const labels = Object.entries(spec.labels);
  v.count(`${field}.labels`, labels, 64);
  for (const [k, val] of labels) {
    v.string(`${field}.labels[${JSON.stringify(k.slice(0, 64))}]`, k, { required: true, max: 63 });
    v.string(`${field}.labels[${JSON.stringify(k.slice(0, 64))}]`, val, { max: 256 });
  }
}

/** The sparse strategies' and BCD's settings: in range, and present for the strategy that needs them. */
function checkSelective(v: Validator, field: string, spec: trainerV1.RunSpec): void {
  const T = trainerV1.Strategy;
  const sparse = spec.sparse;
  if (sparse) {
    v.number(`${field}.sparse.freezing_rate`, sparse.freezingRate, { min: 0, max: 1, exclusiveMax: true });
    v.number(`${field}.sparse.sparsity`, sparse.sparsity, { min: 0, max: 1, exclusiveMax: true });
    v.enumValue(`${field}.sparse.method`, sparse.method, trainerV1.MaskMethod, { allowUnspecified: true });
    v.number(`${field}.sparse.score_examples`, sparse.scoreExamples, { min: 0, max: 65536, integer: true });
    const r = sparse.rigl;
    if (r) {
      v.number(`${field}.sparse.rigl.update_interval_steps`, r.updateIntervalSteps, {
        min: 0,
        max: 1e6,
        integer: true,
      });
      v.number(`${field}.sparse.rigl.end_fraction`, r.endFraction, { min: 0, max: 1 });
      v.number(`${field}.sparse.rigl.drop_fraction`, r.dropFraction, { min: 0, max: 1 });
    }
  }
  if (spec.strategy === T.STRATEGY_FREEZENET)
    v.check(
      !!sparse && sparse.freezingRate > 0,
      `${field}.sparse.freezing_rate`,
      'FREEZENET needs a freezing rate in (0, 1)',
    );
  if (spec.strategy === T.STRATEGY_PRUNE_AT_INIT || spec.strategy === T.STRATEGY_RIGL)
    v.check(!!sparse && sparse.sparsity > 0, `${field}.sparse.sparsity`, 'needs a sparsity in (0, 1)');
  const bcd = spec.bcd;
  if (bcd) {
    v.enumValue(`${field}.bcd.rule`, bcd.rule, trainerV1.BcdRule, { allowUnspecified: true });
    v.number(`${field}.bcd.refresh_interval_steps`, bcd.refreshIntervalSteps, { min: 0, max: 1e6, integer: true });
    v.number(`${field}.bcd.max_skipped_steps`, bcd.maxSkippedSteps, { min: 0, max: 1e6, integer: true });
    v.enumValue(`${field}.bcd.lipschitz`, bcd.lipschitz, trainerV1.LipschitzEstimate, { allowUnspecified: true });
  }
  if (spec.strategy === T.STRATEGY_BCD)
    v.check(!!bcd && bcd.rule !== trainerV1.BcdRule.BCD_RULE_UNSPECIFIED, `${field}.bcd.rule`, 'BCD needs a rule');
}

export function createTrainerService(opts: ServiceContext & { store?: MetadataStore }): HostedService {
  const { config, log } = opts;
  const dirs = floeDirs(config.home);
  const store = opts.store ?? openMetadataStore(config, 'trainer');
  const artifacts = new LocalArtifactStore(dirs.artifacts);
  const peers = opts.peers ?? new Peers(config);
  const requests = new RequestLog(store);
  const planner = async (req: dataProfilerV1.PlanAdaptationRequest): Promise<dataProfilerV1.AdaptationPlanResult> => {
    const client = peers.client('data-profiler', dataProfilerV1.DataProfilerServiceClient);
    try {
      const last = (await collect(client.planAdaptation(req))).at(-1)?.event;
      if (last?.$case !== 'result')
        throw new FloeError('unavailable', 'spec.plan: the data-profiler ended its stream without a plan');
      return last.value;
    } catch (err) {
      throw err instanceof FloeError ? err : fromPeerError(err, 'spec.plan (from the data-profiler)');
    }
  };
  const runs = new RunManager({
    store,
    artifacts,
    planner,
    artifactsDir: dirs.artifacts,
    dataRoots: config.dataRoots,
    maxDatasetBytes: config.maxDatasetBytes,
    maxConcurrent: config.maxConcurrentRuns,
    defaultKeepLast: config.checkpointKeepLast,
    checkpointGraceMs: config.checkpointGraceMs,
    backend: config.tfBackend,
    threads: config.threads,
    priority: config.computePriority,
    log,
    cluster: config.cluster,
  });

  /** The sparse artifact of a checkpoint: one per checkpoint (its id follows from the checkpoint's), written
   * on the first export by a worker. */
  const sparseExport = async (runId: string, checkpointId: string) => {
    const id = `${checkpointId}.sparse`;
    const existing = await artifacts.get(id);
    if (existing) return existing;
    const checkpoint = await artifacts.get(checkpointId);
    const env = computeEnv(config);
    try {
      await runTask<ExportTaskInput, ExportTaskOutput>(
        EXPORT_TASK,
        {
          env,
          checkpointId,
          id,
          labels: { run: runId, step: checkpoint?.manifest.labels.step ?? '', checkpoint: checkpointId },
        },
        taskWorkerOptions(env),
      );
    } catch (err) {
      // Two exports of one checkpoint at once: the second finds the first's artifact.
      if (!(err instanceof FloeError && err.kind === 'already_exists')) throw err;
    }
    return artifacts.get(id);
  };

  const requireRun = (field: string, id: string): trainerV1.Run => {
    validate((v) => v.id(field, id));
    return runs.get(id);
  };
  const checkRequestId = (v: Validator, id: string) => v.string('request_id', id, { max: 128 });

  return defineService(
    SERVICE_NAMES.trainer,
    trainerV1.TrainerServiceService,
    {
      async startRun(req) {
        validate((v) => {
          checkRequestId(v, req.requestId);
          checkRunSpec(v, 'spec', req.spec);
        });
        return runs.start(req.spec!, req.requestId);
      },
      async getRun(req) {
        return { run: requireRun('run_id', req.runId) };
      },
      async listRuns(req) {
        validate((v) => {
          checkPage(v, 'page', req.page);
          req.states.forEach((s, i) => v.enumValue(`states[${i}]`, s, commonV1.RunState));
          v.count('labels', Object.keys(req.labels), 64);
        });
        const { runs: list, nextPageToken } = runs.list({
          states: req.states,
          labels: req.labels,
          pageSize: req.page?.pageSize,
          pageToken: req.page?.pageToken,
        });
        return { runs: list, page: { nextPageToken } };
      },
      async *watchRun(req, ctx) {
        validate((v) => {
          v.id('run_id', req.runId);
          v.number('from_step', req.fromStep, { min: 0, integer: true });
        });
        for await (const event of runs.watch(req.runId, Number(req.fromStep), ctx.signal)) yield { event };
      },
      async pauseRun(req) {
        validate((v) => {
          v.id('run_id', req.runId);
          checkRequestId(v, req.requestId);
        });
        return requests.answer(
          'PauseRun',
          req,
          { request: trainerV1.PauseRunRequest, response: trainerV1.PauseRunResponse },
          () => ({ run: runs.pause(req.runId) }),
        );
      },
      async resumeRun(req) {
        validate((v) => {
          v.id('run_id', req.runId);
          v.number('additional_steps', req.additionalSteps, { min: 0, max: 1e9, integer: true });
          checkRequestId(v, req.requestId);
        });
        return requests.answer(
          'ResumeRun',
          req,
          { request: trainerV1.ResumeRunRequest, response: trainerV1.ResumeRunResponse },
          () => ({ run: runs.resume(req.runId, Number(req.additionalSteps)) }),
        );
      },
      async cancelRun(req) {
        validate((v) => {
          v.id('run_id', req.runId);
          checkRequestId(v, req.requestId);
        });
        return requests.answer(
          'CancelRun',
          req,
          { request: trainerV1.CancelRunRequest, response: trainerV1.CancelRunResponse },
          async () => ({ run: await runs.cancel(req.runId) }),
        );
      },
      async deleteRun(req) {
        validate((v) => {
          v.id('run_id', req.runId);
          checkRequestId(v, req.requestId);
        });
        return requests.answer(
          'DeleteRun',
          req,
          { request: trainerV1.DeleteRunRequest, response: trainerV1.DeleteRunResponse },
          () => runs.delete(req.runId),
        );
      },
      async releaseExport(req) {
        validate((v) => {
          v.id('artifact_id', req.artifactId);
          checkRequestId(v, req.requestId);
        });
        return requests.answer(
          'ReleaseExport',
          req,
          { request: trainerV1.ReleaseExportRequest, response: trainerV1.ReleaseExportResponse },
          () => runs.releaseExport(req.artifactId),
        );
      },
      async exportModel(req) {
        validate((v) => {
          v.number('step', req.step, { min: 0, integer: true });
          if (req.best)
            v.check(Number(req.step) === 0, 'step', 'must be 0 with best (the best checkpoint is one step)');
          v.enumValue('format', req.format, trainerV1.ExportFormat, { allowUnspecified: true });
        });
        const run = requireRun('run_id', req.runId);
        // The same resolution as a run starting from this one's checkpoint: latest, best, or any step it holds.
        const checkpointId = await runs.checkpointOf(run.runId, Number(req.step), req.best);
        const F = trainerV1.ExportFormat;
        const sparse = SPARSE_STRATEGIES.has(run.spec!.strategy);
        const format =
          req.format === F.EXPORT_FORMAT_UNSPECIFIED
            ? sparse && !run.baseArtifactId
              ? F.EXPORT_FORMAT_SPARSE
              : F.EXPORT_FORMAT_CHECKPOINT
            : req.format;
        if (format === F.EXPORT_FORMAT_SPARSE) {
          if (!sparse)
            throw failedPrecondition(
              `format: run ${run.runId} trains with ${trainerV1.strategyToJSON(run.spec!.strategy)}; only FREEZENET, PRUNE_AT_INIT and RIGL runs export SPARSE`,
            );
          if (run.baseArtifactId)
            throw failedPrecondition(
              `format: run ${run.runId} started from artifact ${run.baseArtifactId}, whose frozen values do not come from a seed; export it as a CHECKPOINT`,
            );
        }
        // Exported for good: the run's retention leaves the checkpoint on disk (a sparse export is its own).
        if (!req.transient && format === F.EXPORT_FORMAT_CHECKPOINT)
          runs.checkpoints.pin(checkpointId, { exported: true });
        const artifact =
          format === F.EXPORT_FORMAT_SPARSE
            ? await sparseExport(run.runId, checkpointId)
            : await artifacts.get(checkpointId);
        if (!artifact) throw notFound('artifact', checkpointId);
        const total = Number(artifact.manifest.labels.total_params ?? run.totalParams);
        const stored = Number(artifact.manifest.labels.stored_params ?? run.totalParams);
        return {
          artifact: {
            artifactId: artifact.manifest.id,
            kind: artifact.manifest.kind,
            sizeBytes: artifact.sizeBytes,
            sha256: artifact.sha256,
            labels: artifact.manifest.labels,
          },
          model: { source: { $case: 'artifactId', value: artifact.manifest.id } },
          format,
          storedParams: stored,
          totalParams: total,
          compression: stored > 0 ? total / stored : 1,
        };
      },
      async listCheckpoints(req) {
        const run = requireRun('run_id', req.runId);
        return runs.checkpoints.list(run.runId, run.spec!.checkpointRetention);
      },
    },
    {
      log,
      peers,
      onShutdown: () => runs.pauseAll(config.shutdownGraceMs),
      onClose: async () => {
        await runs.close();
        store.close();
      },
    },
  );
}
