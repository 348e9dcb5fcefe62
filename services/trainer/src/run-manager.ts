// Runs: durable state in SQLite, every step's metrics stored once, training in a worker thread per run,
// a concurrency limit with a queue, live events for WatchRun, and INTERRUPTED for runs a dead server left.
import { EventEmitter } from 'node:events';
import { randomUUID } from 'node:crypto';
import { commonV1, dataProfilerV1, trainerV1 } from '@floe/contracts';
import { failedPrecondition, invalidArgument, notFound, FloeError } from '@floe/errors';
import { modelSource, type Logger } from '@floe/service-kit';
import type { MetadataStore } from '@floe/store';
import {
  checkpointArtifactId,
  checkpointBlockIds,
  readCheckpointMeta,
  startRunWorker,
  type RunEvent,
  type RunJob,
  type StrategyConfig,
} from '@floe/training';
import { blockIdsOf } from '@floe/models';
import { parseDatasetUri, resolveDataPath } from '@floe/data';
import { Attr } from '@floe/telemetry';
import type { ArtifactStore } from '@floe/store';
import { RunTracer } from './run-tracer.js';

const RUN = 'run';
const S = commonV1.RunState;
type Architecture = Extract<RunJob['model'], { architecture: string }>['architecture'];

interface Live {
  pause(): void;
  terminate(): Promise<number>;
  cancelled?: boolean;
  /** Steps up to this one were recorded before this worker started: it replays them (after a crash). */
  recordedStep: number;
}

/** The model a run starts from, resolved once at StartRun. */
type Base =
  | { kind: 'builtin'; arch: Architecture; size: string; seed: number }
  | { kind: 'checkpoint'; artifactId: string; blocks: string[] };

export interface RunManagerOptions {
  store: MetadataStore;
  /** Asks the data-profiler for an adaptation plan (ADE runs that bring none). */
  profiler?: (req: dataProfilerV1.PlanAdaptationRequest) => Promise<dataProfilerV1.AdaptationPlanResult>;
  artifacts: ArtifactStore;
  artifactsDir: string;
  dataRoots: string[];
  maxDatasetBytes?: number;
  maxConcurrent: number;
  backend?: RunJob['backend'];
  log: Logger;
}

/** The data mixture of a run: an ADE plan's replay when it has one, else the request's mixture. */
function replayOf(spec: trainerV1.RunSpec): RunJob['replay'] {
  const plan = spec.strategy === trainerV1.Strategy.STRATEGY_ADE ? spec.plan : undefined;
  if (plan && plan.replayFraction > 0 && plan.replayDataset?.uri)
    return { uri: plan.replayDataset.uri, fraction: plan.replayFraction };
  return spec.mixture && spec.mixture.replayFraction > 0
    ? { uri: spec.mixture.replayDataset!.uri, fraction: spec.mixture.replayFraction }
    : undefined;
}

export class RunManager {
  readonly events = new EventEmitter();
  private readonly live = new Map<string, Live>();
  private readonly queue: string[] = [];
  private readonly tracer = new RunTracer();

  constructor(private readonly o: RunManagerOptions) {
    this.events.setMaxListeners(0);
    // A server that died left its running runs behind: they resume from their last checkpoint.
    for (const state of ['RUN_STATE_RUNNING', 'RUN_STATE_QUEUED']) {
      for (const r of o.store.list<unknown>(RUN, { states: [state], limit: 100_000 }).items) {
        const run = trainerV1.Run.fromJSON(r.body);
        this.save({ ...run, state: S.RUN_STATE_INTERRUPTED });
      }
    }
  }

  get(id: string): trainerV1.Run {
    const rec = this.o.store.get<unknown>(RUN, id);
    if (!rec) throw notFound('run', id);
    return trainerV1.Run.fromJSON(rec.body);
  }

  private save(run: trainerV1.Run): trainerV1.Run {
    run.updateTime = new Date();
    this.o.store.update(RUN, run.runId, commonV1.runStateToJSON(run.state), trainerV1.Run.toJSON(run));
    this.events.emit(run.runId, { run });
    return run;
  }

  /** Checks what only the model and the data can tell; throws INVALID_ARGUMENT / NOT_FOUND. */
  private static blocksOfBase(base: Base): string[] {
    if (base.kind === 'checkpoint') return base.blocks;
    try {
      return blockIdsOf(base.arch, base.size);
    } catch {
      throw new FloeError('not_found', `unknown model ${base.arch}/${base.size}`);
    }
  }

