// Runs: durable state in SQLite, every step's metrics stored once, training in a worker thread per run,
// a concurrency limit with a queue, a typed live stream for WatchRun, keyset listing, ADE planning inside
// the run, and INTERRUPTED for runs a dead server left.
import { randomUUID } from 'node:crypto';
import { commonV1, dataProfilerV1, trainerV1 } from '@floe/contracts';
import { failedPrecondition, invalidArgument, notFound, FloeError } from '@floe/errors';
import {
  datasetSplit,
  decodePageToken,
  encodePageToken,
  follow,
  modelSource,
  pageSize,
  Topic,
  type Logger,
} from '@floe/service-kit';
import type { ArtifactStore, MetadataStore } from '@floe/store';
import {
  builtinShape,
  modelArtifactId,
  checkpointBlockIds,
  readModelArtifactMeta,
  requireEnoughIn,
  openByTarget,
  requireReadable,
  startRunWorker,
  type ModelDescription,
  type RunEvent,
  type RunJob,
  type StrategyConfig,
  DEFAULT_RIGL,
  SPARSE_MODEL_KIND,
  earlyStoppingStateOf,
} from '@floe/training';
import { blockIdsOf, describeModel } from '@floe/models';
import { openDatasetAsync, type Dataset, type Split } from '@floe/data';
import type { BackendChoice, ComputePriority } from '@floe/ml-runtime/choices';
import { Attr, SpanName } from '@floe/telemetry';
import { RunTracer } from './run-tracer.js';
import { applyPlan } from './plan-policy.js';
import { CheckpointLedger } from './checkpoints.js';

const RUN = 'run';
const S = commonV1.RunState;
type Architecture = Extract<RunJob['model'], { architecture: string }>['architecture'];

/** A dataset a run reads, as the run manager checks and hands it on; `field` names it in errors. */
interface RunDataRef {
  field: string;
  uri: string;
  split: Split;
  /** A table's target column; empty: "label" or "target", else the last. */
  targetColumn: string;
  /**
   * A table's columns to leave out, the reference's own: a fresh model records those of its training table, so the
   * run's other tables may carry them without naming them.
   */
  ignoreColumns: string[];
}

/** One event of a run's live stream: exactly WatchRun's oneof. */
export type RunStreamEvent = NonNullable<trainerV1.WatchRunResponse['event']>;

/** The strategies that train a mask over the weights (and export SPARSE). */
export const SPARSE_STRATEGIES: ReadonlySet<trainerV1.Strategy> = new Set([
  trainerV1.Strategy.STRATEGY_FREEZENET,
  trainerV1.Strategy.STRATEGY_PRUNE_AT_INIT,
  trainerV1.Strategy.STRATEGY_RIGL,
]);

/** Default bytes per sequence of a language-model run (RunSpec.sequence_length = 0). */
export const DEFAULT_SEQUENCE_LENGTH = 64;

interface Live {
  pause(): void;
  terminate(): Promise<number>;
  cancelled?: boolean;
  pauseRequested?: boolean;
  /** Cluster mode: another replica took the run over; this worker's late events are dropped. */
  lost?: boolean;
  /** Steps up to this one were recorded before this worker started: it replays them (after a crash). */
  recordedStep: number;
}

/** The model a run starts from, resolved once at StartRun. */
type Base =
  | { kind: 'builtin'; arch: Architecture; size: string; seed: number }
  | { kind: 'checkpoint'; artifactId: string; blocks: string[]; description: ModelDescription };

export interface RunManagerOptions {
  store: MetadataStore;
  /** Asks the data-profiler for an adaptation plan (ADE runs that bring none). */
  planner?: (req: dataProfilerV1.PlanAdaptationRequest) => Promise<dataProfilerV1.AdaptationPlanResult>;
  artifacts: ArtifactStore;
  artifactsDir: string;
  dataRoots: string[];
  maxDatasetBytes: number;
  maxConcurrent: number;
  /** FLOE_CHECKPOINT_KEEP_LAST: the retention of runs whose spec sets none (0: keep every checkpoint). */
  defaultKeepLast?: number;
  /** FLOE_CHECKPOINT_GRACE_MS: how long a checkpoint a retention dropped stays on disk (default 0). */
  checkpointGraceMs?: number;
  backend: BackendChoice;
  threads: number;
  /** How run workers yield the CPU (FLOE_COMPUTE_PRIORITY); default idle. */
  priority?: ComputePriority;
  log: Logger;
  /** Cluster mode (a shared store): this replica's name, its leases' length and takeovers allowed per run. */
  cluster?: { replicaId: string; leaseMs: number; maxTakeovers: number };
}

/** A pause or cancel sent to a replica that is not training the run: the one that is acts on it. */
const COMMAND = 'run-command';
type Command = { pause?: boolean; cancel?: boolean };

export interface ListRunsQuery {
  states: commonV1.RunState[];
  labels: Record<string, string>;
  pageSize?: number;
  pageToken?: string;
}

const isStopped = (state: commonV1.RunState) => state !== S.RUN_STATE_RUNNING && state !== S.RUN_STATE_QUEUED;

/** Tries a step's commit again when its database connection was lost mid-transaction. */
const STORE_ATTEMPTS = 3;

function retrySync<T>(fn: () => T, attempts: number): T {
  for (let i = 1; ; i++) {
    try {
      return fn();
    } catch (err) {
      if (i >= attempts) throw err;
    }
  }
}

export class RunManager {
  private readonly events = new Topic<RunStreamEvent>();
  private readonly live = new Map<string, Live>();
  private readonly queue: string[] = [];
  private readonly tracer = new RunTracer();
  /** StartRun calls in flight by request id: a concurrent retry answers the same run. */
  private readonly starting = new Map<string, Promise<trainerV1.Run>>();
  /** Runs paused because their steps could not be stored, with the store's error. */
  private readonly storeFailures = new Map<string, string>();
  /** Set at shutdown: nothing more starts, and late events of workers are dropped (they replay on resume). */
  private stopping = false;

  /** Cluster mode: the timer of heartbeats, commands, claims and takeovers. */
  private readonly ticker: NodeJS.Timeout | undefined;
  /** Which checkpoints each run holds, its best, its retention and the pins. */
  readonly checkpoints: CheckpointLedger;
  /** Collections of the checkpoint trash in flight (close() waits for them). */
  private readonly deleting = new Set<Promise<void>>();
  /** Fires when the next checkpoint in the trash is due. */
  private collectTimer: NodeJS.Timeout | undefined;

