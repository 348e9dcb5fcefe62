// RunStudy: the server-side freeze-thaw loop. It asks the study's rule what to train next, starts a
// trainer run for a new trial or resumes (thaws) a paused one for exactly one fidelity step, reads the
// validation loss the run recorded at the step's end, reports it, and decides again — `parallelism`
// trials at a time, pending ones fantasised. Every call to the trainer carries a request id derived from
// the study, the trial and its target step, and every decision is stored before it is acted on, so a
// restart of either service resumes the loop without losing an observation or training a step twice.
import * as grpc from '@grpc/grpc-js';
import { commonV1, hpoSurrogateV1 as hpo, trainerV1 } from '@floe/contracts';
import { InvalidArgumentError, type FieldViolation } from '@floe/errors';
import type { ParameterSpec } from '@floe/surrogate';
import { call, fromPeerError, Topic, type Logger, type Peers } from '@floe/service-kit';
import { Attr, SpanName, instrument } from '@floe/telemetry';
import { context, type Context } from '@opentelemetry/api';
import type { MetadataStore } from '@floe/store';
import { fromParameterValues, loopNotEnded, toParameterValues, type StudyManager } from './study-manager.js';

const S = hpo.StudyState;
const R = commonV1.RunState;
const RUN_SETTINGS = 'study-run';
/** Wait before asking a trainer that did not answer (it may be restarting). */
const RETRY_MS = 500;
/** Objective units per unit of forgetting past the budget: an excess costs more than any gain buys. */
export const DEFAULT_FORGETTING_PENALTY = 10;

/**
 * Trials failing one after another this many times fail the study: a configuration that diverges is
 * information, but ten in a row say the template or the trainer is broken, and the budget would go on
 * runs that all fail.
 */
export const MAX_FAILED_IN_A_ROW = 10;

/** How many of the latest trials that ended a segment failed, newest first until one did not. */
function failedInARow(study: hpo.Study): number {
  let n = 0;
  for (let i = study.trials.length - 1; i >= 0; i--) {
    const t = study.trials[i]!;
    if (t.state === R.RUN_STATE_FAILED) n++;
    else if (t.observations.length > 0) break;
  }
  return n;
}

export type StudyEvent = { trial: hpo.Trial } | { study: hpo.Study } | { progress: commonV1.Progress };

const camel = (s: string) => s.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());

/** The value at a parameter's RunSpec field path ("optimizer.learning_rate") in a RunSpec's JSON form. */
function fieldAt(json: unknown, name: string): unknown {
  let node = json;
  for (const key of name.split('.').map(camel)) node = (node as Record<string, unknown> | undefined)?.[key];
  return node;
}

/**
 * The template RunSpec with a configuration applied: a parameter named by a RunSpec field path
 * ("optimizer.learning_rate", "batch_size") sets that field. INVALID_ARGUMENT names a path that is not a
 * scalar field of RunSpec.
 */
export function applyConfiguration(
  template: Uint8Array,
  configuration: hpo.ParameterValue[],
  field = 'spec.run_template',
): trainerV1.RunSpec {
  let spec: trainerV1.RunSpec;
  try {
    spec = trainerV1.RunSpec.decode(template);
  } catch (err) {
    throw new InvalidArgumentError([
      { field, description: `is not a serialized floe.trainer.v1.RunSpec (${(err as Error).message})` },
    ]);
  }
  const json = trainerV1.RunSpec.toJSON(spec) as Record<string, unknown>;
  for (const [name, value] of Object.entries(fromParameterValues(configuration))) {
    const path = name.split('.').map(camel);
    let node = json;
    for (const key of path.slice(0, -1)) node = (node[key] ??= {}) as Record<string, unknown>;
    node[path.at(-1)!] = value;
  }
  const applied = trainerV1.RunSpec.fromJSON(json);
  const back = trainerV1.RunSpec.toJSON(applied) as Record<string, unknown>;
  for (const [name, value] of Object.entries(fromParameterValues(configuration))) {
    if (fieldAt(back, name) === undefined && value !== 0 && value !== '')
      throw new InvalidArgumentError([
        { field, description: `has no field ${JSON.stringify(name)} for the search space's parameter of that name` },
      ]);
  }
  return applied;
}