  /** The strategy of a spec; with the base model's blocks, checks every named block (INVALID_ARGUMENT). */
  private strategyOf(spec: trainerV1.RunSpec, blocks?: string[]): StrategyConfig {
    const known = (field: string, ids: string[]) =>
      ids.forEach((id, i) => {
        if (blocks && !blocks.includes(id))
          throw invalidArgument(`${field}[${i}]`, `unknown block ${JSON.stringify(id)}; blocks: ${blocks.join(', ')}`);
      });
    const T = trainerV1.Strategy;
    if (spec.strategy === T.STRATEGY_FREEZE) {
      known('spec.freeze_block_ids', spec.freezeBlockIds);
      return { kind: 'freeze', freeze: spec.freezeBlockIds, expandAfter: [], expandCount: 0, tune: [] };
    }
    if (spec.strategy === T.STRATEGY_EXPAND) {
      known('spec.expansion.after_block_ids', spec.expansion?.afterBlockIds ?? []);
      if (blocks && !blocks.some((b) => b.startsWith('block.')))
        throw invalidArgument('spec.strategy', 'the base model has no residual blocks to expand');
      return {
        kind: 'expand',
        freeze: [],
        expandAfter: spec.expansion?.afterBlockIds ?? [],
        expandCount: spec.expansion?.count ?? 0,
        tune: [],
      };
    }
    if (spec.strategy === T.STRATEGY_ADE) {
      if (!spec.plan) throw invalidArgument('spec.plan', 'ADE needs a plan');
      known('spec.plan.freeze_block_ids', spec.plan.freezeBlockIds);
      known('spec.plan.tune_block_ids', spec.plan.tuneBlockIds);
      spec.plan.expansions.forEach((e, i) => known(`spec.plan.expansions[${i}].after_block_id`, [e.afterBlockId]));
      return {
        kind: 'ade',
        freeze: spec.plan.freezeBlockIds,
        expandAfter: spec.plan.expansions.flatMap((e) => Array(Math.max(1, e.copies)).fill(e.afterBlockId)),
        expandCount: 0,
        tune: spec.plan.tuneBlockIds,
      };
    }
    return { kind: 'full', freeze: [], expandAfter: [], expandCount: 0, tune: [] };
  }

  private checkDataset(field: string, uri: string): void {
    const parsed = parseDatasetUri(uri, field);
    if (parsed.scheme === 'file') resolveDataPath(parsed.path, this.o.dataRoots);
  }

  /** The checkpoint artifact of a run at `step` (0: its latest); a step without one is NOT_FOUND. */
  async checkpointOf(runId: string, step: number): Promise<string> {
    this.get(runId);
    const latest = this.o.store.get<{ checkpoint: string; step: number }>('run-checkpoint', runId)?.body;
    if (!latest) throw failedPrecondition(`run ${runId} has no checkpoint yet`);
    if (!step || step === latest.step) return latest.checkpoint;
    const found = (await this.o.artifacts.list('checkpoint')).find(
      (a) => a.manifest.labels.run === runId && a.manifest.labels.step === String(step),
    );
    if (!found) throw notFound('checkpoint', `${runId}@${step}`);
    return found.manifest.id;
  }

  /** The base model of a spec: a builtin, or a checkpoint (of a run, or any artifact) read for its blocks. */
  private async resolveBase(spec: trainerV1.RunSpec): Promise<Base> {
    const source = modelSource(spec.baseModel!);
    if (source.kind === 'builtin')
      return { kind: 'builtin', arch: source.architecture, size: source.size, seed: source.seed };
    const artifactId = await checkpointArtifactId('spec.base_model', source, this.o.artifacts, (runId, step) =>
      this.checkpointOf(runId, step),
    );
    const meta = await readCheckpointMeta(this.o.artifacts, artifactId);
    return {
      kind: 'checkpoint',
      artifactId,
      blocks: checkpointBlockIds(
        meta,
        blockIdsOf(meta.model.spec.architecture, meta.model.spec.size, meta.model.spec.config),
      ),
    };
  }

