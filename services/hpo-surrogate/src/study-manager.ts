// Studies: durable state in SQLite, trials, the budget and the best trial. The handlers validate and
// map; every decision about a study's state and bookkeeping is made here, one call per study at a time.
// Decisions themselves (which trial to thaw, which configuration to start) come from libs/surrogate's
// rules, run in the surrogate's worker thread.
import { randomUUID } from 'node:crypto';
import { commonV1, hpoSurrogateV1 as hpo } from '@floe/contracts';
import { InvalidArgumentError, failedPrecondition, notFound, type FieldViolation } from '@floe/errors';
import { decodePageToken, encodePageToken, pageSize } from '@floe/service-kit';
import type { MetadataStore } from '@floe/store';
import { deriveSeed, rngFor } from '@floe/random';
import {
  checkConfiguration,
  configObservations,
  configurationKey,
  dimensionImportance,
  encodeForSurrogate,
  perturbConfiguration,
  sampleUntried,
  spaceSize,
  thawable,
  type Configuration,
  type CurveQueryPoint,
  type OptimizerName,
  type ParameterSpec,
  type TrialCurve,
} from '@floe/surrogate';
import { toParameterSpecs } from './convert.js';
import type { SurrogateReply, SurrogateRequest } from './surrogate-task.js';
import { MetricAttr, floeMetrics } from '@floe/telemetry';

const STUDY = 'study';
const OPTIMIZER_STATE = 'study-optimizer';
const S = hpo.StudyState;
const R = commonV1.RunState;

/** New configurations scored per decision: random ones, plus local moves around the incumbent. */
export const RANDOM_CANDIDATES = 256;
export const LOCAL_CANDIDATES = 32;

const OPTIMIZERS: Record<hpo.Optimizer, OptimizerName | undefined> = {
  [hpo.Optimizer.OPTIMIZER_UNSPECIFIED]: 'ifbo',
  [hpo.Optimizer.OPTIMIZER_FREEZE_THAW]: 'ifbo',
  [hpo.Optimizer.OPTIMIZER_RANDOM]: 'random',
  [hpo.Optimizer.OPTIMIZER_ASHA]: 'asha',
  [hpo.Optimizer.OPTIMIZER_HYPERBAND]: 'hyperband',
  [hpo.Optimizer.OPTIMIZER_SUCCESSIVE_HALVING]: 'successive_halving',
  [hpo.Optimizer.OPTIMIZER_MEDIAN_STOPPING]: 'median_stopping',
  [hpo.Optimizer.OPTIMIZER_POWER_LAW]: 'power_law',
  [hpo.Optimizer.UNRECOGNIZED]: undefined,
};

export function toParameterValues(params: ParameterSpec[], config: Configuration): hpo.ParameterValue[] {
  return params.map((p) => {
    const v = config[p.name]!;
    if (p.domain?.kind === 'categorical')
      return { name: p.name, value: { $case: 'categoricalValue', value: String(v) } };
    if (p.domain?.kind === 'int') return { name: p.name, value: { $case: 'intValue', value: Number(v) } };
    return { name: p.name, value: { $case: 'floatValue', value: Number(v) } };
  });
}

export function fromParameterValues(values: hpo.ParameterValue[]): Configuration {
  const out: Configuration = {};
  for (const v of values) if (v.value) out[v.name] = v.value.value;
  return out;
}

/** Problems of a configuration given as parameter values: a name given twice, then checkConfiguration's. */
export function configurationProblems(
  params: ParameterSpec[],
  values: hpo.ParameterValue[],
  field: string,
): FieldViolation[] {
  const seen = new Set<string>();
  const twice: FieldViolation[] = [];
  values.forEach((v, i) => {
    if (seen.has(v.name))
      twice.push({ field: `${field}[${i}].name`, description: `names ${JSON.stringify(v.name)} again` });
    seen.add(v.name);
  });
  return [...twice, ...checkConfiguration(params, fromParameterValues(values), field)];
}

/** A stopped study whose RunStudy loop is still winding down (a trial segment in flight ends at its next step). */
export const loopNotEnded = (studyId: string) =>
  failedPrecondition(`study ${studyId} was stopped but its loop has not ended yet; try again`);