/**
 * Problems of a search space against the template it fills: every value a parameter can take — each choice
 * of a categorical, the ends of a range — must reach the trainer as itself. The RunSpec keeps what its field
 * can hold: a choice that is no name of an enum field reads back as UNRECOGNIZED, a fraction in an integer
 * field is cut, text in a number field is NaN; each would fail or silently change the trial's run.
 */
export function templateProblems(template: Uint8Array, params: ParameterSpec[]): FieldViolation[] {
  const problems: FieldViolation[] = [];
  params.forEach((p, i) => {
    const d = p.domain!;
    const field = `spec.search_space.parameters[${i}]`;
    const trials: [string, string | number][] =
      d.kind === 'categorical'
        ? d.choices.map((c) => [`${field}.categorical.choices`, c])
        : [
            [`${field}.${d.kind}_range.min`, d.min],
            [`${field}.${d.kind}_range.max`, d.max],
            // A float range also takes fractions between integer ends.
            ...(d.kind === 'float'
              ? [[`${field}.float_range`, d.min + (d.max - d.min) * Math.SQRT1_2] as [string, number]]
              : []),
          ];
    for (const [at, value] of trials) {
      // Each parameter alone on the template, so that a misfit is named where it is.
      const applied = applyConfiguration(template, toParameterValues([p], { [p.name]: value }));
      // What the trainer decodes, read back at the parameter's path (encoding refuses a fraction in an
      // integer field).
      let decoded: unknown;
      try {
        decoded = trainerV1.RunSpec.toJSON(trainerV1.RunSpec.decode(trainerV1.RunSpec.encode(applied).finish()));
      } catch (err) {
        problems.push({
          field: at,
          description: `${JSON.stringify(value)} does not fit RunSpec field ${p.name}: ${(err as Error).message}`,
        });
        continue;
      }
      const back = fieldAt(decoded, p.name);
      const same =
        back === undefined
          ? Number(value) === 0 || value === '' || /_UNSPECIFIED$/.test(String(value))
          : back === value || (typeof back === 'number' && back === Number(value)) || String(back) === String(value);
      if (!same)
        problems.push({
          field: at,
          description: `${JSON.stringify(value)} does not fit RunSpec field ${p.name}: it reads back as ${JSON.stringify(back ?? null)}`,
        });
    }
  });
  return problems;
}

/**
 * A trial whose run was last seen stopped (at its target, or failed): nothing more to do for it once observed to
 * its target. One last seen running may have died after its last observation and before that step's checkpoint,
 * which a thaw or an export needs.
 */
const settled = (t: hpo.Trial) => !t.runId || (t.state !== R.RUN_STATE_RUNNING && t.state !== R.RUN_STATE_QUEUED);

export class StudyRunner {
  readonly events = new Topic<StudyEvent>();
  private readonly loops = new Map<string, Promise<void>>();
  private stopping = false;

  constructor(
    private readonly studies: StudyManager,
    private readonly store: MetadataStore,
    private readonly peers: Peers,
    private readonly log: Logger,
  ) {}

  private trainer(): trainerV1.TrainerServiceClient {
    return this.peers.client('trainer', trainerV1.TrainerServiceClient);
  }

  /** Whether a loop is running for the study in this process. */
  running(studyId: string): boolean {
    return this.loops.has(studyId);
  }

  /** Starts the loop of an ACTIVE study (it becomes RUNNING), or does nothing if it runs already. */
  async start(studyId: string, parallelism: number, ctx: Context = context.active()): Promise<void> {
    if (this.loops.has(studyId)) return;
    const study = this.studies.get(studyId);
    if (study.state === S.STUDY_STATE_ACTIVE) {
      if (this.store.get(RUN_SETTINGS, studyId)) this.store.update(RUN_SETTINGS, studyId, 'saved', { parallelism });
      else this.store.create(RUN_SETTINGS, studyId, 'saved', { parallelism });
      await this.studies.update(studyId, (s) => (s.state = S.STUDY_STATE_RUNNING));
    }
    this.launch(studyId, ctx);
  }