  /**
   * ADE without a plan: ask the data-profiler (through its client) for one, from the base model, the new
   * data and the reference (old-domain) data named as the replay dataset. The whole plan applies: its
   * blocks, its replay fraction and its learning rate replace the request's; the run records the plan.
   */
  private async withFetchedPlan(spec: trainerV1.RunSpec): Promise<trainerV1.RunSpec> {
    const reference = spec.mixture?.replayDataset;
    if (!reference?.uri)
      throw invalidArgument(
        'spec.mixture.replay_dataset',
        'ADE without a plan asks the data-profiler for one, which needs the reference (old-domain) data here',
      );
    if (!this.o.profiler)
      throw failedPrecondition('ADE without a plan needs the data-profiler, and none is reachable from this trainer');
    const result = await this.o.profiler({
      model: spec.baseModel,
      dataset: spec.dataset,
      reference,
      maxExpansions: 0,
      seed: spec.seed,
    });
    const plan = result.plan!;
    return {
      ...spec,
      plan,
      mixture:
        plan.replayFraction > 0
          ? { replayDataset: plan.replayDataset ?? reference, replayFraction: plan.replayFraction }
          : { replayDataset: reference, replayFraction: 0 },
      optimizer: {
        ...(spec.optimizer ?? trainerV1.OptimizerConfig.fromPartial({})),
        learningRate: plan.learningRate || spec.optimizer?.learningRate || 0,
      },
    };
  }

  async start(request: trainerV1.RunSpec, requestId: string): Promise<trainerV1.Run> {
    if (requestId) {
      const existing = this.o.store.findByRequestId<unknown>(RUN, requestId);
      if (existing) return trainerV1.Run.fromJSON(existing.body);
    }
    const base = await this.resolveBase(request);
    let spec = request;
    if (spec.strategy === trainerV1.Strategy.STRATEGY_ADE && !spec.plan) spec = await this.withFetchedPlan(spec);
    this.strategyOf(spec, RunManager.blocksOfBase(base));
    this.checkDataset('spec.dataset.uri', spec.dataset!.uri);
    if (spec.validationDataset?.uri) this.checkDataset('spec.validation_dataset.uri', spec.validationDataset.uri);
    if (spec.mixture && spec.mixture.replayFraction > 0)
      this.checkDataset('spec.mixture.replay_dataset.uri', spec.mixture.replayDataset!.uri);
    const now = new Date();
    const run: trainerV1.Run = {
      runId: `run-${randomUUID()}`,
      spec,
      state: S.RUN_STATE_QUEUED,
      step: 0,
      trainableParams: 0,
      totalParams: 0,
      checkpointStep: 0,
      error: '',
      createTime: now,
      updateTime: now,
      baseArtifactId: base.kind === 'checkpoint' ? base.artifactId : '',
      replayedSteps: 0,
      replayMaxAbsDiff: 0,
    };
    this.o.store.create(
      RUN,
      run.runId,
      commonV1.runStateToJSON(run.state),
      trainerV1.Run.toJSON(run),
      requestId || undefined,
    );
    this.tracer.bind(run.runId, { [Attr.strategy]: trainerV1.strategyToJSON(spec.strategy) });
    this.enqueue(run.runId);
    return run;
  }

  private enqueue(id: string): void {
    this.queue.push(id);
    this.pump();
  }

  private pump(): void {
    for (let i = 0; i < this.queue.length && this.live.size < this.o.maxConcurrent;) {
      const id = this.queue[i]!;
      // A run whose previous worker is still finishing waits for it (one worker per run).
      if (this.live.has(id)) {
        i++;
        continue;
      }
      this.queue.splice(i, 1);
      const run = this.get(id);
      if (run.state === S.RUN_STATE_QUEUED) this.launch(run);
    }
  }