  constructor(private readonly o: RunManagerOptions) {
    this.checkpoints = new CheckpointLedger(o.store, o.artifacts, { graceMs: o.checkpointGraceMs });
    // What a previous process left in the trash (it stopped within a grace period, or before deleting).
    this.scheduleCollection();
    if (o.store.shared && o.cluster) {
      // Replicas share the queue: runs are claimed by lease, and a dead replica's runs are taken over
      // when their leases expire (tick); nothing is marked at start-up.
      this.ticker = setInterval(() => this.tick(), Math.max(50, Math.round(o.cluster.leaseMs / 5)));
      this.ticker.unref();
      return;
    }
    // A server that died left its running runs behind: they resume from their last checkpoint.
    for (const state of ['RUN_STATE_RUNNING', 'RUN_STATE_QUEUED']) {
      for (const r of o.store.list<unknown>(RUN, { states: [state], limit: 100_000 }).items) {
        this.save({ ...trainerV1.Run.fromJSON(r.body), state: S.RUN_STATE_INTERRUPTED });
      }
    }
    // And checkpoints it wrote but never recorded (it died in between): no run of this store was writing
    // before this process started. (Replicas of a cluster never know that, so they leave them.)
    const startedAt = Date.now();
    const sweeping: Promise<void> = this.checkpoints
      .trashUnrecorded(startedAt)
      .then((ids) => {
        if (ids.length) this.o.log.info('unrecorded checkpoints a stopped process left go', { count: ids.length });
        this.scheduleCollection();
      })
      .catch((err: unknown) => this.o.log.error('cannot look for unrecorded checkpoints', { err }))
      .finally(() => this.deleting.delete(sweeping));
    this.deleting.add(sweeping);
  }

  private get clustered(): RunManagerOptions['cluster'] {
    return this.o.store.shared ? this.o.cluster : undefined;
  }

  /**
   * Cluster mode, every fifth of a lease: renew the leases of the runs trained here (a lost one stops its
   * worker: another replica has the run), act on pauses and cancels sent to other replicas, claim queued
   * runs up to the concurrency limit, and take over runs whose replica stopped renewing.
   */
  private tick(): void {
    const c = this.clustered;
    if (!c || this.stopping) return;
    try {
      for (const [id, live] of this.live) {
        if (!this.o.store.renewLease(RUN, id, c.replicaId, c.leaseMs)) {
          this.o.log.warn('lost the lease of a run; another replica has it', { runId: id });
          live.lost = true;
          void live.terminate();
          continue;
        }
        const command = this.o.store.get<Command>(COMMAND, id);
        if (command?.state === 'PENDING') {
          this.o.store.update(COMMAND, id, 'DONE', command.body);
          if (command.body.cancel) void this.cancel(id);
          else if (command.body.pause) this.pause(id);
        }
      }
      // Runs in `state` that no replica holds, taken while there is room here (their lease now ours).
      const claim = (state: string, oldestFirst: boolean, take: (run: trainerV1.Run) => void) => {
        const items = this.o.store.list<unknown>(RUN, { states: [state], limit: 1000 }).items;
        for (const r of oldestFirst ? items.reverse() : items) {
          if (this.live.size >= this.o.maxConcurrent) return;
          if (this.live.has(r.id) || !this.o.store.acquireLease(RUN, r.id, c.replicaId, c.leaseMs)) continue;
          take(this.get(r.id));
        }
      };
      // The queue is the store's QUEUED runs, oldest first; then RUNNING runs whose replica stopped renewing.
      claim('RUN_STATE_QUEUED', true, (run) =>
        run.state === S.RUN_STATE_QUEUED
          ? void this.launch(run)
          : this.o.store.releaseLease(RUN, run.runId, c.replicaId),
      );
      claim('RUN_STATE_RUNNING', false, (run) => this.takeOver(run));
    } catch (err) {
      // The store may be restarting: the next tick tries again.
      this.o.log.warn('cluster tick failed', { err });
    }
  }

  /** A run whose replica died (its lease expired and is now ours): on from its last checkpoint. */
  private takeOver(run: trainerV1.Run): void {
    const c = this.clustered!;
    if (run.state !== S.RUN_STATE_RUNNING) return void this.o.store.releaseLease(RUN, run.runId, c.replicaId);
    const takeovers = run.takeovers + 1;
    if (takeovers > c.maxTakeovers) {
      this.save({
        ...run,
        state: S.RUN_STATE_FAILED,
        error: `its replica stopped ${takeovers} times (FLOE_MAX_TAKEOVERS is ${c.maxTakeovers})`,
      });
      return void this.o.store.releaseLease(RUN, run.runId, c.replicaId);
    }
    this.o.log.warn('taking over a run whose replica stopped', { runId: run.runId, step: run.step, takeovers });
    // RUNNING again, here, in one write: launch resumes it from its last checkpoint.
    void this.launch({ ...run, takeovers });
  }

  get(id: string): trainerV1.Run {
    const rec = this.o.store.get<unknown>(RUN, id);
    if (!rec) throw notFound('run', id);
    return trainerV1.Run.fromJSON(rec.body);
  }

  /** Stores the run; watchers get it when its state changed. */
  private save(run: trainerV1.Run): trainerV1.Run {
    const before = this.o.store.get<{ state?: string }>(RUN, run.runId)?.state;
    run.updateTime = new Date();
    const state = commonV1.runStateToJSON(run.state);
    this.o.store.update(RUN, run.runId, state, trainerV1.Run.toJSON(run));
    if (before !== state) this.events.publish(run.runId, { $case: 'run', value: run });
    return run;
  }

  /** Runs newest first, filtered by state and labels in the store's keyset pages. */
  list(q: ListRunsQuery): { runs: trainerV1.Run[]; nextPageToken: string } {
    const states = q.states.map((s) => commonV1.runStateToJSON(s));
    const wanted = Object.entries(q.labels);
    const query = { states, labels: wanted.sort() };
    const result = this.o.store.list<unknown>(RUN, {
      states,
      before: decodePageToken(RUN, q.pageToken, query),
      limit: pageSize(q.pageSize),
      filter: wanted.length
        ? (body) => {
            const labels = (body as { spec?: { labels?: Record<string, string> } }).spec?.labels ?? {};
            return wanted.every(([k, v]) => labels[k] === v);
          }
        : undefined,
    });
    return {
      runs: result.items.map((r) => trainerV1.Run.fromJSON(r.body)),
      nextPageToken: encodePageToken(RUN, result.next, query),
    };
  }

  /** WatchRun: the recorded steps after `fromStep`, then live events until the run stops. */
  watch(id: string, fromStep: number, signal: AbortSignal): AsyncGenerator<RunStreamEvent> {
    this.get(id);
    // Cluster mode: the replica training the run may be another one; the store has every step it stores.
    if (this.clustered) return this.pollWatch(id, fromStep, signal);
    let last = fromStep;
    return follow(this.events, id, {
      signal,
      replay: () =>
        this.metrics(id, fromStep).map((m): RunStreamEvent => {
          last = m.step;
          return { $case: 'step', value: m };
        }),
      done: () => {
        const run = this.get(id);
        return isStopped(run.state) ? { $case: 'run', value: run } : undefined;
      },
      // A step the replay already sent is not sent again.
      fresh: (e) => {
        if (e.$case !== 'step') return true;
        if (e.value.step <= last) return false;
        last = e.value.step;
        return true;
      },
      isLast: (e) => e.$case === 'run' && isStopped(e.value.state),
    });
  }

