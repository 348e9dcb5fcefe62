// TrainerService handlers: validate, read and write the run store, map to the contract. Runs themselves
// (workers, durability, spans) live in run-manager.ts.
import { SERVICE_NAMES, commonV1, dataProfilerV1, trainerV1 } from '@floe/contracts';
import { FloeError, notFound } from '@floe/errors';
import {
  Validator,
  checkDatasetRef,
  checkModelRef,
  checkPage,
  checkPlan,
  collect,
  createClient,
  decodePageToken,
  fromPeerError,
  defineService,
  encodePageToken,
  pageSize,
  validate,
  type FloeConfig,
  type HostedService,
  type Logger,
} from '@floe/service-kit';
import { LocalArtifactStore, SqliteMetadataStore, floeDirs, type MetadataStore } from '@floe/store';
import { RunManager } from './run-manager.js';

const RUN = 'run';

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
  }
  v.number(`${field}.batch_size`, spec.batchSize, { min: 1, max: 65536, integer: true });
  v.number(`${field}.sequence_length`, spec.sequenceLength, { min: 0, max: 65536, integer: true });
  v.number(`${field}.budget_steps`, spec.budgetSteps, { min: 1, max: 1e9, integer: true });
  v.number(`${field}.eval_interval_steps`, spec.evalIntervalSteps, { min: 0, integer: true });
  v.number(`${field}.checkpoint_interval_steps`, spec.checkpointIntervalSteps, { min: 0, integer: true });
  if (spec.mixture) {
    v.number(`${field}.mixture.replay_fraction`, spec.mixture.replayFraction, { min: 0, max: 0.99 });
    if (spec.mixture.replayFraction > 0)
      checkDatasetRef(v, `${field}.mixture.replay_dataset`, spec.mixture.replayDataset);
  }
  const labels = Object.entries(spec.labels);
  v.count(`${field}.labels`, labels, 64);
  for (const [k, val] of labels) {
    v.string(`${field}.labels[${JSON.stringify(k.slice(0, 64))}]`, k, { required: true, max: 63 });
    v.string(`${field}.labels[${JSON.stringify(k.slice(0, 64))}]`, val, { max: 256 });
  }
}