  private job(run: trainerV1.Run): RunJob {
    const spec = run.spec!;
    const src = modelSource(spec.baseModel!);
    // A checkpoint base was resolved (and its blocks checked) at StartRun; its artifact id is on the run.
    const base: Base =
      src.kind === 'builtin'
        ? { kind: 'builtin', arch: src.architecture, size: src.size, seed: src.seed }
        : { kind: 'checkpoint', artifactId: run.baseArtifactId, blocks: [] };
    const o = spec.optimizer;
    const sched = spec.schedule;
    const kinds = { 1: 'adamw', 2: 'adam', 3: 'sgd' } as const;
    const schedKinds = { 1: 'constant', 2: 'linear', 3: 'cosine' } as const;
    return {
      runId: run.runId,
      model:
        base.kind === 'builtin'
          ? { architecture: base.arch, size: base.size, seed: base.seed }
          : { checkpoint: base.artifactId },
      dataset: { uri: spec.dataset!.uri },
      replay: replayOf(spec),
      strategy: this.strategyOf(spec),
      optimizer: {
        kind: kinds[(o?.kind ?? 0) as 1 | 2 | 3] ?? 'adamw',
        learningRate: o?.learningRate || 1e-3,
        beta1: o?.beta1 || 0.9,
        beta2: o?.beta2 || 0.999,
        epsilon: o?.epsilon || 1e-8,
        weightDecay: o?.weightDecay ?? 0,
        gradClipNorm: o?.gradClipNorm ?? 0,
      },
      schedule: {
        kind: schedKinds[(sched?.kind ?? 0) as 1 | 2 | 3] ?? 'linear',
        warmupSteps: sched?.warmupSteps || Math.round((sched?.warmupRatio ?? 0) * spec.budgetSteps),
        minRatio: sched?.minLrRatio ?? 0,
      },
      batchSize: spec.batchSize,
      sequenceLength: spec.sequenceLength || 64,
      budgetSteps: spec.budgetSteps,
      checkpointEvery: spec.checkpointIntervalSteps,
      evalEvery: spec.evalIntervalSteps,
      validation: spec.validationDataset?.uri ? { uri: spec.validationDataset.uri } : undefined,
      seed: Number(spec.seed),
      backend: this.o.backend ?? ((process.env.FLOE_TF_BACKEND || 'auto') as RunJob['backend']),
      artifactsDir: this.o.artifactsDir,
      dataRoots: this.o.dataRoots,
      maxDatasetBytes: this.o.maxDatasetBytes,
      // The latest checkpoint, recorded durably, so a restarted server resumes from it too.
      resumeFrom: this.o.store.get<{ checkpoint: string }>('run-checkpoint', run.runId)?.body.checkpoint,
    };
  }

  private launch(run: trainerV1.Run): void {
    let job: RunJob;
    try {
      job = this.job(run);
    } catch (err) {
      this.save({ ...run, state: S.RUN_STATE_FAILED, error: (err as Error).message });
      return;
    }
    this.save({ ...run, state: S.RUN_STATE_RUNNING, error: '' });
    const id = run.runId;
    const handle = startRunWorker(job, (e) => this.onEvent(id, e));
    const live: Live = { pause: handle.pause, terminate: handle.terminate, recordedStep: run.step };
    this.live.set(id, live);
    handle.exited.then(() => {
      // A resumed run has a new worker by the time an old one exits: only the current one counts.
      if (this.live.get(id) !== live) return;
      this.live.delete(id);
      this.tracer.finish(id, live.cancelled ? 'cancelled' : undefined);
      const r = this.get(id);
      if (r.state === S.RUN_STATE_RUNNING)
        this.save({
          ...r,
          state: live.cancelled ? S.RUN_STATE_CANCELLED : S.RUN_STATE_FAILED,
          error: r.error || (live.cancelled ? '' : 'the training worker exited'),
        });
      this.pump();
    });
  }