  /** WatchRun from the store: new steps and state changes every 200 ms, until the run stops. */
  private async *pollWatch(id: string, fromStep: number, signal: AbortSignal): AsyncGenerator<RunStreamEvent> {
    let last = fromStep;
    // As the live stream: state changes after the subscription (a stopped run ends the stream at once).
    let state: commonV1.RunState | undefined = this.get(id).state;
    if (isStopped(state)) state = undefined;
    while (!signal.aborted) {
      const run = this.get(id);
      for (const m of this.metrics(id, last)) {
        last = m.step;
        yield { $case: 'step', value: m };
      }
      if (run.state !== state) {
        state = run.state;
        // The run was read before its steps: every step stored before it stopped has been sent.
        yield { $case: 'run', value: run };
        if (isStopped(run.state)) return;
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  /** The blocks of a base model; an unknown builtin is NOT_FOUND. */
  private static blocksOfBase(base: Base): string[] {
    if (base.kind === 'checkpoint') return base.blocks;
    try {
      return blockIdsOf(base.arch, base.size);
    } catch {
      throw new FloeError('not_found', `spec.base_model: unknown model ${base.arch}/${base.size}`);
    }
  }

  /** What the base model is; a builtin as the run builds it, shaped by its training data when given. */
  private static describe(base: Base, trainData?: Dataset, replayData?: Dataset): ModelDescription {
    if (base.kind === 'checkpoint') return base.description;
    try {
      const shape = trainData ? builtinShape(base.arch, trainData, replayData) : { overrides: {} };
      const described = describeModel(base.arch, base.size, base.seed, shape.overrides);
      return { ...described, task: shape.task ?? described.task };
    } catch {
      throw new FloeError('not_found', `spec.base_model: unknown model ${base.arch}/${base.size}`);
    }
  }

  /** The strategy of a spec; with the base model's blocks, checks every named block (INVALID_ARGUMENT). */
  private strategyOf(spec: trainerV1.RunSpec, blocks?: string[]): StrategyConfig {
    const known = (field: string, ids: string[]) =>
      ids.forEach((id, i) => {
        if (blocks && !blocks.includes(id))
          throw invalidArgument(`${field}[${i}]`, `unknown block ${JSON.stringify(id)}; blocks: ${blocks.join(', ')}`);
      });
    // Only residual blocks (transformer and Mamba layers, and copies of them) take a function-preserving copy
    // after them; checked here so that a bad site is refused by StartRun, not a FAILED run.
    const residual = blocks?.filter((b) => b.startsWith('block.'));
    const expandable = (field: string, id: string) => {
      if (residual && !residual.includes(id))
        throw invalidArgument(
          field,
          `block ${JSON.stringify(id)} is not a residual block, so no copy can go after it; residual blocks: ${residual.join(', ') || 'none'}`,
        );
    };
    const T = trainerV1.Strategy;
    if (spec.strategy === T.STRATEGY_FREEZE) {
      known('spec.freeze_block_ids', spec.freezeBlockIds);
      if (blocks?.every((b) => spec.freezeBlockIds.includes(b)))
        throw invalidArgument(
          'spec.freeze_block_ids',
          `freezes every block of the model (${blocks.join(', ')}), so nothing would train; leave at least one out`,
        );
      return { kind: 'freeze', freeze: spec.freezeBlockIds, expandAfter: [], expandCount: 0, tune: [] };
    }
    if (spec.strategy === T.STRATEGY_EXPAND) {
      known('spec.expansion.after_block_ids', spec.expansion?.afterBlockIds ?? []);
      if (residual && residual.length === 0)
        throw invalidArgument('spec.strategy', 'the base model has no residual blocks to expand');
      spec.expansion?.afterBlockIds.forEach((id, i) => expandable(`spec.expansion.after_block_ids[${i}]`, id));
      const count = spec.expansion?.count ?? 0;
      if (residual && !spec.expansion?.afterBlockIds.length && count > residual.length)
        throw invalidArgument(
          'spec.expansion.count',
          `${count} copies spread evenly need as many residual blocks; the base model has ${residual.length} (${residual.join(', ')})`,
        );
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
      spec.plan.expansions.forEach((e, i) => {
        known(`spec.plan.expansions[${i}].after_block_id`, [e.afterBlockId]);
        expandable(`spec.plan.expansions[${i}].after_block_id`, e.afterBlockId);
      });
      // An ADE run trains the plan's tuned blocks and its copies, nothing else.
      if (spec.plan.tuneBlockIds.length === 0 && spec.plan.expansions.length === 0)
        throw invalidArgument('spec.plan', 'tunes no block and adds no copy, so nothing would train');
      return {
        kind: 'ade',
        freeze: spec.plan.freezeBlockIds,
        expandAfter: spec.plan.expansions.flatMap((e) => Array(Math.max(1, e.copies)).fill(e.afterBlockId)),
        expandCount: 0,
        tune: spec.plan.tuneBlockIds,
      };
    }
    const none = { freeze: [], expandAfter: [], expandCount: 0, tune: [] };
    if (SPARSE_STRATEGIES.has(spec.strategy)) {
      const sp = spec.sparse!;
      const methods = { 1: 'snip', 2: 'grasp', 3: 'synflow', 4: 'magnitude' } as const;
      const freezeNet = spec.strategy === T.STRATEGY_FREEZENET;
      const rigl = spec.strategy === T.STRATEGY_RIGL ? sp.rigl : undefined;
      return {
        kind: freezeNet ? 'freezenet' : spec.strategy === T.STRATEGY_RIGL ? 'rigl' : 'prune',
        ...none,
        sparse: {
          rest: freezeNet ? 'frozen' : 'pruned',
          method: freezeNet ? 'snip' : (methods[sp.method as 1 | 2 | 3 | 4] ?? 'snip'),
          keep: 1 - (freezeNet ? sp.freezingRate : sp.sparsity),
          scope: freezeNet ? 'all' : 'weights',
          scoreExamples: sp.scoreExamples || spec.batchSize,
          ...(spec.strategy === T.STRATEGY_RIGL && {
            rigl: {
              every: rigl?.updateIntervalSteps || DEFAULT_RIGL.every,
              end: Math.max(1, Math.round((rigl?.endFraction || 0.75) * spec.budgetSteps)),
              alpha: rigl?.dropFraction || DEFAULT_RIGL.alpha,
            },
          }),
        },
      };
    }
    if (spec.strategy === T.STRATEGY_BCD) {
      known('spec.freeze_block_ids', spec.freezeBlockIds);
      const free = blocks?.filter((b) => !spec.freezeBlockIds.includes(b));
      if (free && free.length < 2)
        throw invalidArgument(
          'spec.strategy',
          `BCD chooses among the model's blocks and needs at least two that train; this one has ${free.length} (${free.join(', ')})`,
        );
      const rules = { 1: 'cyclic', 2: 'random', 3: 'random-lipschitz', 4: 'gs', 5: 'gsl', 6: 'gs-quadratic' } as const;
      const b = spec.bcd!;
      return {
        kind: 'bcd',
        ...none,
        freeze: spec.freezeBlockIds,
        bcd: {
          rule: rules[b.rule as 1 | 2 | 3 | 4 | 5 | 6],
          refreshEvery: b.refreshIntervalSteps || 10,
          maxSkipped: b.maxSkippedSteps,
          lipschitz:
            b.lipschitz === trainerV1.LipschitzEstimate.LIPSCHITZ_ESTIMATE_BACKTRACKING ? 'backtracking' : 'secant',
        },
      };
    }
    return { kind: 'full', ...none };
  }

  /**
   * Where a run's data comes from: each reference with the split it draws and its target column (and its field,
   * for errors). A table's target column is the reference's own, else the training dataset's: the validation,
   * replay and old-domain tables of a run usually share its columns.
   */
  private static dataOf(spec: trainerV1.RunSpec): {
    train: RunDataRef & { maxExamples: number };
    validation?: RunDataRef & { maxExamples: number };
    referenceValidation?: RunDataRef & { maxExamples: number };
    replay?: RunDataRef & { fraction: number };
  } {
    const d = spec.dataset!;
    const target = (r: commonV1.DatasetRef) => RunManager.targetColumnOf(spec, r);
    const train = {
      field: 'spec.dataset',
      uri: d.uri,
      split: datasetSplit(d.split, 'train'),
      maxExamples: Number(d.maxExamples),
      targetColumn: d.targetColumn,
      ignoreColumns: d.ignoreColumns,
    };
    const v = spec.validationDataset;
    const validation =
      spec.evalIntervalSteps <= 0
        ? undefined
        : v?.uri
          ? {
              field: 'spec.validation_dataset',
              uri: v.uri,
              split: datasetSplit(v.split, 'all'),
              maxExamples: Number(v.maxExamples),
              targetColumn: target(v),
              ignoreColumns: v.ignoreColumns,
            }
          : {
              field: 'spec.dataset',
              uri: d.uri,
              split: 'validation' as const,
              maxExamples: 0,
              targetColumn: d.targetColumn,
              ignoreColumns: d.ignoreColumns,
            };
    const r = spec.referenceValidationDataset;
    const referenceValidation =
      spec.evalIntervalSteps > 0 && r?.uri
        ? {
            field: 'spec.reference_validation_dataset',
            uri: r.uri,
            split: datasetSplit(r.split, 'validation'),
            maxExamples: Number(r.maxExamples),
            targetColumn: target(r),
            ignoreColumns: r.ignoreColumns,
          }
        : undefined;
    const m = spec.mixture;
    const replay =
      m && m.replayFraction > 0 && m.replayDataset
        ? {
            field: 'spec.mixture.replay_dataset',
            uri: m.replayDataset.uri,
            split: datasetSplit(m.replayDataset.split, 'train'),
            fraction: m.replayFraction,
            targetColumn: target(m.replayDataset),
            ignoreColumns: m.replayDataset.ignoreColumns,
          }
        : undefined;
    return { train, validation, referenceValidation, replay };
  }

  /** A run's table's target column: its reference's own, else the training dataset's (dataOf). */
  private static targetColumnOf(spec: trainerV1.RunSpec, ref: commonV1.DatasetRef): string {
    return ref.targetColumn || spec.dataset!.targetColumn;
  }

  /**
   * Opens a run's datasets for the checks at StartRun. Training and validation are often two splits of one
   * folder: each (uri, target column) is read once, and only a text's split is cut out to check (a split of
   * images or a table is counted, not copied).
   */
  private datasetReader(): (
    ref: Pick<RunDataRef, 'field' | 'uri' | 'targetColumn' | 'ignoreColumns'>,
  ) => Promise<Dataset> {
    const limits = { dataRoots: this.o.dataRoots, maxBytes: this.o.maxDatasetBytes };
    const read = new Map<string, Promise<Dataset>>();
    return (ref) => {
      // One table read with two target columns (or two lists of columns to leave out) is two datasets.
      const key = JSON.stringify([ref.uri, ref.targetColumn, ref.ignoreColumns]);
      let full = read.get(key);
      if (!full)
        read.set(
          key,
          (full = openDatasetAsync(
            { uri: ref.uri, targetColumn: ref.targetColumn, ignoreColumns: ref.ignoreColumns },
            { ...limits, asRead: true },
            ref.field,
          )),
        );
      return full;
    };
  }

  /**
   * A checkpoint continues on a table by the column it learned to predict when the spec names no target
   * (openByTarget), recorded in the spec so that GetRun says which and the run's other tables follow it.
   */
  private async withLearnedTarget(
    spec: trainerV1.RunSpec,
    base: Base,
    open: ReturnType<RunManager['datasetReader']>,
  ): Promise<trainerV1.RunSpec> {
    if (base.kind !== 'checkpoint' || spec.dataset!.targetColumn) return spec;
    const { train } = RunManager.dataOf(spec);
    const { targetColumn } = await openByTarget(base.description, undefined, (column) =>
      open({ ...train, targetColumn: column ?? '' }),
    );
    return targetColumn ? { ...spec, dataset: { ...spec.dataset!, targetColumn } } : spec;
  }

  /**
   * What only the data can tell, before the run is accepted: each dataset opens (NOT_FOUND,
   * PERMISSION_DENIED, RESOURCE_EXHAUSTED naming its field), the model reads it (INVALID_ARGUMENT naming
   * both), and each split holds at least one sequence or example (FAILED_PRECONDITION naming it). Each
   * dataset is read once.
   */
  private async checkData(
    spec: trainerV1.RunSpec,
    base: Base,
    planLater: boolean,
    open = this.datasetReader(),
  ): Promise<void> {
    const seq = spec.sequenceLength || DEFAULT_SEQUENCE_LENGTH;
    const { train, validation, referenceValidation, replay } = RunManager.dataOf(spec);
    // The reference an ADE run's planner reads (its replay data, perhaps at fraction 0): the model reads it too.
    const plannerReference = planLater
      ? {
          field: 'spec.mixture.replay_dataset',
          uri: spec.mixture!.replayDataset!.uri,
          targetColumn: RunManager.targetColumnOf(spec, spec.mixture!.replayDataset!),
          ignoreColumns: spec.mixture!.replayDataset!.ignoreColumns,
        }
      : undefined;
    const trainData = await open(train);
    const replayData = replay && (await open(replay));
    // A builtin takes its shape from the training data (and the replay's classes), as the run's worker builds
    // it (builtinShape); a split has its whole dataset's shape and classes.
    const model = RunManager.describe(base, trainData, replayData);
    if (spec.balanceClasses && model.task !== 'classification')
      throw invalidArgument(
        'spec.balance_classes',
        `balances the classes of a classifier; ${model.spec.architecture} here is a ${model.task} model`,
      );
    if (model.task === 'language-model') {
      const context = Number(model.spec.config.context ?? seq);
      if (seq > context)
        throw invalidArgument('spec.sequence_length', `${seq} is longer than the model's context of ${context} bytes`);
    }
    const check = async (ref: RunDataRef & { maxExamples?: number }) => {
      const full = await open(ref);
      requireReadable(model, full, 'spec.base_model', ref.field);
      requireEnoughIn(full, ref.field, ref.split, ref.maxExamples ?? 0, seq);
    };
    await check(train);
    if (validation) await check(validation);
    if (referenceValidation) await check(referenceValidation);
    if (replay) await check(replay);
    if (plannerReference)
      requireReadable(model, await open(plannerReference), 'spec.base_model', plannerReference.field);
  }

  /** The checkpoint artifact of a run at `step` (0: its latest) or its best; a step without one is NOT_FOUND. */
  async checkpointOf(runId: string, step: number, best = false): Promise<string> {
    this.get(runId);
    return this.checkpoints.resolve(runId, step, best);
  }

  /** The base model of a spec: a builtin, or a checkpoint (of a run, or any artifact) read for its blocks. */
  private async resolveBase(spec: trainerV1.RunSpec): Promise<Base> {
    const source = modelSource(spec.baseModel!);
    if (source.kind === 'builtin')
      return { kind: 'builtin', arch: source.architecture, size: source.size, seed: source.seed };
    const artifactId = await modelArtifactId('spec.base_model', source, this.o.artifacts, (runId, step, best) =>
      this.checkpointOf(runId, step, best),
    );
    const meta = await readModelArtifactMeta(this.o.artifacts, artifactId);
    const s = meta.spec;
    return {
      kind: 'checkpoint',
      artifactId,
      blocks: checkpointBlockIds(meta.expansions, blockIdsOf(s.architecture, s.size, s.config)),
      description: { spec: s, task: meta.task },
    };
  }

  /**
   * StartRun: one run per request id, also for retries that arrive while the first call still runs (or
   * from another process sharing the database: the store's unique request id decides).
   */
  async start(spec: trainerV1.RunSpec, requestId: string): Promise<{ run: trainerV1.Run; replayed: boolean }> {
    if (requestId) {
      const inflight = this.starting.get(requestId);
      if (inflight) return { run: this.get((await inflight).runId), replayed: true };
      const existing = this.o.store.findByRequestId<unknown>(RUN, requestId);
      if (existing) return { run: trainerV1.Run.fromJSON(existing.body), replayed: true };
    }
    const p = this.create(spec, requestId);
    if (requestId) this.starting.set(requestId, p);
    try {
      return { run: await p, replayed: false };
    } catch (err) {
      const existing = requestId && this.o.store.findByRequestId<unknown>(RUN, requestId);
      if (existing) return { run: trainerV1.Run.fromJSON(existing.body), replayed: true };
      throw err;
    } finally {
      if (requestId) this.starting.delete(requestId);
    }
  }

  private async create(spec: trainerV1.RunSpec, requestId: string): Promise<trainerV1.Run> {
    const base = await this.resolveBase(spec);
    const blocks = RunManager.blocksOfBase(base);
    const planLater = spec.strategy === trainerV1.Strategy.STRATEGY_ADE && !spec.plan;
    if (planLater) {
      if (!spec.mixture?.replayDataset?.uri)
        throw invalidArgument(
          'spec.mixture.replay_dataset',
          'ADE without a plan asks the data-profiler for one, which needs the old-domain data here (replay_fraction may be 0)',
        );
      if (!this.o.planner)
        throw failedPrecondition('ADE without a plan needs the data-profiler, and none is reachable from this trainer');
    } else this.strategyOf(spec, blocks);
    const open = this.datasetReader();
    spec = await this.withLearnedTarget(spec, base, open);
    await this.checkData(spec, base, planLater, open);
    const now = new Date();
    // The server's default retention, recorded in the run's spec so GetRun shows what the run does.
    if (!spec.checkpointRetention && this.o.defaultKeepLast)
      spec = {
        ...spec,
        checkpointRetention: { keepLast: this.o.defaultKeepLast, keepBest: Number(spec.evalIntervalSteps) > 0 },
      };
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
      planChanges: [],
      takeovers: 0,
      replicaId: '',
      bestCheckpointStep: 0,
      earlyStoppedStep: 0,
    };
    // The checkpoint this run starts from outlives its own run's retention.
    if (base.kind === 'checkpoint') this.checkpoints.pin(base.artifactId, { baseOf: run.runId });
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
    if (this.clustered) return this.tick();
    this.queue.push(id);
    this.pump();
  }

  private pump(): void {
    if (this.stopping) return;
    if (this.clustered) return this.tick();
    for (let i = 0; i < this.queue.length && this.live.size < this.o.maxConcurrent;) {
      const id = this.queue[i]!;
      // A run whose previous worker is still finishing waits for it (one worker per run).
      if (this.live.has(id)) {
        i++;
        continue;
      }
      this.queue.splice(i, 1);
      const run = this.get(id);
      if (run.state === S.RUN_STATE_QUEUED) void this.launch(run);
    }
  }

  private job(run: trainerV1.Run): RunJob {
    const spec = run.spec!;
    const src = modelSource(spec.baseModel!);
    const o = spec.optimizer;
    const sched = spec.schedule;
    const kinds = { 1: 'adamw', 2: 'adam', 3: 'sgd' } as const;
    const schedKinds = { 1: 'constant', 2: 'linear', 3: 'cosine' } as const;
    const { train, validation, referenceValidation, replay } = RunManager.dataOf(spec);
    const location = <R extends RunDataRef & { maxExamples: number }>(r: R | undefined) =>
      r && {
        uri: r.uri,
        split: r.split,
        maxExamples: r.maxExamples,
        targetColumn: r.targetColumn,
        ignoreColumns: r.ignoreColumns,
      };
    // A horizon fixes the schedule's length whatever the budget (a pilot is the prefix of the long run).
    const horizon = Number(sched?.horizonSteps ?? 0);
    return {
      runId: run.runId,
      // A checkpoint base was resolved (and its blocks checked) at StartRun; its artifact id is on the run.
      model:
        src.kind === 'builtin'
          ? { architecture: src.architecture, size: src.size, seed: src.seed }
          : { checkpoint: run.baseArtifactId },
      dataset: location(train)!,
      replay: replay && {
        uri: replay.uri,
        split: replay.split,
        fraction: replay.fraction,
        targetColumn: replay.targetColumn,
        ignoreColumns: replay.ignoreColumns,
      },
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
        warmupSteps: sched?.warmupSteps || Math.round((sched?.warmupRatio ?? 0) * (horizon || spec.budgetSteps)),
        minRatio: sched?.minLrRatio ?? 0,
      },
      horizonSteps: horizon,
      batchSize: spec.batchSize,
      sequenceLength: spec.sequenceLength || DEFAULT_SEQUENCE_LENGTH,
      budgetSteps: spec.budgetSteps,
      checkpointEvery: spec.checkpointIntervalSteps,
      evalEvery: spec.evalIntervalSteps,
      validation: location(validation),
      referenceValidation: location(referenceValidation),
      earlyStopping: this.earlyStoppingOf(run),
      balanceClasses: spec.balanceClasses,
      seed: Number(spec.seed),
      backend: this.o.backend,
      threads: this.o.threads,
      priority: this.o.priority,
      artifactsDir: this.o.artifactsDir,
      dataRoots: this.o.dataRoots,
      maxDatasetBytes: this.o.maxDatasetBytes,
      // The latest checkpoint, recorded durably, so a restarted server resumes from it too.
      resumeFrom: this.o.store.get<{ checkpoint: string }>('run-checkpoint', run.runId)?.body.checkpoint,
    };
  }

  /**
   * A run's early stopping as its worker starts (undefined without it): where it stands after the evaluations
   * recorded up to the checkpoint the worker resumes from, counted afresh from the step where it last paused
   * the run.
   */
  private earlyStoppingOf(run: trainerV1.Run): RunJob['earlyStopping'] {
    const config = run.spec!.earlyStopping;
    if (!config?.patience || run.spec!.evalIntervalSteps <= 0) return undefined;
    // Steps are stored from 1 on: the first checkpointStep rows hold every step the worker resumes after.
    const evaluations = this.o.store
      .metrics<{ validationLoss?: number }>(run.runId, 0, Number(run.checkpointStep))
      .filter((m) => m.step <= run.checkpointStep && m.body.validationLoss !== undefined)
      .map((m) => ({ step: m.step, loss: m.body.validationLoss! }));
    return {
      patience: config.patience,
      minDelta: config.minDelta,
      state: earlyStoppingStateOf(evaluations, config, Number(run.earlyStoppedStep)),
    };
  }

  /**
   * ADE without a plan, inside the run: ask the data-profiler (base model, new data, the old domain as
   * reference), apply the plan as the spec's plan_policy says, and record the plan and what it changed.
   */
  private async planInside(run: trainerV1.Run, live: Live): Promise<trainerV1.Run | undefined> {
    const spec = run.spec!;
    this.events.publish(run.runId, { $case: 'phase', value: { phase: SpanName.plan, time: new Date() } });
    const result = await this.tracer.phase(run.runId, SpanName.plan, () =>
      this.o.planner!({
        model: spec.baseModel,
        dataset: spec.dataset,
        // The old domain as the run reads it: the training table's target unless the replay names its own.
        reference: {
          ...spec.mixture!.replayDataset!,
          targetColumn: RunManager.targetColumnOf(spec, spec.mixture!.replayDataset!),
        },
        maxExpansions: 0,
        seed: spec.seed,
        calibrationBatches: 0,
        batchSize: 0,
        sequenceLength: 0,
        unitsPerStep: spec.batchSize * (spec.sequenceLength || DEFAULT_SEQUENCE_LENGTH),
        // Inside a run the rules plan: a search would queue pilots behind this very run.
        mode: dataProfilerV1.PlanMode.PLAN_MODE_RULES,
        forgettingBudget: 0,
      }),
    );
    const { spec: planned, changes } = applyPlan(spec, result.plan!);
    const base = await this.resolveBase(planned);
    this.strategyOf(planned, RunManager.blocksOfBase(base));
    const current = this.get(run.runId);
    const next = { ...current, spec: planned, planChanges: changes };
    if (live.cancelled) return void this.save({ ...next, state: S.RUN_STATE_CANCELLED });
    if (live.pauseRequested) return void this.save({ ...next, state: S.RUN_STATE_PAUSED });
    return this.save(next);
  }

  private async launch(queued: trainerV1.Run): Promise<void> {
    const id = queued.runId;
    let run = this.save({
      ...queued,
      state: S.RUN_STATE_RUNNING,
      error: '',
      replicaId: this.clustered?.replicaId ?? queued.replicaId,
    });
    const planning: Live = {
      pause: () => (planning.pauseRequested = true),
      terminate: async () => ((planning.cancelled = true), 0),
      recordedStep: run.step,
    };
    this.live.set(id, planning);
    try {
      if (run.spec!.strategy === trainerV1.Strategy.STRATEGY_ADE && !run.spec!.plan) {
        const planned = await this.planInside(run, planning);
        if (!planned) {
          this.live.delete(id);
          this.pump();
          return;
        }
        run = planned;
      }
      const job = this.job(run);
      const handle = startRunWorker(job, (e) => this.onEvent(id, e));
      const live: Live = { pause: handle.pause, terminate: handle.terminate, recordedStep: run.step };
      this.live.set(id, live);
      if (planning.cancelled) void this.cancel(id);
      else if (planning.pauseRequested) live.pause();
      void handle.exited.then(() => {
        // A resumed run has a new worker by the time an old one exits: only the current one counts.
        if (this.closed || this.live.get(id) !== live) return;
        this.live.delete(id);
        const c = this.clustered;
        if (c) {
          // Another replica has a lost run; any other stopped here and its lease goes back.
          if (live.lost) return this.pump();
          this.o.store.releaseLease(RUN, id, c.replicaId);
        }
        this.tracer.finish(id, live.cancelled ? 'cancelled' : 'failed', live.cancelled ? 'cancelled' : undefined);
        const r = this.get(id);
        if (r.state === S.RUN_STATE_RUNNING)
          this.save({
            ...r,
            state: live.cancelled ? S.RUN_STATE_CANCELLED : S.RUN_STATE_FAILED,
            error: r.error || (live.cancelled ? '' : 'the training worker exited'),
          });
        this.pump();
      });
    } catch (err) {
      this.live.delete(id);
      if (this.closed) return;
      this.tracer.finish(id, 'failed', (err as Error).message);
      this.o.log.error('run failed before training', { runId: id, err });
      this.save({ ...this.get(id), state: S.RUN_STATE_FAILED, error: (err as Error).message });
      this.pump();
    }
  }

  private onEvent(id: string, e: RunEvent): void {
    if (this.closed || this.live.get(id)?.lost) return;
    const run = this.get(id);
    switch (e.type) {
      case 'ready':
        this.save({
          ...run,
          step: Math.max(run.step, e.step),
          trainableParams: e.trainableParams,
          totalParams: e.totalParams,
          initialValidationLoss: e.initialValidationLoss ?? run.initialValidationLoss,
          initialReferenceValidationLoss: e.initialReferenceValidationLoss ?? run.initialReferenceValidationLoss,
        });
        break;
      case 'phase':
        if (e.edge === 'start') {
          this.tracer.phaseStart(id, e.phase, e.time);
          this.events.publish(id, { $case: 'phase', value: { phase: e.phase, time: new Date(e.time) } });
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
          referenceValidationLoss: e.referenceValidationLoss,
          validationBatchLosses: e.validationBatchLosses ?? [],
          referenceValidationBatchLosses: e.referenceValidationBatchLosses ?? [],
          learningRate: e.metrics.learningRate,
          throughput: e.metrics.throughput,
          blockGradNorms: Object.entries(e.metrics.blockGradNorms).map(([blockId, norm]) => ({ blockId, norm })),
          time: new Date(),
          updatedBlockIds: e.metrics.updatedBlocks ?? [],
        };
        // Steps after the last checkpoint are replayed after a crash: their commit need not wait for a sync.
        // A commit that loses its database connection (PostgreSQL restarting) is tried again; every step
        // is stored once either way. If the store stays away, the run pauses at its checkpoint, saying why.
        const commit = () =>
          this.o.store.progressTransaction(() => {
            this.o.store.appendMetrics(id, [{ step: m.step, body: trainerV1.StepMetrics.toJSON(m) }]);
            this.save({ ...run, step: m.step, lastMetrics: m });
          });
        try {
          retrySync(commit, STORE_ATTEMPTS);
        } catch (err) {
          this.o.log.error('cannot store a step; pausing the run', { runId: id, step: m.step, err });
          this.storeFailures.set(id, (err as Error).message);
          this.live.get(id)?.pause();
          break;
        }
        this.events.publish(id, { $case: 'step', value: m });
        const budget = Number(run.spec!.budgetSteps);
        this.events.publish(id, {
          $case: 'progress',
          value: {
            phase: 'train',
            done: m.step,
            total: budget,
            fraction: Math.min(1, m.step / budget),
            message: `step ${m.step} of ${budget}, loss ${m.trainLoss.toFixed(4)}`,
            time: m.time,
          },
        });
        break;
      }
      case 'checkpoint': {
        // The validation loss of the checkpoint's own weights, when the run evaluated at its step.
        const measured = run.lastMetrics?.step === e.step ? run.lastMetrics.validationLoss : undefined;
        const { best, dropped } = this.checkpoints.record(
          id,
          { step: e.step, artifactId: e.artifactId, validationLoss: measured },
          run.spec!.checkpointRetention,
        );
        this.save({ ...run, checkpointStep: e.step, bestCheckpointStep: best?.step ?? 0 });
        this.events.publish(id, { $case: 'checkpoint', value: { step: e.step, artifactId: e.artifactId } });
        // Off the run's path, after their grace period; the trash outlives a restart.
        if (dropped.length) this.scheduleCollection();
        break;
      }
      case 'stopped': {
        this.tracer.finish(id, e.reason === 'budget' ? 'completed' : e.reason);
        const storeFailure = this.storeFailures.get(id);
        this.storeFailures.delete(id);
        // Cluster mode: a run paused by this replica's shutdown goes back to the queue for another one.
        const handOver = !!this.clustered && this.stopping && e.reason === 'paused' && !storeFailure;
        this.save({
          ...run,
          state: handOver ? S.RUN_STATE_QUEUED : S.RUN_STATE_PAUSED,
          step: storeFailure ? run.step : e.step,
          error: storeFailure ? `paused: the metadata store failed (${storeFailure}); resume it` : run.error,
          earlyStoppedStep: e.reason === 'early_stopped' ? e.step : run.earlyStoppedStep,
        });
        break;
      }
      case 'error':
        this.tracer.finish(id, 'failed', e.message);
        this.o.log.error('run failed', { runId: id, error: e.message });
        this.save({ ...run, state: S.RUN_STATE_FAILED, error: e.message });
        break;
    }
  }