/** Surrogate calls (decisions and predictions), answered by the worker thread. */
export type SurrogateCall = (req: SurrogateRequest) => Promise<SurrogateReply>;

export class StudyManager {
  private readonly queues = new Map<string, Promise<unknown>>();

  constructor(
    private readonly store: MetadataStore,
    private readonly surrogate: SurrogateCall,
  ) {}

  /** Runs `fn` after every earlier call on the same study has finished (read-modify-write is safe). */
  private serial<T>(id: string, fn: () => Promise<T> | T): Promise<T> {
    const prev = this.queues.get(id) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    const tail = next.catch(() => undefined);
    this.queues.set(id, tail);
    void tail.then(() => {
      if (this.queues.get(id) === tail) this.queues.delete(id);
    });
    return next;
  }

  get(id: string): hpo.Study {
    const rec = this.store.get<unknown>(STUDY, id);
    if (!rec) throw notFound('study', id);
    return hpo.Study.fromJSON(rec.body);
  }

  /** Which hyperparameters matter, from the study's trials so far; no parameters below 8 trials. */
  importances(study: hpo.Study): hpo.ParameterImportances {
    const observations = configObservations(this.curves(study));
    const found = dimensionImportance(observations);
    if (!found) return { trials: observations.length, fit: 0, parameters: [] };
    return {
      trials: found.observations,
      fit: found.fit,
      parameters: study.spec!.searchSpace!.parameters.map((p, j) => ({
        name: p.name,
        importance: found.share[j]!,
        correlationAlone: found.alone[j]!,
        selectionRank: found.order.indexOf(j) + 1,
      })),
    };
  }

  private save(study: hpo.Study): hpo.Study {
    this.store.update(STUDY, study.studyId, hpo.studyStateToJSON(study.state), hpo.Study.toJSON(study));
    return study;
  }

  private static requireState(study: hpo.Study, ...states: hpo.StudyState[]): void {
    if (!states.includes(study.state))
      throw failedPrecondition(
        `study ${study.studyId} is ${hpo.studyStateToJSON(study.state)}, not ${states.map(hpo.studyStateToJSON).join(' or ')}`,
      );
  }

  /** A new ACTIVE study; one per request id (a retry answers the study as it is now). */
  create(spec: hpo.StudySpec, requestId: string): { study: hpo.Study; replayed: boolean } {
    if (requestId) {
      const existing = this.store.findByRequestId<unknown>(STUDY, requestId);
      if (existing) return { study: hpo.Study.fromJSON(existing.body), replayed: true };
    }
    const study: hpo.Study = {
      studyId: `study-${randomUUID()}`,
      spec,
      state: S.STUDY_STATE_ACTIVE,
      trials: [],
      bestTrialId: '',
      bestValue: 0,
      error: '',
      budgetUsed: 0,
      createTime: new Date(),
    };
    this.store.create(
      STUDY,
      study.studyId,
      hpo.studyStateToJSON(study.state),
      hpo.Study.toJSON(study),
      requestId || undefined,
    );
    return { study, replayed: false };
  }

  list(states: hpo.StudyState[], size?: number, token?: string): { studies: hpo.Study[]; nextPageToken: string } {
    const names = states.map(hpo.studyStateToJSON);
    const result = this.store.list<unknown>(STUDY, {
      states: names,
      before: decodePageToken(STUDY, token, names),
      limit: pageSize(size),
    });
    return {
      studies: result.items.map((r) => hpo.Study.fromJSON(r.body)),
      nextPageToken: encodePageToken(STUDY, result.next, names),
    };
  }

  /** "Lower is better" sign of the study's objective. */
  private static sign(study: hpo.Study): number {
    return study.spec!.direction === hpo.Direction.DIRECTION_MAXIMIZE ? -1 : 1;
  }