  private onEvent(id: string, e: RunEvent): void {
    const run = this.get(id);
    switch (e.type) {
      case 'ready':
        this.save({
          ...run,
          step: Math.max(run.step, e.step),
          trainableParams: e.trainableParams,
          totalParams: e.totalParams,
          initialValidationLoss: e.initialValidationLoss ?? run.initialValidationLoss,
        });
        break;
      case 'phase':
        if (e.edge === 'start') {
          this.tracer.phaseStart(id, e.phase, e.time);
          this.events.emit(id, { phase: { phase: e.phase, time: new Date(e.time) } });
        } else this.tracer.phaseEnd(id, e.phase, e.time, e.attributes);
        break;
      case 'step': {
        this.tracer.step(id, e.metrics, e.validationLoss);
        const live = this.live.get(id);
        if (live && e.metrics.step <= live.recordedStep) {
          // A replay after a crash: the step's metrics are stored already; check that training reproduced them.
          const recorded = this.o.store.metrics<{ trainLoss?: number }>(id, e.metrics.step - 1, 1)[0];
          const diff =
            recorded?.step === e.metrics.step ? Math.abs((recorded.body.trainLoss ?? 0) - e.metrics.loss) : 0;
          this.save({
            ...run,
            replayedSteps: run.replayedSteps + 1,
            replayMaxAbsDiff: Math.max(run.replayMaxAbsDiff, diff),
          });
          break;
        }
        const m: trainerV1.StepMetrics = {
          step: e.metrics.step,
          trainLoss: e.metrics.loss,
          validationLoss: e.validationLoss,
          learningRate: e.metrics.learningRate,
          throughput: e.metrics.throughput,
          blockGradNorms: Object.entries(e.metrics.blockGradNorms).map(([blockId, norm]) => ({ blockId, norm })),
          time: new Date(),
        };
        this.o.store.appendMetrics(id, [{ step: m.step, body: trainerV1.StepMetrics.toJSON(m) }]);
        this.save({ ...run, step: m.step, lastMetrics: m });
        this.events.emit(id, { step: m });
        break;
      }
      case 'checkpoint':
        this.o.store.transaction(() => {
          if (this.o.store.get('run-checkpoint', id))
            this.o.store.update('run-checkpoint', id, '', { checkpoint: e.artifactId, step: e.step });
          else this.o.store.create('run-checkpoint', id, '', { checkpoint: e.artifactId, step: e.step });
        });
        this.save({ ...run, checkpointStep: e.step });
        this.events.emit(id, { checkpoint: { step: e.step, artifactId: e.artifactId } });
        break;
      case 'stopped':
        this.tracer.finish(id);
        this.save({ ...run, state: S.RUN_STATE_PAUSED, step: e.step });
        break;
      case 'error':
        this.tracer.finish(id, e.message);
        this.o.log.error('run failed', { runId: id, error: e.message });
        this.save({ ...run, state: S.RUN_STATE_FAILED, error: e.message });
        break;
    }
  }

  pause(id: string): trainerV1.Run {
    const run = this.get(id);
    if (run.state === S.RUN_STATE_QUEUED) return this.save({ ...run, state: S.RUN_STATE_PAUSED });
    if (run.state !== S.RUN_STATE_RUNNING)
      throw failedPrecondition(`run ${id} is ${commonV1.runStateToJSON(run.state)}, not RUNNING`);
    this.live.get(id)?.pause();
    return run;
  }

  resume(id: string, additional: number): trainerV1.Run {
    const run = this.get(id);
    if (run.state !== S.RUN_STATE_PAUSED && run.state !== S.RUN_STATE_INTERRUPTED) {
      throw failedPrecondition(
        `run ${id} is ${commonV1.runStateToJSON(run.state)}; only PAUSED or INTERRUPTED runs resume`,
      );
    }
    const spec = { ...run.spec!, budgetSteps: run.spec!.budgetSteps + additional };
    if (spec.budgetSteps <= run.step)
      throw invalidArgument(
        'additional_steps',
        `the run is at step ${run.step} of its budget ${run.spec!.budgetSteps}; add steps to resume`,
      );
    const queued = this.save({ ...run, spec, state: S.RUN_STATE_QUEUED });
    this.tracer.bind(id, { [Attr.strategy]: trainerV1.strategyToJSON(spec.strategy) });
    this.enqueue(id);
    return queued;
  }

  async cancel(id: string): Promise<trainerV1.Run> {
    const run = this.get(id);
    if (run.state === S.RUN_STATE_CANCELLED || run.state === S.RUN_STATE_FAILED)
      throw failedPrecondition(`run ${id} is already ${commonV1.runStateToJSON(run.state)}`);
    const live = this.live.get(id);
    if (live) {
      live.cancelled = true;
      await live.terminate();
    }
    return this.save({ ...this.get(id), state: S.RUN_STATE_CANCELLED });
  }

  /** Pauses every live run with a checkpoint (server shutdown). */
  async pauseAll(timeoutMs: number): Promise<void> {
    const ids = [...this.live.keys()];
    for (const id of ids) this.live.get(id)?.pause();
    const deadline = Date.now() + timeoutMs;
    while (this.live.size && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  }

  metrics(id: string, afterStep: number): trainerV1.StepMetrics[] {
    return this.o.store.metrics<unknown>(id, afterStep).map((m) => trainerV1.StepMetrics.fromJSON(m.body));
  }

  static stopped(state: commonV1.RunState): boolean {
    return state !== S.RUN_STATE_RUNNING && state !== S.RUN_STATE_QUEUED;
  }
}