export function createTrainerService(opts: {
  config: FloeConfig;
  log: Logger;
  store?: MetadataStore;
  backend?: 'auto' | 'native' | 'wasm' | 'cpu';
}): HostedService {
  const dirs = floeDirs(opts.config.home);
  const store = opts.store ?? new SqliteMetadataStore(dirs.database('trainer'));
  const artifacts = new LocalArtifactStore(dirs.artifacts);
  let selfAddress = opts.config.address;
  const profiler = async (req: dataProfilerV1.PlanAdaptationRequest): Promise<dataProfilerV1.AdaptationPlanResult> => {
    const client = createClient(
      dataProfilerV1.DataProfilerServiceClient,
      opts.config.peers.dataProfiler ?? selfAddress,
    );
    try {
      const last = (await collect(client.planAdaptation(req))).at(-1)?.event;
      if (last?.$case !== 'result')
        throw new FloeError('unavailable', 'spec.plan: the data-profiler ended its stream without a plan');
      return last.value;
    } catch (err) {
      throw err instanceof FloeError ? err : fromPeerError(err, 'spec.plan (from the data-profiler)');
    } finally {
      client.close();
    }
  };
  const runs = new RunManager({
    store,
    artifacts,
    profiler,
    artifactsDir: dirs.artifacts,
    dataRoots: opts.config.dataRoots,
    maxDatasetBytes: opts.config.maxDatasetBytes,
    maxConcurrent: opts.config.maxConcurrentRuns,
    backend: opts.backend,
    log: opts.log,
  });

  const requireRun = (field: string, id: string): trainerV1.Run => {
    validate((v) => v.id(field, id));
    return runs.get(id);
  };

  return defineService(
    SERVICE_NAMES.trainer,
    trainerV1.TrainerServiceService,
    {
      async startRun(req) {
        validate((v) => {
          v.string('request_id', req.requestId, { max: 128 });
          checkRunSpec(v, 'spec', req.spec);
        });
        return { run: await runs.start(req.spec!, req.requestId) };
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
        const size = pageSize(req.page?.pageSize);
        const offset = decodePageToken(RUN, req.page?.pageToken);
        const states = req.states.map((s) => commonV1.runStateToJSON(s));
        const wanted = Object.entries(req.labels);
        // Label filters run over the page in memory; fine at the scale of one team's runs.
        const result = store.list<unknown>(RUN, { states, offset, limit: wanted.length ? 100_000 : size });
        let list = result.items.map((r) => trainerV1.Run.fromJSON(r.body));
        let hasMore = result.hasMore;
        if (wanted.length) {
          const matching = list.filter((r) => wanted.every(([k, v]) => r.spec?.labels[k] === v));
          list = matching.slice(0, size);
          hasMore = matching.length > size;
        }
        return { runs: list, page: { nextPageToken: hasMore ? encodePageToken(RUN, offset + size) : '' } };
      },
      async *watchRun(req, ctx) {
        validate((v) => v.number('from_step', req.fromStep, { min: 0, integer: true }));
        requireRun('run_id', req.runId);
        // Subscribe before replaying so that nothing falls between the two.
        const pending: trainerV1.WatchRunResponse[] = [];
        let wake: (() => void) | undefined;
        const listener = (e: Record<string, unknown>) => {
          const [key, value] = Object.entries(e)[0]!;
          pending.push({ event: { $case: key, value } as trainerV1.WatchRunResponse['event'] });
          wake?.();
        };
        runs.events.on(req.runId, listener);
        ctx.signal.addEventListener('abort', () => wake?.());
        try {
          let last = req.fromStep;
          for (const m of runs.metrics(req.runId, req.fromStep)) {
            last = m.step;
            yield { event: { $case: 'step', value: m } };
          }
          if (RunManager.stopped(runs.get(req.runId).state)) {
            yield { event: { $case: 'run', value: runs.get(req.runId) } };
            return;
          }
          while (!ctx.signal.aborted) {
            while (pending.length) {
              const e = pending.shift()!;
              if (e.event?.$case === 'step' && e.event.value.step <= last) continue;
              if (e.event?.$case === 'step') last = e.event.value.step;
              yield e;
              if (e.event?.$case === 'run' && RunManager.stopped(e.event.value.state)) return;
            }
            await new Promise<void>((resolve) => (wake = resolve));
            wake = undefined;
          }
        } finally {
          runs.events.off(req.runId, listener);
        }
      },
      async pauseRun(req) {
        validate((v) => v.id('run_id', req.runId));
        return { run: runs.pause(req.runId) };
      },
      async resumeRun(req) {
        validate((v) => {
          v.id('run_id', req.runId);
          v.number('additional_steps', req.additionalSteps, { min: 0, max: 1e9, integer: true });
          v.string('request_id', req.requestId, { max: 128 });
        });
        return { run: runs.resume(req.runId, req.additionalSteps) };
      },
      async cancelRun(req) {
        validate((v) => v.id('run_id', req.runId));
        return { run: await runs.cancel(req.runId) };
      },
      async exportModel(req) {
        validate((v) => v.number('step', req.step, { min: 0, integer: true }));
        const run = requireRun('run_id', req.runId);
        // The same resolution as a run starting from this one's checkpoint: latest, or any step written.
        const id = await runs.checkpointOf(run.runId, Number(req.step));
        const a = await artifacts.get(id);
        if (!a) throw notFound('artifact', id);
        return {
          artifact: {
            artifactId: a.manifest.id,
            kind: a.manifest.kind,
            sizeBytes: a.sizeBytes,
            sha256: a.sha256,
            labels: a.manifest.labels,
          },
          model: { source: { $case: 'artifactId', value: a.manifest.id } },
        };
      },
    },
    {
      log: opts.log,
      onShutdown: () => runs.pauseAll(opts.config.shutdownGraceMs),
      onClose: () => store.close(),
      onListening: (address) => (selfAddress = address),
    },
  );
}
