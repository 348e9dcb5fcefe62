// adapt(): floe's main job as one call through the services' public APIs — (pretrain a base when asked),
// profile the new data against the old, plan, tune the plan's learning rate with freeze-thaw BO, train,
// evaluate both domains, explain what changed. Every stage that trains is idempotent by a request id
// derived from the adaptation's id, and every finished stage's answer goes to the caller's journal: run
// again after a crash or Ctrl-C, it resumes where it stopped, training nothing twice. The tuning trials
// follow the final run's schedule (its horizon is the run's budget), so a trial is the exact prefix of the
// run it stands for and the final run is the best trial resumed to the budget: freeze-thaw's point.
import * as grpc from '@grpc/grpc-js';
import {
  commonV1,
  dataProfilerV1 as dp,
  evaluatorV1 as ev,
  explainerV1 as ex,
  hpoSurrogateV1 as hpo,
  trainerV1 as tr,
} from '@floe/contracts';
import type { FloeClient } from './client.js';
import { FloeApiError } from './errors.js';

/**
 * A loss, score or gain as people read it: three decimals, or four significant digits where three decimals would
 * hide it (a squared error in the hundreds of millions, a gain of 0.0004).
 */
export function readableNumber(v: number): string {
  const a = Math.abs(v);
  return a !== 0 && Number.isFinite(a) && (a >= 1e5 || a < 1e-2) ? v.toPrecision(4) : v.toFixed(3);
}

export const ADAPT_STAGES = ['base', 'profile', 'plan', 'tune', 'train', 'evaluate', 'explain'] as const;
export type AdaptStage = (typeof ADAPT_STAGES)[number];

export interface AdaptRequest {
  /** The adaptation's id: request ids derive from it, so the same id resumes. Letters, digits, '-', '_', '.'. */
  id: string;
  /** The model to adapt; with `pretrain`, the base is trained first and this is ignored. */
  model?: commonV1.ModelRef;
  /** The new domain (a dataset reference, e.g. builtin:typescript-lib or file:…). */
  data: string;
  /** The old domain the model knows. */
  reference: string;
  /** Tables: the column to learn (both domains'); default the one named label or target, else the last. */
  targetColumn?: string;
  /** Tables: columns to leave out (both domains'; DatasetRef.ignore_columns). */
  ignoreColumns?: string[];
  /** Steps of the final run. */
  budgetSteps?: number;
  batchSize?: number;
  sequenceLength?: number;
  seed?: number;
  /** Trains the base first (the demo): a builtin architecture on the reference data. */
  pretrain?: { architecture: commonV1.ModelArchitecture; size: string; steps: number; learningRate?: number };
  /** Tuning: the other learning rates' trial steps as a fraction of the final run's (0 skips the stage); default 1. */
  tuneFraction?: number;
  /** Sequences per domain in the evaluation; default 256. */
  evalSamples?: number;
  /** Explain what changed (the explainer); default true. */
  explain?: boolean;
}

/** Where finished stages' answers are kept between attempts (the CLI keeps a JSON file). */
export interface AdaptJournal {
  get(stage: AdaptStage): unknown;
  set(stage: AdaptStage, value: unknown): void;
}

export const memoryJournal = (): AdaptJournal => {
  const m = new Map<AdaptStage, unknown>();
  return { get: (s) => m.get(s), set: (s, v) => void m.set(s, v) };
};

export type StageStatus = 'done' | 'reused' | 'skipped';

export type AdaptEvent =
  | { type: 'stage'; stage: AdaptStage; status: 'started' }
  | { type: 'stage'; stage: AdaptStage; status: StageStatus; seconds: number; summary: string }
  | { type: 'progress'; stage: AdaptStage; done: number; total: number; message: string };

/** One point of a learning curve. */
export interface CurvePoint {
  step: number;
  value: number;
}

/** What the adapted model does, read from the new data: text → language model; a table's target → classes
 * or a number; images → classes. It decides the loss's unit, the evaluation's suites and its metric. */
export type AdaptTask = 'language-model' | 'classification' | 'regression';

