// HpoSurrogateService handlers. Studies, trials and random search are real now; the freeze-thaw
// surrogate, curve prediction and the server-side loop come with the hyperparameter issue.
import { randomUUID } from 'node:crypto';
import { SERVICE_NAMES, commonV1, hpoSurrogateV1 as hpo } from '@floe/contracts';
import {
  FloeError,
  failedPrecondition,
  invalidArgument,
  notFound,
  unimplemented,
  InvalidArgumentError,
} from '@floe/errors';
import {
  checkPage,
  decodePageToken,
  defineService,
  encodePageToken,
  pageSize,
  validate,
  type FloeConfig,
  type HostedService,
  type Logger,
} from '@floe/service-kit';
import { SqliteMetadataStore, floeDirs, type MetadataStore } from '@floe/store';
import { rngFor } from '@floe/random';
import {
  encodedDimensions,
  sampleConfiguration,
  validateSearchSpace,
  type Configuration,
  type ParameterSpec,
} from '@floe/surrogate';

const STUDY = 'study';
const SURROGATE_PENDING = 'the freeze-thaw learning-curve surrogate (hyperparameter issue)';

/** The contract's parameters as the surrogate lib sees them. */
export function toParameterSpecs(space: hpo.SearchSpace | undefined): ParameterSpec[] {
  return (space?.parameters ?? []).map((p) => {
    const d = p.domain;
    if (!d) return { name: p.name, domain: undefined };
    if (d.$case === 'floatRange')
      return { name: p.name, domain: { kind: 'float', min: d.value.min, max: d.value.max, log: d.value.logScale } };
    if (d.$case === 'intRange')
      return { name: p.name, domain: { kind: 'int', min: d.value.min, max: d.value.max, log: d.value.logScale } };
    return { name: p.name, domain: { kind: 'categorical', choices: d.value.choices } };
  });
}

function toParameterValues(params: ParameterSpec[], config: Configuration): hpo.ParameterValue[] {
  return params.map((p) => {
    const v = config[p.name]!;
    if (p.domain?.kind === 'categorical')
      return { name: p.name, value: { $case: 'categoricalValue', value: String(v) } };
    if (p.domain?.kind === 'int') return { name: p.name, value: { $case: 'intValue', value: Number(v) } };
    return { name: p.name, value: { $case: 'floatValue', value: Number(v) } };
  });
}

function checkSpec(spec: hpo.StudySpec | undefined): void {
  if (!spec) throw invalidArgument('spec', 'is required');
  const problems = validateSearchSpace(toParameterSpecs(spec.searchSpace), 'spec.search_space');
  const v = { violations: [...problems] };
  validate((val) => {
    for (const p of v.violations) val.add(p.field, p.description);
    val.string('spec.name', spec.name, { max: 256 });
    val.string('spec.objective', spec.objective, { required: true, max: 128 });
    val.enumValue('spec.direction', spec.direction, hpo.Direction, { allowUnspecified: true });
    val.enumValue('spec.optimizer', spec.optimizer, hpo.Optimizer, { allowUnspecified: true });
    val.number('spec.steps_per_fidelity', spec.stepsPerFidelity, { min: 1, max: 1e9, integer: true });
    val.number('spec.max_fidelity', spec.maxFidelity, { min: 1, max: 1e6, integer: true });
    val.number('spec.total_budget', spec.totalBudget, { min: 1, max: 1e9, integer: true });
    val.check(spec.runTemplate.length <= 1 << 20, 'spec.run_template', 'is larger than 1 MiB');
  });
}