  /** At start-up: the loops of studies that were RUNNING when the process stopped. */
  resumeAll(): void {
    for (const id of this.studies.idsInState(S.STUDY_STATE_RUNNING)) this.launch(id, context.active());
  }

  private launch(studyId: string, ctx: Context): void {
    const loop = context
      .with(ctx, () => this.loop(studyId))
      .catch((err: Error) => {
        if (this.stopping) return;
        this.log.error('study loop failed', { study: studyId, error: err.message });
        return this.studies
          .update(studyId, (s) => {
            if (s.state !== S.STUDY_STATE_RUNNING) return;
            s.state = S.STUDY_STATE_FAILED;
            s.error = err.message;
          })
          .then((s) => this.events.publish(studyId, { study: s }));
      })
      .finally(() => this.loops.delete(studyId));
    this.loops.set(
      studyId,
      loop.then(() => undefined),
    );
  }

  /**
   * DeleteStudy: waits for a stopped study's loop to wind down (a trial segment in flight ends at its next
   * step), deletes its trials' runs when asked (a run still training is cancelled first; one already gone is
   * skipped), then the study's records. Returns the study as it was and the runs deleted.
   */
  async delete(studyId: string, deleteRuns: boolean): Promise<{ study: hpo.Study; deletedRuns: number }> {
    this.studies.deletable(studyId);
    for (const deadline = Date.now() + 30_000; this.loops.has(studyId) && Date.now() < deadline;)
      await new Promise((resolve) => setTimeout(resolve, 50));
    if (this.loops.has(studyId)) throw loopNotEnded(studyId);
    let deletedRuns = 0;
    if (deleteRuns) {
      const trainer = this.trainer();
      for (const t of this.studies.get(studyId).trials) {
        if (!t.runId) continue;
        const requestId = `${studyId}:${t.trialId}:delete`;
        try {
          try {
            await call(trainer.deleteRun.bind(trainer), { runId: t.runId, requestId });
          } catch (err) {
            if ((err as grpc.ServiceError).code !== grpc.status.FAILED_PRECONDITION) throw err;
            await call(trainer.cancelRun.bind(trainer), { runId: t.runId, requestId: `${requestId}:cancel` });
            await call(trainer.deleteRun.bind(trainer), { runId: t.runId, requestId: `${requestId}:after-cancel` });
          }
          deletedRuns++;
        } catch (err) {
          if ((err as grpc.ServiceError).code !== grpc.status.NOT_FOUND) throw fromPeerError(err, 'delete_runs');
        }
      }
    }
    return { study: await this.studies.delete(studyId, [RUN_SETTINGS]), deletedRuns };
  }

  /** Lets loops stop at their next await without marking studies FAILED; they resume at the next start. */
  async shutdown(): Promise<void> {
    this.stopping = true;
  }