export interface AdaptResult {
  id: string;
  data: string;
  reference: string;
  task: AdaptTask;
  /** The unit of every loss in this result (curves, tuning): bits/byte for text, nats for classes, the
   * squared error for a regression. */
  lossUnit: string;
  stages: { stage: AdaptStage; status: StageStatus; seconds: number; summary: string; startedAt: number }[];
  base: { model: unknown; runId?: string };
  drift?: {
    verdict: string;
    overallPsi: number;
    features: { feature: string; psi: number; verdict: string }[];
    /** Tables: columns only the old or only the new data has. */
    onlyInReference?: string[];
    onlyInCurrent?: string[];
  };
  plan?: unknown;
  tuning?: {
    studyId: string;
    parameter: string;
    /** `steps`: the best trial's run's budget when tuning ended (the final run adds the rest). */
    incumbent: { trialId: string; runId: string; learningRate: number; value: number; steps: number };
    trials: { trialId: string; runId: string; learningRate: number; curve: CurvePoint[] }[];
  };
  run?: { runId: string; trainLoss: CurvePoint[]; validationLoss: CurvePoint[]; referenceValidationLoss: CurvePoint[] };
  evaluation?: {
    /** bits_per_byte (text), accuracy (classes) or mse (regression). */
    metric: string;
    higherIsBetter: boolean;
    suites: string[];
    /** Per domain: the base's and the adapted model's score, the gain (the improvement: base − adapted for a
     * metric where lower is better, adapted − base otherwise) and its error. */
    domains: {
      domain: 'new' | 'old';
      suite: string;
      base: number;
      adapted: number;
      gain: number;
      gainStderr: number;
    }[];
  };
  explanation?: {
    rankCorrelation: number;
    gained: string[];
    lost: string[];
    shifts: { feature: string; before: number; after: number }[];
    plots: { name: string; svg: string }[];
  };
}

const S = commonV1.DatasetSplit;
/** The tuning's learning rates, as multiples of the plan's (the first is the baseline). */
const LR_FACTORS = [1, 0.5, 2, 0.25, 4];
/** A table's columns as every stage reads them: the target, and those left out. */
type TableColumns = Pick<commonV1.DatasetRef, 'targetColumn' | 'ignoreColumns'>;
const ref = (
  uri: string,
  split: commonV1.DatasetSplit,
  maxExamples = 0,
  columns: TableColumns = { targetColumn: '', ignoreColumns: [] },
): commonV1.DatasetRef => ({ uri, split, maxExamples, ...columns });
const verdictName = (v: dp.DriftVerdict) => dp.driftVerdictToJSON(v).replace('DRIFT_VERDICT_', '').toLowerCase();
const runModel = (runId: string): commonV1.ModelRef => ({
  source: { $case: 'run', value: { runId, step: 0, best: false } },
});

/** Per task: the loss's unit and its conversion from the trainer's nats, and the evaluation's suite. */
const TASKS: Record<
  AdaptTask,
  { unit: string; fromNats: (v: number) => number; kind: ev.TaskKind; metrics: string[]; metric: string }
> = {
  'language-model': {
    unit: 'bits/byte',
    fromNats: (v) => v / Math.LN2,
    kind: ev.TaskKind.TASK_KIND_LANGUAGE_MODEL,
    metrics: ['bits_per_byte'],
    metric: 'bits_per_byte',
  },
  classification: {
    unit: 'nats',
    fromNats: (v) => v,
    kind: ev.TaskKind.TASK_KIND_CLASSIFICATION,
    metrics: ['accuracy', 'loss'],
    metric: 'accuracy',
  },
  regression: {
    unit: 'squared error',
    fromNats: (v) => v,
    kind: ev.TaskKind.TASK_KIND_REGRESSION,
    metrics: ['mse'],
    metric: 'mse',
  },
};

/** The task the new data asks for, from its profile (one example is enough); text without a profiler. */
async function taskOf(
  client: FloeClient,
  data: string,
  columns: TableColumns,
  signal?: AbortSignal,
): Promise<AdaptTask> {
  try {
    let profile: dp.DatasetProfile | undefined;
    for await (const e of client.dataProfiler.profileDataset(
      { dataset: ref(data, S.DATASET_SPLIT_TRAIN, 1, columns), bins: 0 },
      { signal },
    ))
      if (e.event?.$case === 'profile') profile = e.event.value;
    const detail = profile?.detail;
    if (detail?.$case === 'image') return 'classification';
    if (detail?.$case === 'tabular')
      return detail.value.targets[0]?.inferredType === 'categorical' ? 'classification' : 'regression';
    return 'language-model';
  } catch (err) {
    if (err instanceof FloeApiError && err.code === grpc.status.UNIMPLEMENTED) return 'language-model';
    throw err;
  }
}