export function createHpoSurrogateService(opts: {
  config: FloeConfig;
  log: Logger;
  store?: MetadataStore;
}): HostedService {
  const store = opts.store ?? new SqliteMetadataStore(floeDirs(opts.config.home).database('hpo-surrogate'));

  const load = (id: string): hpo.Study => {
    validate((v) => v.id('study_id', id));
    const rec = store.get<unknown>(STUDY, id);
    if (!rec) throw notFound('study', id);
    return hpo.Study.fromJSON(rec.body);
  };
  const save = (study: hpo.Study) =>
    store.update(STUDY, study.studyId, hpo.studyStateToJSON(study.state), hpo.Study.toJSON(study));
  const requireActive = (study: hpo.Study) => {
    if (study.state !== hpo.StudyState.STUDY_STATE_ACTIVE) {
      throw failedPrecondition(`study ${study.studyId} is ${hpo.studyStateToJSON(study.state)}, not ACTIVE`);
    }
  };

  return defineService(
    SERVICE_NAMES.hpoSurrogate,
    hpo.HpoSurrogateServiceService,
    {
      async validateSearchSpace(req) {
        const params = toParameterSpecs(req.searchSpace);
        const problems = validateSearchSpace(params);
        return {
          valid: problems.length === 0,
          problems,
          encodedDimensions: problems.length ? 0 : encodedDimensions(params),
        };
      },
      async createStudy(req) {
        validate((v) => v.string('request_id', req.requestId, { max: 128 }));
        checkSpec(req.spec);
        if (req.requestId) {
          const existing = store.findByRequestId<unknown>(STUDY, req.requestId);
          if (existing) return { study: hpo.Study.fromJSON(existing.body) };
        }
        const study: hpo.Study = {
          studyId: `study-${randomUUID()}`,
          spec: req.spec,
          state: hpo.StudyState.STUDY_STATE_ACTIVE,
          trials: [],
          bestTrialId: '',
          bestValue: 0,
          budgetUsed: 0,
          createTime: new Date(),
        };
        store.create(
          STUDY,
          study.studyId,
          hpo.studyStateToJSON(study.state),
          hpo.Study.toJSON(study),
          req.requestId || undefined,
        );
        return { study };
      },
      async getStudy(req) {
        return { study: load(req.studyId) };
      },
      async listStudies(req) {
        validate((v) => {
          checkPage(v, 'page', req.page);
          req.states.forEach((s, i) => v.enumValue(`states[${i}]`, s, hpo.StudyState));
        });
        const size = pageSize(req.page?.pageSize);
        const offset = decodePageToken(STUDY, req.page?.pageToken);
        const result = store.list<unknown>(STUDY, {
          states: req.states.map(hpo.studyStateToJSON),
          offset,
          limit: size,
        });
        return {
          studies: result.items.map((r) => hpo.Study.fromJSON(r.body)),
          page: { nextPageToken: result.hasMore ? encodePageToken(STUDY, offset + size) : '' },
        };
      },
      async suggest(req) {
        const study = load(req.studyId);
        requireActive(study);
        const spec = study.spec!;
        if (spec.optimizer !== hpo.Optimizer.OPTIMIZER_RANDOM)
          throw unimplemented(`${SURROGATE_PENDING}; OPTIMIZER_RANDOM works today`);
        if (study.budgetUsed >= spec.totalBudget)
          throw failedPrecondition(`study ${study.studyId} has spent its budget`);
        // Random search trains each configuration at the full fidelity.
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
        save(study);
        return { trial, isNew: true, targetStep: spec.maxFidelity * spec.stepsPerFidelity, acquisition: 0 };
      },
      async reportObservations(req) {
        validate((v) => {
          v.id('trial_id', req.trialId);
          v.count('observations', req.observations, 100_000, 1);
          req.observations.forEach((o, i) => {
            v.number(`observations[${i}].step`, o.step, { min: 1, integer: true });
            v.number(`observations[${i}].value`, o.value);
          });
        });
        const study = load(req.studyId);
        requireActive(study);
        const trial = study.trials.find((t) => t.trialId === req.trialId);
        if (!trial) throw notFound(`trial of study ${study.studyId}`, req.trialId);
        let last = trial.observations.at(-1)?.step ?? 0;
        const violations = [];
        for (const [i, o] of req.observations.entries()) {
          if (o.step <= last)
            violations.push({
              field: `observations[${i}].step`,
              description: `must be greater than ${last} (steps increase)`,
            });
          last = o.step;
        }
        if (violations.length) throw new InvalidArgumentError(violations);
        trial.observations.push(...req.observations);
        const sign = study.spec!.direction === hpo.Direction.DIRECTION_MAXIMIZE ? 1 : -1;
        for (const o of req.observations) {
          if (!study.bestTrialId || sign * o.value > sign * study.bestValue) {
            study.bestTrialId = trial.trialId;
            study.bestValue = o.value;
          }
        }
        save(study);
        return { trial };
      },
      async predictCurves(req) {
        load(req.studyId);
        throw unimplemented(SURROGATE_PENDING);
      },
      async *runStudy(req) {
        validate((v) => v.number('parallelism', req.parallelism, { min: 0, max: 64, integer: true }));
        const study = load(req.studyId);
        requireActive(study);
        throw unimplemented(`${SURROGATE_PENDING}, pausing and resuming trainer runs as its trials`);
      },
      async stopStudy(req) {
        const study = load(req.studyId);
        if (study.state === hpo.StudyState.STUDY_STATE_STOPPED) return { study };
        if (study.state !== hpo.StudyState.STUDY_STATE_ACTIVE && study.state !== hpo.StudyState.STUDY_STATE_RUNNING) {
          throw new FloeError('failed_precondition', `study ${study.studyId} is ${hpo.studyStateToJSON(study.state)}`);
        }
        study.state = hpo.StudyState.STUDY_STATE_STOPPED;
        save(study);
        return { study };
      },
    },
    { log: opts.log, onClose: () => store.close() },
  );
}