  private async loop(studyId: string): Promise<void> {
    const parallelism = Math.max(
      1,
      this.store.get<{ parallelism: number }>(RUN_SETTINGS, studyId)?.body.parallelism ?? 1,
    );
    const inflight = new Map<string, Promise<void>>();
    for (;;) {
      if (this.stopping) return;
      let study = this.studies.get(studyId);
      if (study.state !== S.STUDY_STATE_RUNNING) break;
      const failures = failedInARow(study);
      if (failures >= MAX_FAILED_IN_A_ROW)
        throw new Error(
          `${failures} trials in a row failed (the last: ${study.trials.findLast((t) => t.error)!.error}): the run template or the trainer is broken, not just a configuration`,
        );
      // Trials decided before a restart, still short of their target or not yet seen paused there, are driven first.
      for (const t of study.trials) {
        const last = t.observations.at(-1)?.step ?? 0;
        if (
          (t.targetStep > last || !settled(t)) &&
          t.state !== R.RUN_STATE_FAILED &&
          !inflight.has(t.trialId) &&
          inflight.size < Math.max(parallelism, 1)
        )
          this.track(inflight, studyId, t.trialId);
      }
      while (
        inflight.size < parallelism &&
        study.budgetUsed < study.spec!.totalBudget &&
        !this.studies.exhausted(studyId)
      ) {
        const decision = await instrument(
          { name: SpanName.studyDecision, attributes: { [Attr.studyId]: studyId } },
          () => this.studies.suggest(studyId),
        );
        this.events.publish(studyId, { trial: decision.trial! });
        this.publishProgress(this.studies.get(studyId));
        this.track(inflight, studyId, decision.trial!.trialId);
        study = this.studies.get(studyId);
      }
      if (inflight.size === 0) {
        const done = await this.studies.update(studyId, (s) => {
          if (s.state === S.STUDY_STATE_RUNNING) s.state = S.STUDY_STATE_COMPLETED;
        });
        this.events.publish(studyId, { study: done });
        return;
      }
      await Promise.race(inflight.values());
    }
    // Stopped: pause the runs still training (their checkpoints keep them resumable).
    for (const t of this.studies.get(studyId).trials) {
      if (!t.runId) continue;
      await call(this.trainer().pauseRun.bind(this.trainer()), {
        runId: t.runId,
        requestId: `${studyId}:${t.trialId}:stop`,
      }).catch(() => undefined);
    }
    await Promise.allSettled(inflight.values());
    this.events.publish(studyId, { study: this.studies.get(studyId) });
  }

  private publishProgress(study: hpo.Study): void {
    this.events.publish(study.studyId, {
      progress: {
        phase: 'study',
        done: study.budgetUsed,
        total: study.spec!.totalBudget,
        // bestValue is 0 until a trial has an observation: say so rather than print it.
        message: study.bestTrialId
          ? `best ${Number(study.bestValue.toPrecision(6))} (${study.bestTrialId})`
          : 'no observation yet',
      } as commonV1.Progress,
    });
  }

  private track(inflight: Map<string, Promise<void>>, studyId: string, trialId: string): void {
    const p = instrument(
      { name: SpanName.studySegment, attributes: { [Attr.studyId]: studyId, [Attr.trialId]: trialId } },
      () => this.drive(studyId, trialId),
    ).finally(() => inflight.delete(trialId));
    inflight.set(trialId, p);
  }