  /**
   * The objective's bound on the "lower is better" scale the surrogate reads (its CurveScale's lo): the
   * spec's best_possible_value, or 1 for a maximised objective that has been positive but never above 1
   * (accuracy, AUC, R²). Undefined: CurveScale's own rule — 0 where the scale's values are non-negative (a
   * loss, or a maximised score that never rose above 0, such as −loss), else a guess below the best seen.
   */
  private static scaleFloor(study: hpo.Study): number | undefined {
    const sign = StudyManager.sign(study);
    const bound = study.spec!.bestPossibleValue;
    if (bound !== undefined) return sign * bound;
    if (sign > 0) return undefined;
    const values = study.trials.flatMap((t) => t.observations.map((o) => o.value));
    return values.some((v) => v > 0) && values.every((v) => v <= 1) ? -1 : undefined;
  }

  /** Values better than the spec's best_possible_value, named under `field` (their index appended). */
  private static beyondBound(study: hpo.Study, observations: hpo.Observation[], field: string): FieldViolation[] {
    const bound = study.spec!.bestPossibleValue;
    if (bound === undefined) return [];
    const sign = StudyManager.sign(study);
    return observations.flatMap((o, i) =>
      sign * o.value < sign * bound
        ? [
            {
              field: `${field}[${i}].value`,
              description: `${o.value} is better than spec.best_possible_value ${bound}`,
            },
          ]
        : [],
    );
  }

  /**
   * The trials as the decision rules see them: encoded configurations, the value at each whole fidelity
   * step reached (the last observation at or before k · steps_per_fidelity), lower is better, and
   * pending while observations end below the trial's target.
   */
  private curves(study: hpo.Study): TrialCurve[] {
    const spec = study.spec!;
    const params = toParameterSpecs(spec.searchSpace);
    const sign = StudyManager.sign(study);
    return study.trials.map((t) => {
      const curve = this.curveOf(t.configuration, t.observations, t.targetStep, spec, params, sign);
      return t.state === R.RUN_STATE_FAILED ? { ...curve, pending: false, failed: true } : curve;
    });
  }

  private curveOf(
    configuration: hpo.ParameterValue[],
    observations: hpo.Observation[],
    targetStep: number,
    spec: hpo.StudySpec,
    params: ParameterSpec[],
    sign: number,
  ): TrialCurve {
    const spf = spec.stepsPerFidelity;
    const last = observations.at(-1)?.step ?? 0;
    const reached = Math.min(spec.maxFidelity, Math.floor(last / spf));
    const values: number[] = [];
    let j = 0;
    let current = observations[0]?.value;
    for (let k = 1; k <= reached; k++) {
      while (j < observations.length && observations[j]!.step <= k * spf) current = observations[j++]!.value;
      values.push(sign * current!);
    }
    return {
      config: encodeForSurrogate(params, fromParameterValues(configuration)),
      values,
      pending: targetStep > last,
    };
  }

  /** Nothing left to suggest: every candidate (or configuration of a finite space) taken, no trial to thaw. */
  exhausted(id: string): boolean {
    const study = this.get(id);
    return this.isExhausted(study, StudyManager.triedKeys(study));
  }

  /**
   * Nothing left to train: every candidate (or every configuration of a finite space) tried, none thawable.
   * `tried`: the study's triedKeys.
   */
  private isExhausted(study: hpo.Study, tried: ReadonlySet<string>): boolean {
    const spec = study.spec!;
    const allTried =
      spec.candidates.length > 0
        ? StudyManager.untriedCandidates(study).length === 0
        : tried.size >= spaceSize(toParameterSpecs(spec.searchSpace));
    return allTried && !thawable({ trials: this.curves(study), maxFidelity: spec.maxFidelity }).length;
  }

  /** The configurations the study's trials have taken (configurationKey): a new trial takes another. */
  private static triedKeys(study: hpo.Study): Set<string> {
    const params = toParameterSpecs(study.spec!.searchSpace);
    return new Set(study.trials.map((t) => configurationKey(params, fromParameterValues(t.configuration))));
  }

  /** Indices of a finite search's candidates that no trial has taken yet. */
  private static untriedCandidates(study: hpo.Study): number[] {
    const taken = new Set(study.trials.map((t) => t.candidate));
    return study.spec!.candidates.map((_, i) => i).filter((i) => !taken.has(i));
  }