  pause(id: string): trainerV1.Run {
    const run = this.get(id);
    if (run.state === S.RUN_STATE_QUEUED)
      return this.whileHeld(id, () => this.save({ ...this.get(id), state: S.RUN_STATE_PAUSED }));
    if (run.state !== S.RUN_STATE_RUNNING)
      throw failedPrecondition(`run ${id} is ${commonV1.runStateToJSON(run.state)}, not RUNNING`);
    const live = this.live.get(id);
    if (live) live.pause();
    else if (this.clustered) this.command(id, { pause: true });
    return run;
  }

  /**
   * Cluster mode: runs `fn` on a run no replica is training (its lease taken for the moment, so no
   * replica claims it meanwhile); FAILED_PRECONDITION when one just claimed it. Alone: just runs it.
   */
  private whileHeld<T>(id: string, fn: () => T): T {
    const c = this.clustered;
    if (!c || this.live.has(id)) return fn();
    if (!this.o.store.acquireLease(RUN, id, c.replicaId, c.leaseMs))
      throw failedPrecondition(`run ${id} was just claimed by a replica; try again`);
    try {
      return fn();
    } finally {
      this.o.store.releaseLease(RUN, id, c.replicaId);
    }
  }

  /** Cluster mode: a pause or cancel for the replica that trains the run (it acts within a tick). */
  private command(id: string, command: Command): void {
    const existing = this.o.store.get<Command>(COMMAND, id);
    if (existing) this.o.store.update(COMMAND, id, 'PENDING', { ...command });
    else this.o.store.create(COMMAND, id, 'PENDING', command);
  }