  /** Trains one trial to its target step and reports the validation loss recorded at each evaluation. */
  private async drive(studyId: string, trialId: string): Promise<void> {
    const trainer = this.trainer();
    for (let attempt = 0; ; attempt++) {
      if (this.stopping) return;
      const study = this.studies.get(studyId);
      if (study.state !== S.STUDY_STATE_RUNNING) return;
      const trial = study.trials.find((t) => t.trialId === trialId)!;
      const spf = study.spec!.stepsPerFidelity;
      const target = trial.targetStep;
      const lastObserved = trial.observations.at(-1)?.step ?? 0;
      if (trial.state === R.RUN_STATE_FAILED || (lastObserved >= target && settled(trial))) return;
      try {
        let run: trainerV1.Run;
        if (!trial.runId) {
          const own = trial.candidate === undefined ? undefined : study.spec!.candidates[trial.candidate]?.runSpec;
          const spec = own?.length
            ? applyConfiguration(own, [], `spec.candidates[${trial.candidate}].run_spec`)
            : applyConfiguration(study.spec!.runTemplate, trial.configuration);
          spec.budgetSteps = target;
          spec.evalIntervalSteps = spf;
          spec.checkpointIntervalSteps = spf;
          // A trial thaws from its latest checkpoint; its best is the model people want. The rest would fill
          // the disk (a checkpoint per fidelity step of every trial).
          spec.checkpointRetention ??= { keepLast: 1, keepBest: true };
          spec.labels = { ...spec.labels, study: studyId, trial: trialId };
          run = (await call(trainer.startRun.bind(trainer), { requestId: `${studyId}:${trialId}:start`, spec })).run!;
          await this.studies.update(studyId, (s) => {
            const t = s.trials.find((x) => x.trialId === trialId)!;
            t.runId = run.runId;
            t.state = run.state;
          });
        } else {
          try {
            run = (await call(trainer.getRun.bind(trainer), { runId: trial.runId })).run!;
          } catch (err) {
            // Someone deleted the trial's run (DeleteRun): it cannot be thawed; the study goes on without it.
            if ((err as grpc.ServiceError).code === grpc.status.NOT_FOUND)
              return await this.endTrial(studyId, trialId, `its run ${trial.runId} was deleted`);
            throw err;
          }
        }
        if (run.state === R.RUN_STATE_FAILED || run.state === R.RUN_STATE_CANCELLED)
          return await this.failTrial(studyId, trialId, run);
        if (run.spec!.budgetSteps < target) {
          // The thaw: exactly one more fidelity step, once (the request id names the target).
          run = (
            await call(trainer.resumeRun.bind(trainer), {
              runId: run.runId,
              additionalSteps: target - run.spec!.budgetSteps,
              requestId: `${studyId}:${trialId}:to:${target}`,
            })
          ).run!;
        } else if (
          (run.state === R.RUN_STATE_PAUSED && run.step < target) ||
          (run.state === R.RUN_STATE_INTERRUPTED && run.checkpointStep < target)
        ) {
          // Interrupted (its trainer died; perhaps after its last step, before that step's checkpoint) or paused
          // early (its trainer shut down): continue from its checkpoint.
          run = (
            await call(trainer.resumeRun.bind(trainer), {
              runId: run.runId,
              additionalSteps: 0,
              requestId: `${studyId}:${trialId}:recover:${target}:${run.step}:${run.updateTime?.getTime() ?? 0}`,
            })
          ).run!;
        }
        await this.studies.update(studyId, (s) => (s.trials.find((x) => x.trialId === trialId)!.state = run.state));
        const constraint = study.spec!.forgettingConstraint;
        let startReferenceLoss: number | undefined;
        const observe = async (m: trainerV1.StepMetrics): Promise<hpo.Observation> => {
          // A run that watches an old domain reports how much it forgot, measured from its own start on
          // the same fixed batches; under a constraint, forgetting past the bound is penalised.
          if (m.referenceValidationLoss !== undefined)
            startReferenceLoss ??= (await call(trainer.getRun.bind(trainer), { runId: run.runId })).run!
              .initialReferenceValidationLoss;
          if (m.referenceValidationLoss === undefined || startReferenceLoss === undefined) {
            if (constraint)
              throw new Error(
                `trial ${trialId}'s run ${run.runId} measures no reference validation loss: its spec needs reference_validation_dataset`,
              );
            return { step: m.step, value: m.validationLoss! };
          }
          const rise = m.referenceValidationLoss - startReferenceLoss;
          const penalty = constraint ? constraint.penalty || DEFAULT_FORGETTING_PENALTY : 0;
          return {
            step: m.step,
            value: m.validationLoss! + penalty * Math.max(0, rise - (constraint?.maxIncrease ?? 0)),
            unconstrainedValue: m.validationLoss!,
            referenceIncrease: rise,
          };
        };
        const final = await this.watch(run.runId, lastObserved, async (steps) => {
          const fresh = steps.filter(
            (m) => m.step > lastObserved && m.step <= target && m.validationLoss !== undefined,
          );
          const observations: hpo.Observation[] = [];
          for (const m of fresh) observations.push(await observe(m));
          if (observations.length) await this.report(studyId, trialId, observations);
        });
        if (final?.state === R.RUN_STATE_FAILED || final?.state === R.RUN_STATE_CANCELLED)
          return await this.failTrial(studyId, trialId, final);
        // Done: paused at its target, or interrupted after writing its checkpoint there (it thaws from that).
        if (
          final &&
          final.step >= target &&
          (final.state === R.RUN_STATE_PAUSED ||
            (final.state === R.RUN_STATE_INTERRUPTED && final.checkpointStep >= target))
        ) {
          const t = await this.studies.update(
            studyId,
            (s) => (s.trials.find((x) => x.trialId === trialId)!.state = final.state),
          );
          this.events.publish(studyId, { trial: t.trials.find((x) => x.trialId === trialId)! });
          this.publishProgress(t);
          return;
        }
      } catch (err) {
        // Stopped meanwhile (its report was refused): the loop pauses the runs; nothing failed.
        if (this.studies.get(studyId).state !== S.STUDY_STATE_RUNNING) return;
        const code = (err as grpc.ServiceError).code;
        if (code === undefined || code === grpc.status.INVALID_ARGUMENT || code === grpc.status.NOT_FOUND) throw err;
        this.log.warn('trial segment interrupted; retrying', {
          study: studyId,
          trial: trialId,
          error: (err as Error).message,
          attempt,
        });
      }
      await new Promise((r) => setTimeout(r, RETRY_MS));
    }
  }

