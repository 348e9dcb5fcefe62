// Studies: durable state in SQLite, trials, the budget and the best trial. The handlers validate and
// map; every decision about a study's state and bookkeeping is made here.
import { randomUUID } from 'node:crypto';
import { commonV1, hpoSurrogateV1 as hpo } from '@floe/contracts';
import { InvalidArgumentError, failedPrecondition, notFound, unimplemented, type FieldViolation } from '@floe/errors';
import { decodePageToken, encodePageToken, pageSize } from '@floe/service-kit';
import type { MetadataStore } from '@floe/store';
import { rngFor } from '@floe/random';
import { sampleConfiguration, type Configuration, type ParameterSpec } from '@floe/surrogate';
import { toParameterSpecs } from './convert.js';

const STUDY = 'study';
const S = hpo.StudyState;
export const SURROGATE_PENDING = 'the freeze-thaw learning-curve surrogate (hyperparameter issue)';

function toParameterValues(params: ParameterSpec[], config: Configuration): hpo.ParameterValue[] {
  return params.map((p) => {
    const v = config[p.name]!;
    if (p.domain?.kind === 'categorical')
      return { name: p.name, value: { $case: 'categoricalValue', value: String(v) } };
    if (p.domain?.kind === 'int') return { name: p.name, value: { $case: 'intValue', value: Number(v) } };
    return { name: p.name, value: { $case: 'floatValue', value: Number(v) } };
  });
}

export class StudyManager {
  constructor(private readonly store: MetadataStore) {}

  get(id: string): hpo.Study {
    const rec = this.store.get<unknown>(STUDY, id);
    if (!rec) throw notFound('study', id);
    return hpo.Study.fromJSON(rec.body);
  }

  private save(study: hpo.Study): hpo.Study {
    this.store.update(STUDY, study.studyId, hpo.studyStateToJSON(study.state), hpo.Study.toJSON(study));
    return study;
  }

  private static requireActive(study: hpo.Study): void {
    if (study.state !== S.STUDY_STATE_ACTIVE)
      throw failedPrecondition(`study ${study.studyId} is ${hpo.studyStateToJSON(study.state)}, not ACTIVE`);
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

  /** The next trial: random search trains each configuration at the full fidelity, spending its budget. */
  suggest(id: string): Omit<hpo.SuggestResponse, 'replayed'> {
    const study = this.get(id);
    StudyManager.requireActive(study);
    const spec = study.spec!;
    if (spec.optimizer !== hpo.Optimizer.OPTIMIZER_RANDOM)
      throw unimplemented(`${SURROGATE_PENDING}; OPTIMIZER_RANDOM works today`);
    if (study.budgetUsed >= spec.totalBudget) throw failedPrecondition(`study ${study.studyId} has spent its budget`);
    const params = toParameterSpecs(spec.searchSpace);
    const config = sampleConfiguration(params, rngFor(spec.seed, `trial-${study.trials.length}`));
    const trial: hpo.Trial = {
      trialId: `trial-${study.trials.length + 1}`,
      configuration: toParameterValues(params, config),
      observations: [],
      runId: '',
      state: commonV1.RunState.RUN_STATE_QUEUED,
    };
    study.trials.push(trial);
    study.budgetUsed = Math.min(spec.totalBudget, study.budgetUsed + spec.maxFidelity);
    this.save(study);
    return { trial, isNew: true, targetStep: spec.maxFidelity * spec.stepsPerFidelity, acquisition: 0 };
  }

  /** Appends a trial's observations (steps past its last) and updates the best trial. */
  report(id: string, trialId: string, observations: hpo.Observation[]): hpo.Trial {
    const study = this.get(id);
    StudyManager.requireActive(study);
    const trial = study.trials.find((t) => t.trialId === trialId);
    if (!trial) throw notFound(`trial of study ${study.studyId}`, trialId);
    let last = trial.observations.at(-1)?.step ?? 0;
    const violations: FieldViolation[] = [];
    for (const [i, o] of observations.entries()) {
      if (o.step <= last)
        violations.push({
          field: `observations[${i}].step`,
          description: `must be greater than ${last} (steps increase)`,
        });
      last = o.step;
    }
    if (violations.length) throw new InvalidArgumentError(violations);
    trial.observations.push(...observations);
    const sign = study.spec!.direction === hpo.Direction.DIRECTION_MAXIMIZE ? 1 : -1;
    for (const o of observations) {
      if (!study.bestTrialId || sign * o.value > sign * study.bestValue) {
        study.bestTrialId = trial.trialId;
        study.bestValue = o.value;
      }
    }
    this.save(study);
    return trial;
  }

  stop(id: string): hpo.Study {
    const study = this.get(id);
    if (study.state === S.STUDY_STATE_STOPPED) return study;
    if (study.state !== S.STUDY_STATE_ACTIVE && study.state !== S.STUDY_STATE_RUNNING)
      throw failedPrecondition(`study ${study.studyId} is ${hpo.studyStateToJSON(study.state)}`);
    study.state = S.STUDY_STATE_STOPPED;
    return this.save(study);
  }
}