  /** The next trial to train and to which step. Random search trains a new configuration fully at once. */
  suggest(id: string): Promise<Omit<hpo.SuggestResponse, 'replayed'>> {
    return this.serial(id, async () => {
      const study = this.get(id);
      StudyManager.requireState(study, S.STUDY_STATE_ACTIVE, S.STUDY_STATE_RUNNING);
      const spec = study.spec!;
      if (study.budgetUsed >= spec.totalBudget)
        throw failedPrecondition(`study ${study.studyId} has spent its budget (${spec.totalBudget} fidelity steps)`);
      const params = toParameterSpecs(spec.searchSpace);
      const name = OPTIMIZERS[spec.optimizer] ?? 'ifbo';
      const spf = spec.stepsPerFidelity;
      // A finite search offers its untried candidates only; otherwise the space is sampled.
      const finite = spec.candidates.length > 0;
      const untried = finite ? StudyManager.untriedCandidates(study) : [];
      const newTrial = (config: Configuration, targetStep: number, candidate?: number): hpo.Trial => ({
        trialId: `trial-${study.trials.length + 1}`,
        configuration: toParameterValues(params, config),
        observations: [],
        runId: '',
        state: R.RUN_STATE_QUEUED,
        targetStep,
        bestValue: 0,
        candidate,
        error: '',
      });
      const candidateConfig = (i: number) => fromParameterValues(spec.candidates[i]!.configuration);
      // Configurations already taken are not started again (a second trial of one would repeat its run).
      const tried = StudyManager.triedKeys(study);
      if (this.isExhausted(study, tried)) {
        const what = finite ? 'candidate' : 'configuration of its search space';
        // Every configuration taken, but some still training: their reports may make them thawable again.
        const pending = this.curves(study).flatMap((t, i) => (t.pending ? [study.trials[i]!.trialId] : []));
        throw failedPrecondition(
          pending.length
            ? `study ${study.studyId} has taken every ${what}; ${pending.join(', ')} ${pending.length > 1 ? 'are' : 'is'} still pending: report ${pending.length > 1 ? 'their' : 'its'} observations, then suggest again`
            : `study ${study.studyId} has trained every ${what} to its full curve`,
        );
      }
      // A large finite space nearly tried out, where sampling found nothing untried and nothing can be thawed.
      const noneUntried = () => failedPrecondition(`study ${study.studyId} found no configuration it has not tried`);
      // The first trial of a finite search is its first candidate: the caller's best guess (a plan
      // search's rules plan) always has a curve to beat — its full curve at once when it is the baseline.
      /** A new trial decided without the surrogate, `fidelity` steps long, stored with the budget it spends. */
      const started = (trial: hpo.Trial, fidelity: number) => {
        study.trials.push(trial);
        study.budgetUsed = Math.min(spec.totalBudget, study.budgetUsed + fidelity);
        this.save(study);
        return {
          trial,
          isNew: true,
          targetStep: trial.targetStep,
          acquisition: 0,
          contextSize: 0,
          candidatesScored: 0,
        };
      };
      if (finite && study.trials.length === 0) {
        const fidelity = name === 'random' || spec.candidates[0]!.baseline ? spec.maxFidelity : 1;
        return started(newTrial(candidateConfig(0), fidelity * spf, 0), fidelity);
      }
      // While initial configurations last, the next one is the only new configuration the rule may start.
      const queued = spec.initialConfigurations[study.trials.length];
      const queuedConfig = queued && fromParameterValues(queued.values);
      if (name === 'random') {
        const rng = rngFor(spec.seed, `trial-${study.trials.length}`);
        const pick = finite ? untried[rng.int(untried.length)]! : -1;
        const config = finite ? candidateConfig(pick) : (queuedConfig ?? sampleUntried(params, rng, tried, 1)[0]);
        if (!config) throw noneUntried();
        const trial = newTrial(config, spec.maxFidelity * spf, finite ? pick : undefined);
        return started(trial, spec.maxFidelity);
      }
      const decisionIndex = study.budgetUsed;
      const rng = rngFor(spec.seed, `candidates-${decisionIndex}`);
      const candidates: Configuration[] = [];
      if (finite) for (const i of untried) candidates.push(candidateConfig(i));
      else if (queuedConfig) candidates.push(queuedConfig);
      else candidates.push(...sampleUntried(params, rng, tried, RANDOM_CANDIDATES));
      const randomCandidates = candidates.length;
      const best = study.trials.find((t) => t.trialId === study.bestTrialId);
      if (best && !finite && !queuedConfig) {
        const incumbent = fromParameterValues(best.configuration);
        for (let i = 0; i < LOCAL_CANDIDATES; i++) {
          const near = perturbConfiguration(params, incumbent, rng);
          const key = configurationKey(params, near);
          if (tried.has(key)) continue;
          tried.add(key);
          candidates.push(near);
        }
      }
      const trials = this.curves(study);
      const stateRec = this.store.get<{ state: unknown }>(OPTIMIZER_STATE, study.studyId);
      const decisionStart = performance.now();
      const reply = await this.surrogate({
        kind: 'decide',
        optimizer: name,
        state: stateRec?.body.state,
        trials,
        maxFidelity: spec.maxFidelity,
        budgetLeft: spec.totalBudget - study.budgetUsed,
        newCandidates: candidates.map((c) => encodeForSurrogate(params, c)),
        randomCandidates,
        seed: deriveSeed(spec.seed, `decision-${decisionIndex}`),
        scaleFloor: StudyManager.scaleFloor(study),
      });
      if (reply.kind !== 'decide') throw new Error('the surrogate answered a decision with a prediction');
      let d = reply.decision;
      if (d.kind === 'new' && !candidates[d.candidate]) {
        // Every candidate is tried and the rule asked for a new one: thaw the best trial that can go on.
        const open = thawable({ trials, maxFidelity: spec.maxFidelity });
        if (open.length === 0) throw noneUntried();
        const sign = StudyManager.sign(study);
        const bestOf = (i: number) => Math.min(...study.trials[i]!.observations.map((o) => sign * o.value));
        d = { kind: 'thaw', trial: open.reduce((a, b) => (bestOf(b) < bestOf(a) ? b : a)), acquisition: 0 };
      }
      floeMetrics.hpoDecision((performance.now() - decisionStart) / 1000, {
        [MetricAttr.optimizer]: name,
        [MetricAttr.decision]: d.kind,
      });
      let trial: hpo.Trial;
      if (d.kind === 'new') {
        trial = newTrial(candidates[d.candidate]!, spf, finite ? untried[d.candidate] : undefined);
        study.trials.push(trial);
      } else {
        trial = study.trials[d.trial]!;
        trial.targetStep = (trials[d.trial]!.values.length + 1) * spf;
        trial.state = R.RUN_STATE_QUEUED;
      }
      study.budgetUsed += 1;
      if (reply.state !== undefined) {
        if (stateRec) this.store.update(OPTIMIZER_STATE, study.studyId, 'saved', { state: reply.state });
        else this.store.create(OPTIMIZER_STATE, study.studyId, 'saved', { state: reply.state });
      }
      this.save(study);
      const sign = StudyManager.sign(study);
      const p = d.predicted;
      const prediction: hpo.CurvePrediction | undefined = p
        ? {
            step: trial.targetStep,
            mean: sign * p.mean,
            q05: sign > 0 ? p.q05 : -p.q95,
            q95: sign > 0 ? p.q95 : -p.q05,
            probabilityOfImprovement: p.probabilityOfImprovement ?? 0,
          }
        : undefined;
      const paused = trials.filter(
        (t) => !t.pending && t.values.length > 0 && t.values.length < spec.maxFidelity,
      ).length;
      const scored = name === 'ifbo' || name === 'power_law' ? paused + candidates.length : 0;
      return {
        trial,
        isNew: d.kind === 'new',
        targetStep: trial.targetStep,
        acquisition: d.acquisition,
        prediction,
        contextSize: reply.contextSize,
        candidatesScored: scored,
      };
    });
  }