  /** The trial ends FAILED with its run's error; the study goes on (what it observed before stays). */
  private async failTrial(studyId: string, trialId: string, run: trainerV1.Run): Promise<void> {
    const reason =
      run.state === R.RUN_STATE_CANCELLED
        ? `its run ${run.runId} was cancelled`
        : `its run ${run.runId} failed: ${run.error || 'no error recorded'}`;
    await this.endTrial(studyId, trialId, reason);
  }

  /** The trial ends FAILED saying why; the study goes on. */
  private async endTrial(studyId: string, trialId: string, reason: string): Promise<void> {
    this.log.warn('trial failed', { study: studyId, trial: trialId, error: reason });
    const t = await this.studies.report(studyId, trialId, [], reason);
    this.events.publish(studyId, { trial: t });
    this.publishProgress(this.studies.get(studyId));
  }

  /** Reports the observations once (the request id names the last step reported). */
  private async report(studyId: string, trialId: string, observations: hpo.Observation[]): Promise<void> {
    const study = this.studies.get(studyId);
    const trial = study.trials.find((t) => t.trialId === trialId)!;
    const last = trial.observations.at(-1)?.step ?? 0;
    const fresh = observations.filter((o) => o.step > last);
    if (fresh.length) {
      const t = await this.studies.report(studyId, trialId, fresh);
      this.events.publish(studyId, { trial: t });
    }
  }

  /**
   * Follows a run until it stops, passing its recorded steps after `fromStep` (replayed, then live) to
   * `onSteps` as they arrive; answers the stopped run, or undefined if the stream broke.
   */
  private watch(
    runId: string,
    fromStep: number,
    onSteps: (steps: trainerV1.StepMetrics[]) => Promise<void>,
  ): Promise<trainerV1.Run | undefined> {
    const trainer = this.trainer();
    return new Promise((resolve, reject) => {
      const stream = trainer.watchRun({ runId, fromStep });
      let chain = Promise.resolve();
      let failed = false;
      let final: trainerV1.Run | undefined;
      stream.on('data', (m: trainerV1.WatchRunResponse) => {
        const e = m.event;
        if (failed) return;
        if (e?.$case === 'step') {
          const step = e.value;
          // The first failure ends the watch; a chain left rejected would reject again at every later step,
          // unhandled (which ends a Node process).
          chain = chain
            .then(() => onSteps([step]))
            .catch((err: unknown) => {
              failed = true;
              stream.cancel();
              reject(err);
            });
        } else if (e?.$case === 'run') final = e.value;
      });
      stream.on('error', (err) => chain.then(() => reject(err), reject));
      stream.on('end', () => chain.then(() => resolve(final), reject));
    });
  }
}