  resume(id: string, additional: number): trainerV1.Run {
    // Cluster mode: under the run's lease, so a replica taking it over meanwhile is not overwritten.
    const queued = this.whileHeld(id, () => this.requeue(id, additional));
    this.enqueue(id);
    return queued;
  }

  private requeue(id: string, additional: number): trainerV1.Run {
    const run = this.get(id);
    if (run.state !== S.RUN_STATE_PAUSED && run.state !== S.RUN_STATE_INTERRUPTED) {
      throw failedPrecondition(
        `run ${id} is ${commonV1.runStateToJSON(run.state)}; only PAUSED or INTERRUPTED runs resume`,
      );
    }
    const spec = { ...run.spec!, budgetSteps: run.spec!.budgetSteps + additional };
    // An interrupted run resumes from its checkpoint: one that died after its last step but before that step's
    // checkpoint replays to its budget and writes it (a study's trial needs it to thaw, people to export it).
    const from = run.state === S.RUN_STATE_INTERRUPTED ? run.checkpointStep : run.step;
    if (spec.budgetSteps <= from)
      throw invalidArgument(
        'additional_steps',
        `the run is at step ${run.step} of its budget ${run.spec!.budgetSteps}; add steps to resume`,
      );
    const queued = this.save({ ...run, spec, state: S.RUN_STATE_QUEUED });
    this.tracer.bind(id, { [Attr.strategy]: trainerV1.strategyToJSON(spec.strategy) });
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
    } else if (this.clustered && run.state === S.RUN_STATE_RUNNING) {
      // Another replica trains it: it cancels within a tick; wait for that (a dead one's run is cancelled here).
      this.command(id, { cancel: true });
      const deadline = Date.now() + 2 * this.clustered.leaseMs;
      while (Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 100));
        const now = this.get(id);
        if (now.state !== S.RUN_STATE_RUNNING) return now.state === S.RUN_STATE_CANCELLED ? now : this.cancel(id);
      }
    }
    return this.whileHeld(id, () => this.save({ ...this.get(id), state: S.RUN_STATE_CANCELLED }));
  }

  /**
   * DeleteRun: a stopped run's record, metrics and checkpoints go (the pinned checkpoints stay). The records go
   * first, so a crash midway leaves unlisted artifacts behind, never a run without its checkpoints.
   */
  async delete(id: string): Promise<{ run: trainerV1.Run; deletedCheckpoints: number; keptArtifactIds: string[] }> {
    const run = this.get(id);
    if (!isStopped(run.state))
      throw failedPrecondition(
        `run ${id} is ${commonV1.runStateToJSON(run.state)}: pause or cancel it before deleting it`,
      );
    // A run just stopped may still have its worker winding down; it is gone within moments.
    for (const deadline = Date.now() + 10_000; this.live.has(id) && Date.now() < deadline;)
      await new Promise((resolve) => setTimeout(resolve, 20));
    if (this.live.has(id)) throw failedPrecondition(`run ${id} has stopped but its worker has not exited; try again`);
    const ids = await this.checkpoints.artifactsOf(id);
    // The run whose checkpoint this one started from (a checkpoint of a deleted run is kept only by its claims).
    const baseOwner = run.baseArtifactId && (await this.o.artifacts.get(run.baseArtifactId))?.manifest.labels.run;
    let plan: { drop: string[]; kept: string[] } = { drop: [], kept: [] };
    this.whileHeld(id, () =>
      this.o.store.transaction(() => {
        if (!isStopped(this.get(id).state)) throw failedPrecondition(`run ${id} was just resumed; try again`);
        plan = this.checkpoints.forget(
          id,
          run.baseArtifactId,
          ids,
          () => !!baseOwner && !this.o.store.get(RUN, baseOwner),
        );
        this.o.store.delete(RUN, id);
        this.o.store.delete(COMMAND, id);
        this.o.store.deleteMetrics(id);
        return run;
      }),
    );
    const { drop, kept } = plan;
    await this.collect(drop);
    return { run, deletedCheckpoints: drop.length, keptArtifactIds: kept };
  }

  /**
   * ReleaseExport: an exported checkpoint falls back under its run's retention, a sparse export goes
   * (CheckpointLedger.release). A stopped run's record changes under its lease in cluster mode.
   */
  async releaseExport(
    artifactId: string,
  ): Promise<{ artifactId: string; deleted: boolean; keptBecause: trainerV1.CheckpointKeptReason[] }> {
    const artifact = await this.o.artifacts.get(artifactId);
    if (!artifact) throw notFound('artifact', artifactId);
    const kind = artifact.manifest.kind;
    if (kind !== 'checkpoint' && kind !== SPARSE_MODEL_KIND)
      throw failedPrecondition(`artifact_id: ${artifactId} is a ${kind} artifact, not one ExportModel exported`);
    const runId = artifact.manifest.labels.run ?? '';
    const stored = runId ? this.o.store.get<unknown>(RUN, runId) : undefined;
    const run = stored ? trainerV1.Run.fromJSON(stored.body) : undefined;
    const release = () =>
      this.checkpoints.release(artifactId, {
        sparse: kind === SPARSE_MODEL_KIND,
        run: run && { id: runId, retention: run.spec!.checkpointRetention, training: !isStopped(run.state) },
      });
    const released = run && isStopped(run.state) ? this.whileHeld(runId, release) : release();
    if (released.deleted) this.scheduleCollection();
    return { artifactId, ...released };
  }

  /** Sets the timer for the next checkpoint in the trash that falls due (none when the trash is empty). */
  private scheduleCollection(): void {
    if (this.closed) return;
    const due = this.checkpoints.nextDue();
    if (this.collectTimer) clearTimeout(this.collectTimer);
    this.collectTimer = undefined;
    if (due === undefined) return;
    this.collectTimer = setTimeout(() => void this.collect(), Math.max(0, due - Date.now()));
    this.collectTimer.unref();
  }

  /** Deletes the checkpoints in the trash that are due (`only`: of those, these), then waits for the next. */
  private collect(only?: readonly string[]): Promise<void> {
    const collecting: Promise<void> = this.checkpoints
      .collect(only)
      .then(() => undefined)
      .catch((err: unknown) => this.o.log.error('cannot delete a checkpoint from the trash', { err }))
      .finally(() => {
        this.deleting.delete(collecting);
        this.scheduleCollection();
      });
    this.deleting.add(collecting);
    return collecting;
  }

  /** Pauses every live run with a checkpoint and starts no more (server shutdown). */
  async pauseAll(timeoutMs: number): Promise<void> {
    this.stopping = true;
    for (const live of this.live.values()) live.pause();
    const deadline = Date.now() + timeoutMs;
    while (this.live.size && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  }

  private closed = false;

  /** After shutdown: workers still running are stopped (a restarted server lists their runs INTERRUPTED). */
  async close(): Promise<void> {
    this.stopping = true;
    this.closed = true;
    if (this.ticker) clearInterval(this.ticker);
    if (this.collectTimer) clearTimeout(this.collectTimer);
    await Promise.all([...this.live.values()].map((l) => l.terminate()));
    this.live.clear();
    await Promise.all(this.deleting);
  }

  metrics(id: string, afterStep: number): trainerV1.StepMetrics[] {
    return this.o.store.metrics<unknown>(id, afterStep).map((m) => trainerV1.StepMetrics.fromJSON(m.body));
  }
}