  /**
   * Appends a trial's observations (steps past its last, within the trial's full length) and updates the bests;
   * with `failure`, its run failed after them: the trial ends FAILED with that error.
   */
  report(id: string, trialId: string, observations: hpo.Observation[], failure = ''): Promise<hpo.Trial> {
    return this.serial(id, () => {
      const study = this.get(id);
      StudyManager.requireState(study, S.STUDY_STATE_ACTIVE, S.STUDY_STATE_RUNNING);
      const trial = study.trials.find((t) => t.trialId === trialId);
      if (!trial) throw notFound(`trial of study ${study.studyId}`, trialId);
      if (trial.state === R.RUN_STATE_FAILED)
        throw failedPrecondition(
          `trial ${trialId} of study ${study.studyId} has failed (${trial.error}): nothing more is recorded`,
        );
      const spec = study.spec!;
      const maxStep = spec.stepsPerFidelity * spec.maxFidelity;
      let last = trial.observations.at(-1)?.step ?? 0;
      const violations: FieldViolation[] = [];
      for (const [i, o] of observations.entries()) {
        if (o.step <= last)
          violations.push({
            field: `observations[${i}].step`,
            description: `must be greater than ${last} (steps increase)`,
          });
        else if (o.step > maxStep)
          violations.push({
            field: `observations[${i}].step`,
            description: `must be <= ${maxStep} (steps_per_fidelity · max_fidelity)`,
          });
        last = o.step;
      }
      violations.push(...StudyManager.beyondBound(study, observations, 'observations'));
      if (violations.length) throw new InvalidArgumentError(violations);
      const sign = StudyManager.sign(study);
      for (const o of observations) {
        if (trial.observations.length === 0 || sign * o.value < sign * trial.bestValue) trial.bestValue = o.value;
        trial.observations.push(o);
        if (!study.bestTrialId || sign * o.value < sign * study.bestValue) {
          study.bestTrialId = trial.trialId;
          study.bestValue = o.value;
        }
      }
      if (failure) {
        trial.state = R.RUN_STATE_FAILED;
        trial.error = failure;
      } else if (trial.state === R.RUN_STATE_QUEUED && !trial.runId && last >= trial.targetStep)
        // Reported by a caller that trains it: paused at its target. A RunStudy trial is paused when its run is
        // (with its checkpoint written), which the study runner records.
        trial.state = R.RUN_STATE_PAUSED;
      this.save(study);
      return trial;
    });
  }