/** Runs the flow, yielding its events; the last value returned is the result. */
export async function* adapt(
  client: FloeClient,
  request: AdaptRequest,
  options: { journal?: AdaptJournal; signal?: AbortSignal } = {},
): AsyncGenerator<AdaptEvent, AdaptResult> {
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(request.id))
    throw new FloeApiError(
      grpc.status.INVALID_ARGUMENT,
      'id: 1–64 letters, digits, "-", "_" or "."',
      [{ field: 'id', description: 'letters, digits, "-", "_" or "."' }],
      'adapt',
    );
  if (!request.model && !request.pretrain)
    throw new FloeApiError(
      grpc.status.INVALID_ARGUMENT,
      'model: required without pretrain',
      [{ field: 'model', description: 'required without pretrain' }],
      'adapt',
    );
  const journal = options.journal ?? memoryJournal();
  const signal = options.signal;
  const budget = request.budgetSteps ?? 300;
  const batchSize = request.batchSize ?? 16;
  const sequenceLength = request.sequenceLength ?? 128;
  const seed = request.seed ?? 1;
  const rid = (stage: string) => `adapt:${request.id}:${stage}`;
  const columns = { targetColumn: request.targetColumn ?? '', ignoreColumns: request.ignoreColumns ?? [] };
  const task = await taskOf(client, request.data, columns, signal);
  const { unit, fromNats } = TASKS[task];
  const result: AdaptResult = {
    id: request.id,
    data: request.data,
    reference: request.reference,
    task,
    lossUnit: unit,
    stages: [],
    base: { model: request.model },
  };

  /** Runs one stage unless the journal has its answer; a stage whose service is not there is skipped. */
  async function* stage<T>(
    name: AdaptStage,
    work: (progress: (done: number, total: number, message: string) => AdaptEvent) => AsyncGenerator<AdaptEvent, T>,
    summarise: (value: T) => string,
  ): AsyncGenerator<AdaptEvent, T | undefined> {
    const startedAt = Date.now();
    const kept = journal.get(name) as T | undefined;
    if (kept !== undefined) {
      const summary = summarise(kept);
      result.stages.push({ stage: name, status: 'reused', seconds: 0, summary, startedAt });
      yield { type: 'stage', stage: name, status: 'reused', seconds: 0, summary };
      return kept;
    }
    yield { type: 'stage', stage: name, status: 'started' };
    let value: T;
    try {
      value = yield* work((done, total, message) => ({ type: 'progress', stage: name, done, total, message }));
    } catch (err) {
      if (err instanceof FloeApiError && err.code === grpc.status.UNIMPLEMENTED) {
        const summary = `skipped: ${err.service} is not served here`;
        result.stages.push({ stage: name, status: 'skipped', seconds: 0, summary, startedAt });
        yield { type: 'stage', stage: name, status: 'skipped', seconds: 0, summary };
        return undefined;
      }
      throw err;
    }
    journal.set(name, value);
    const seconds = (Date.now() - startedAt) / 1000;
    const summary = summarise(value);
    result.stages.push({ stage: name, status: 'done', seconds, summary, startedAt });
    yield { type: 'stage', stage: name, status: 'done', seconds, summary };
    return value;
  }

  /** Watches a run to its end (PAUSED at its budget), reporting steps; answers its steps; fails with the
   * run's reason. */
  async function* watch(
    runId: string,
    progress: (done: number, total: number, message: string) => AdaptEvent,
  ): AsyncGenerator<AdaptEvent, tr.StepMetrics[]> {
    const steps: tr.StepMetrics[] = [];
    for await (const e of client.trainer.watchRun({ runId, fromStep: 0 }, { signal })) {
      const ev = e.event;
      if (ev?.$case !== 'step') continue;
      steps.push(ev.value);
      if (ev.value.step % 10 === 0)
        yield progress(
          ev.value.step,
          0,
          `step ${ev.value.step}, loss ${readableNumber(fromNats(ev.value.trainLoss))} ${unit}`,
        );
    }
    const { run } = await client.trainer.getRun({ runId }, { signal });
    // A run that reached its budget is PAUSED (it could be resumed for more).
    if (run!.state !== commonV1.RunState.RUN_STATE_PAUSED)
      throw new FloeApiError(
        grpc.status.ABORTED,
        `run ${runId} ended ${commonV1.runStateToJSON(run!.state)}: ${run!.error || 'no reason given'}`,
        [],
        'trainer',
      );
    return steps;
  }

  // Pretrain (the demo): the base model learns the old domain first.
  let base: commonV1.ModelRef = request.model!;
  if (request.pretrain) {
    const p = request.pretrain;
    const runId = yield* stage(
      'base',
      async function* (progress) {
        const { run } = await client.trainer.startRun(
          {
            requestId: rid('base'),
            spec: {
              baseModel: { source: { $case: 'builtin', value: { architecture: p.architecture, size: p.size, seed } } },
              dataset: ref(request.reference, S.DATASET_SPLIT_TRAIN, 0, columns),
              strategy: tr.Strategy.STRATEGY_FULL,
              optimizer: {
                kind: tr.OptimizerKind.OPTIMIZER_KIND_ADAMW,
                learningRate: p.learningRate ?? 3e-3,
                gradClipNorm: 1,
              },
              schedule: { kind: tr.ScheduleKind.SCHEDULE_KIND_COSINE, warmupRatio: 0.06, minLrRatio: 0.1 },
              batchSize,
              sequenceLength,
              budgetSteps: p.steps,
              seed,
              labels: { adaptation: request.id, stage: 'base' },
            },
          },
          { signal },
        );
        yield* watch(run!.runId, (d, _t, m) => progress(d, p.steps, m));
        return run!.runId;
      },
      (id) => `base model trained on ${request.reference}: run ${id}`,
    );
    base = runModel(runId!);
    result.base = { model: commonV1.ModelRef.toJSON(base), runId };
  } else result.base = { model: commonV1.ModelRef.toJSON(base) };

  // Profile: how far the new data moved from the old.
  const drift = yield* stage(
    'profile',
    async function* (progress) {
      let report: dp.DriftReport | undefined;
      for await (const e of client.dataProfiler.compareDatasets(
        {
          reference: ref(request.reference, S.DATASET_SPLIT_TRAIN, 0, columns),
          current: ref(request.data, S.DATASET_SPLIT_TRAIN, 0, columns),
        },
        { signal },
      )) {
        if (e.event?.$case === 'progress')
          yield progress(e.event.value.done, e.event.value.total, e.event.value.message);
        if (e.event?.$case === 'report') report = e.event.value;
      }
      return {
        verdict: verdictName(report!.verdict),
        overallPsi: report!.overallPsi,
        features: report!.features.map((f) => ({
          feature: f.feature,
          psi: f.psi,
          verdict: verdictName(f.verdict),
        })),
        onlyInReference: report!.onlyInReference,
        onlyInCurrent: report!.onlyInCurrent,
      };
    },
    (d) => `drift ${d.verdict} (PSI ${d.overallPsi.toFixed(3)})`,
  );
  if (drift) result.drift = drift;

  // Plan: which blocks to freeze, tune and expand, how much to replay, at which rate.
  const planJson = yield* stage(
    'plan',
    async function* (progress) {
      let plan: commonV1.AdaptationPlan | undefined;
      for await (const e of client.dataProfiler.planAdaptation(
        {
          model: base,
          dataset: ref(request.data, S.DATASET_SPLIT_TRAIN, 0, columns),
          reference: ref(request.reference, S.DATASET_SPLIT_TRAIN, 0, columns),
          seed,
          batchSize,
          sequenceLength,
          mode: dp.PlanMode.PLAN_MODE_RULES,
        },
        { signal },
      )) {
        if (e.event?.$case === 'progress')
          yield progress(e.event.value.done, e.event.value.total, e.event.value.message);
        if (e.event?.$case === 'result') plan = e.event.value.plan;
      }
      return commonV1.AdaptationPlan.toJSON(plan!) as object;
    },
    (p) => {
      const plan = commonV1.AdaptationPlan.fromJSON(p);
      return `expand after ${plan.expansions.map((e) => e.afterBlockId).join(', ') || 'none'}; freeze ${plan.freezeBlockIds.join(', ') || 'none'}; replay ${plan.replayFraction}; lr ${plan.learningRate}`;
    },
  );
  const plan = commonV1.AdaptationPlan.fromJSON(planJson);
  result.plan = planJson;

  // The final run's spec; the trials are its prefixes with other learning rates.
  const runSpec = (learningRate: number): tr.RunSpec =>
    tr.RunSpec.fromPartial({
      baseModel: base,
      dataset: ref(request.data, S.DATASET_SPLIT_TRAIN, 0, columns),
      validationDataset: ref(request.data, S.DATASET_SPLIT_VALIDATION, 0, columns),
      referenceValidationDataset: ref(request.reference, S.DATASET_SPLIT_VALIDATION, 0, columns),
      strategy: tr.Strategy.STRATEGY_ADE,
      plan,
      mixture: {
        replayDataset: ref(request.reference, S.DATASET_SPLIT_TRAIN, 0, columns),
        replayFraction: plan.replayFraction,
      },
      optimizer: { kind: tr.OptimizerKind.OPTIMIZER_KIND_ADAMW, learningRate, gradClipNorm: 1 },
      schedule: {
        kind: tr.ScheduleKind.SCHEDULE_KIND_COSINE,
        warmupRatio: 0.06,
        minLrRatio: 0.1,
        horizonSteps: budget,
      },
      batchSize,
      sequenceLength,
      budgetSteps: budget,
      evalIntervalSteps: Math.max(1, Math.round(budget / 10)),
      checkpointIntervalSteps: Math.max(1, Math.round(budget / 10)),
      // The latest (to resume) and the best (run:ID@best); the tuning trials' prefixes need no more.
      checkpointRetention: { keepLast: 1, keepBest: true },
      seed,
      labels: { adaptation: request.id },
    });

  // Tune: freeze-thaw BO over the learning rate around the plan's, trials as prefixes of the final run.
  const tuneFraction = request.tuneFraction ?? 1;
  const fidelitySteps = 5;
  const stepsPerFidelity = Math.max(1, Math.round(budget / fidelitySteps));
  const tuning =
    tuneFraction > 0
      ? yield* stage(
          'tune',
          async function* (progress) {
            const lr = plan.learningRate || 1e-3;
            const { study: created } = await client.hpoSurrogate.createStudy(
              {
                requestId: rid('tune'),
                spec: {
                  name: `adapt ${request.id}: learning rate`,
                  objective: 'new-domain validation loss (nats)',
                  direction: hpo.Direction.DIRECTION_MINIMIZE,
                  optimizer: hpo.Optimizer.OPTIMIZER_FREEZE_THAW,
                  searchSpace: {
                    parameters: [
                      {
                        name: 'optimizer.learning_rate',
                        domain: { $case: 'floatRange', value: { min: lr / 4, max: lr * 4, logScale: true } },
                      },
                    ],
                  },
                  stepsPerFidelity,
                  maxFidelity: fidelitySteps,
                  // The baseline's full curve (the final run's prefix when it wins) plus the others' share.
                  totalBudget: fidelitySteps + Math.max(1, Math.round(tuneFraction * fidelitySteps)),
                  seed,
                  runTemplate: Buffer.from(tr.RunSpec.encode(runSpec(lr)).finish()),
                  // The plan's rate is the baseline (its full curve first); the rule thaws the others.
                  candidates: LR_FACTORS.map((f, i) => ({
                    label: `learning rate ${(lr * f).toPrecision(3)}`,
                    configuration: [{ name: 'optimizer.learning_rate', value: { $case: 'floatValue', value: lr * f } }],
                    baseline: i === 0,
                  })),
                },
              },
              { signal },
            );
            let study = created!;
            const lrOf = (t: hpo.Trial) => {
              const v = t.configuration.find((c) => c.name === 'optimizer.learning_rate')?.value;
              return v?.$case === 'floatValue' ? v.value : lr;
            };
            let bestSeen = Infinity;
            const lastSeen = new Map<string, string>();
            if (study.state !== hpo.StudyState.STUDY_STATE_COMPLETED) {
              for await (const e of client.hpoSurrogate.runStudy(
                { studyId: study.studyId, parallelism: 1 },
                { signal },
              )) {
                // The bar says what tuning has found in the report's unit (the server's message is in nats).
                if (e.event?.$case === 'trial') {
                  const t = e.event.value;
                  const last = t.observations.at(-1);
                  if (last) lastSeen.set(t.trialId, `lr ${lrOf(t).toPrecision(3)} at step ${Number(last.step)}`);
                  for (const o of t.observations) bestSeen = Math.min(bestSeen, o.value);
                }
                if (e.event?.$case === 'progress') {
                  const found = Number.isFinite(bestSeen)
                    ? `best ${readableNumber(fromNats(bestSeen))} ${unit}`
                    : 'no result yet';
                  const latest = [...lastSeen.values()].at(-1);
                  yield progress(
                    e.event.value.done,
                    e.event.value.total,
                    `${e.event.value.done}/${e.event.value.total} trial steps; ${found}${latest ? `; ${latest}` : ''}`,
                  );
                }
              }
              study = (await client.hpoSurrogate.getStudy({ studyId: study.studyId }, { signal })).study!;
            }
            // Trials are compared where at least two of them got to (the deepest such step): a longer
            // trial's lower loss is partly just more training.
            const depths = study.trials.map((t) => Number(t.observations.at(-1)?.step ?? 0)).sort((a, b) => b - a);
            const compared = depths[1] || depths[0] || 0;
            const at = (t: hpo.Trial) => t.observations.find((o) => Number(o.step) === compared)?.value ?? Infinity;
            const best = [...study.trials].sort((a, b) => at(a) - at(b))[0]!;
            const { run: bestRun } = await client.trainer.getRun({ runId: best.runId }, { signal });
            return {
              studyId: study.studyId,
              parameter: 'optimizer.learning_rate',
              incumbent: {
                trialId: best.trialId,
                runId: best.runId,
                learningRate: lrOf(best),
                value: at(best),
                steps: Number(bestRun!.spec!.budgetSteps),
              },
              trials: study.trials.map((t) => ({
                trialId: t.trialId,
                runId: t.runId,
                learningRate: lrOf(t),
                curve: t.observations.map((o) => ({ step: Number(o.step), value: fromNats(o.value) })),
              })),
            };
          },
          (t) =>
            `${t.trials.length} trials; best learning rate ${t.incumbent.learningRate.toPrecision(3)} (${readableNumber(fromNats(t.incumbent.value))} ${unit})`,
        )
      : undefined;
  if (tuning) result.tuning = tuning;

  // Train: the best trial resumed to the budget (it is the final run's prefix), or a fresh run.
  const trained = yield* stage(
    'train',
    async function* (progress) {
      let runId: string;
      if (tuning) {
        // The steps to add come from the journal, not from the run: a second attempt sends the very
        // request the first one did (its request id answers it, adding nothing twice).
        runId = tuning.incumbent.runId;
        // A trial already at the run's budget is the final run as it is.
        if (tuning.incumbent.steps < budget)
          await client.trainer.resumeRun(
            { runId, additionalSteps: budget - tuning.incumbent.steps, requestId: rid('train') },
            { signal },
          );
      } else {
        const { run } = await client.trainer.startRun(
          { requestId: rid('train'), spec: runSpec(plan.learningRate || 1e-3) },
          { signal },
        );
        runId = run!.runId;
      }
      const steps = yield* watch(runId, (d, _t, m) => progress(d, budget, m));
      const curve = (pick: (m: tr.StepMetrics) => number | undefined) =>
        steps.flatMap((m) => {
          const v = pick(m);
          return v === undefined ? [] : [{ step: Number(m.step), value: fromNats(v) }];
        });
      return {
        runId,
        trainLoss: curve((m) => m.trainLoss),
        validationLoss: curve((m) => m.validationLoss),
        referenceValidationLoss: curve((m) => m.referenceValidationLoss),
      };
    },
    (r) =>
      `run ${r.runId}: ${r.validationLoss.length ? readableNumber(r.validationLoss.at(-1)!.value) : '?'} ${unit} on the new domain's validation split` +
      (tuning && tuning.incumbent.steps >= budget ? ' (every step trained while tuning)' : ''),
  );
  if (!trained) throw new FloeApiError(grpc.status.UNAVAILABLE, 'the trainer is needed', [], 'adapt');
  result.run = trained;
  const adapted = runModel(trained.runId);

  // Evaluate: both domains' held-out test splits, base against adapted, paired bootstrap errors.
  const evalSamples = request.evalSamples ?? 256;
  const evaluation = yield* stage(
    'evaluate',
    async function* (progress) {
      const t = TASKS[task];
      const suite = (name: string, uri: string, description: string): ev.Suite => ({
        name,
        taskKind: t.kind,
        dataset: ref(uri, S.DATASET_SPLIT_TEST, 0, columns),
        metrics: t.metrics,
        // Text: that many sequences; a table or images: every example of the test split.
        sampleCount: task === 'language-model' ? evalSamples : 0,
        source: 'inline',
        description,
        sequenceLength,
        batchSize: 32,
      });
      const suites = [
        suite('old-domain', request.reference, `the old domain, ${request.reference}`),
        suite('new-domain', request.data, `the new domain, ${request.data}`),
      ];
      let report: ev.ForgettingReport | undefined;
      for await (const e of client.evaluator.compareModels(
        {
          stages: [base, adapted],
          inlineSuites: suites,
          metric: t.metric,
          seed,
          skipRandomInit: true,
          stageLabels: ['base', 'adapted'],
        },
        { signal },
      )) {
        if (e.event?.$case === 'progress')
          yield progress(e.event.value.done, e.event.value.total, e.event.value.message);
        if (e.event?.$case === 'report') report = e.event.value;
      }
      const r = report!;
      const at = (m: commonV1.Matrix | undefined, i: number, j: number) => m!.values[i * m!.cols + j]!;
      return {
        metric: r.metric || t.metric,
        higherIsBetter: r.higherIsBetter,
        suites: suites.map((s) => s.name),
        domains: (['old', 'new'] as const).map((domain, j) => ({
          domain,
          suite: suites[j]!.name,
          base: at(r.rMatrix, 0, j),
          adapted: at(r.rMatrix, 1, j),
          gain: at(r.gains, 1, j),
          gainStderr: at(r.gainsStderr, 1, j),
        })),
      };
    },
    (e) =>
      e.domains
        .map(
          (d) =>
            `${d.domain} ${readableNumber(d.base)} → ${readableNumber(d.adapted)} (gain ${readableNumber(d.gain)} ± ${readableNumber(d.gainStderr)})`,
        )
        .join('; '),
  );
  if (evaluation) result.evaluation = evaluation;

  // Explain: which parts of the input the model leans on, before and after.
  if (request.explain ?? true) {
    const explanation = yield* stage(
      'explain',
      async function* (progress) {
        let comparison: ex.ExplanationComparison | undefined;
        for await (const e of client.explainer.compareExplanations(
          {
            baseModel: base,
            adaptedModel: adapted,
            dataset: ref(request.data, S.DATASET_SPLIT_TEST, 0, columns),
            options: {
              method: ex.Method.METHOD_PERMUTATION,
              instances: 8,
              background: 16,
              seed,
              spans: 8,
              budget: 256,
            },
            includePlots: true,
          },
          { signal },
        )) {
          if (e.event?.$case === 'progress')
            yield progress(e.event.value.done, e.event.value.total, e.event.value.message);
          if (e.event?.$case === 'comparison') comparison = e.event.value;
        }
        const c = comparison!;
        return {
          rankCorrelation: c.rankCorrelation,
          gained: c.gained,
          lost: c.lost,
          shifts: c.shifts.map((s) => ({ feature: s.feature, before: s.importanceBefore, after: s.importanceAfter })),
          plots: c.plots.map((p) => ({ name: p.name, svg: p.svg })),
        };
      },
      (x) => `rank correlation of attributions before/after ${x.rankCorrelation.toFixed(3)}`,
    );
    if (explanation) result.explanation = explanation;
  }
  return result;
}