  /** Predictions of the queries' values at their steps, from the study's observations as context. */
  predict(id: string, queries: hpo.CurveQuery[]): Promise<hpo.PredictCurvesResponse> {
    const study = this.get(id);
    const spec = study.spec!;
    const params = toParameterSpecs(spec.searchSpace);
    const sign = StudyManager.sign(study);
    const trials = this.curves(study).map((t) => ({ ...t, pending: false }));
    const points: CurveQueryPoint[] = [];
    const violations: FieldViolation[] = [];
    queries.forEach((q, i) => {
      let trialIndex: number;
      if (q.trialId) {
        trialIndex = study.trials.findIndex((t) => t.trialId === q.trialId);
        if (trialIndex < 0) throw notFound(`trial of study ${study.studyId}`, q.trialId);
      } else {
        violations.push(...configurationProblems(params, q.configuration, `queries[${i}].configuration`));
        q.observed.forEach((o, j) => {
          if (j > 0 && o.step <= q.observed[j - 1]!.step)
            violations.push({ field: `queries[${i}].observed[${j}].step`, description: 'must increase' });
        });
        violations.push(...StudyManager.beyondBound(study, q.observed, `queries[${i}].observed`));
        trials.push({ ...this.curveOf(q.configuration, q.observed, 0, spec, params, sign), pending: false });
        trialIndex = trials.length - 1;
      }
      for (const step of q.steps)
        points.push({ trial: trialIndex, config: trials[trialIndex]!.config, step: step / spec.stepsPerFidelity });
    });
    if (violations.length) throw new InvalidArgumentError(violations);
    const threshold = study.bestTrialId ? sign * study.bestValue : undefined;
    return this.surrogate({
      kind: 'predict',
      trials,
      maxFidelity: spec.maxFidelity,
      queries: points,
      seed: deriveSeed(spec.seed, 'predict'),
      threshold,
      scaleFloor: StudyManager.scaleFloor(study),
    }).then((reply) => {
      if (reply.kind !== 'predict') throw new Error('the surrogate answered a prediction with a decision');
      let k = 0;
      const predictions = queries.map((q) => ({
        points: q.steps.map((step) => {
          const p = reply.predictions[k++]!;
          return {
            step,
            mean: sign * p.mean,
            q05: sign > 0 ? p.q05 : -p.q95,
            q95: sign > 0 ? p.q95 : -p.q05,
            probabilityOfImprovement: threshold === undefined ? 0 : p.probabilityOfImprovement,
          };
        }),
      }));
      return { predictions, contextSize: reply.contextSize };
    });
  }

  stop(id: string): Promise<hpo.Study> {
    return this.serial(id, () => {
      const study = this.get(id);
      if (study.state === S.STUDY_STATE_STOPPED) return study;
      StudyManager.requireState(study, S.STUDY_STATE_ACTIVE, S.STUDY_STATE_RUNNING);
      study.state = S.STUDY_STATE_STOPPED;
      return this.save(study);
    });
  }

  /**
   * ResumeStudy: `additional` more fidelity steps; a STOPPED or COMPLETED study becomes ACTIVE again (its loop, if
   * it had one, must have ended: `loopRunning`). Its trials stay as they are — paused ones thawable, segments a
   * stop cut short still pending, so RunStudy finishes them first.
   */
  resume(id: string, additional: number, loopRunning: boolean): Promise<hpo.Study> {
    return this.serial(id, () => {
      const study = this.get(id);
      StudyManager.requireState(
        study,
        S.STUDY_STATE_ACTIVE,
        S.STUDY_STATE_RUNNING,
        S.STUDY_STATE_STOPPED,
        S.STUDY_STATE_COMPLETED,
      );
      const ended = study.state === S.STUDY_STATE_STOPPED || study.state === S.STUDY_STATE_COMPLETED;
      if (ended && loopRunning) throw loopNotEnded(id);
      const spec = study.spec!;
      const total = spec.totalBudget + additional;
      if (study.budgetUsed >= total)
        throw new InvalidArgumentError([
          {
            field: 'additional_budget',
            description: `the study has spent ${study.budgetUsed} of its ${spec.totalBudget} fidelity steps; resuming it needs at least ${study.budgetUsed - spec.totalBudget + 1} more`,
          },
        ]);
      spec.totalBudget = total;
      if (ended) study.state = S.STUDY_STATE_ACTIVE;
      return this.save(study);
    });
  }

  /**
   * DeleteStudy's check, before anything goes: the study exists and is not RUNNING (its loop would write again).
   */
  deletable(id: string): hpo.Study {
    const study = this.get(id);
    if (study.state === S.STUDY_STATE_RUNNING)
      throw failedPrecondition(`study ${id} is RUNNING: stop it (StopStudy) before deleting it`);
    return study;
  }

  /** DeleteStudy: the study's records go (trials, observations, decision state); `also` names more kinds. */
  delete(id: string, also: string[] = []): Promise<hpo.Study> {
    return this.serial(id, () => {
      const study = this.deletable(id);
      this.store.transaction(() => {
        for (const kind of [STUDY, OPTIMIZER_STATE, ...also]) this.store.delete(kind, id);
      });
      return study;
    });
  }

  /** RunStudy's bookkeeping: the study's state, and a trial's run and its state. */
  update(id: string, change: (study: hpo.Study) => void): Promise<hpo.Study> {
    return this.serial(id, () => {
      const study = this.get(id);
      change(study);
      return this.save(study);
    });
  }

  /** Studies in a state (RunStudy resumes RUNNING ones at start). */
  idsInState(state: hpo.StudyState): string[] {
    const out: string[] = [];
    let token: string | undefined;
    do {
      const page = this.list([state], 1000, token);
      out.push(...page.studies.map((s) => s.studyId));
      token = page.nextPageToken || undefined;
    } while (token);
    return out;
  }
}
