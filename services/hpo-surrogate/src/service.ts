// HpoSurrogateService handlers: validate, call the StudyManager (bookkeeping), the surrogate's worker
// (decisions and predictions) or the StudyRunner (RunStudy's loop), map.
import { SERVICE_NAMES, hpoSurrogateV1 as hpo } from '@floe/contracts';
import { InvalidArgumentError, failedPrecondition, invalidArgument } from '@floe/errors';
import {
  Peers,
  checkPage,
  defineService,
  follow,
  validate,
  type HostedService,
  type ServiceContext,
  type Validator,
} from '@floe/service-kit';
import { RequestLog, openMetadataStore, type MetadataStore } from '@floe/store';
import { configurationKey, encodedDimensions, sampleConfiguration, validateSearchSpace } from '@floe/surrogate';
import { ResidentTask } from '@floe/training';
import { rngFor } from '@floe/random';
import { toParameterSpecs } from './convert.js';
import { StudyManager, configurationProblems, fromParameterValues, toParameterValues } from './study-manager.js';
import { StudyRunner, applyConfiguration, templateProblems } from './study-runner.js';
import type { SurrogateReply, SurrogateRequest, SurrogateTaskData } from './surrogate-task.js';

const SURROGATE_TASK = new URL('./surrogate-task.ts', import.meta.url);

function checkSpec(spec: hpo.StudySpec | undefined): void {
  if (!spec) throw invalidArgument('spec', 'is required');
  const params = toParameterSpecs(spec.searchSpace);
  const problems = validateSearchSpace(params, 'spec.search_space');
  validate((val) => {
    for (const p of problems) val.add(p.field, p.description);
    val.string('spec.name', spec.name, { max: 256 });
    val.string('spec.objective', spec.objective, { required: true, max: 128 });
    val.enumValue('spec.direction', spec.direction, hpo.Direction, { allowUnspecified: true });
    val.enumValue('spec.optimizer', spec.optimizer, hpo.Optimizer, { allowUnspecified: true });
    val.number('spec.steps_per_fidelity', spec.stepsPerFidelity, { min: 1, max: 1e9, integer: true });
    val.number('spec.max_fidelity', spec.maxFidelity, { min: 1, max: 1e6, integer: true });
    val.number('spec.total_budget', spec.totalBudget, { min: 1, max: 1e9, integer: true });
    val.check(spec.runTemplate.length <= 1 << 20, 'spec.run_template', 'is larger than 1 MiB');
    val.count('spec.candidates', spec.candidates, 1000);
    if (!problems.length)
      spec.candidates.forEach((c, i) => {
        const field = `spec.candidates[${i}]`;
        for (const p of configurationProblems(params, c.configuration, `${field}.configuration`))
          val.add(p.field, p.description);
        val.string(`${field}.label`, c.label, { max: 256 });
        val.check(c.runSpec.length <= 1 << 20, `${field}.run_spec`, 'is larger than 1 MiB');
        val.check(!c.baseline || i === 0, `${field}.baseline`, 'only the first candidate may be the baseline');
      });
    val.count('spec.initial_configurations', spec.initialConfigurations, 100);
    val.check(
      !spec.initialConfigurations.length || !spec.candidates.length,
      'spec.initial_configurations',
      'cannot be set with candidates: a finite search starts from its first candidate',
    );
    if (!problems.length) {
      // A configuration listed twice would train the same run twice.
      const first = new Map<string, number>();
      spec.initialConfigurations.forEach((c, i) => {
        const field = `spec.initial_configurations[${i}]`;
        for (const p of configurationProblems(params, c.values, `${field}.values`)) val.add(p.field, p.description);
        const key = configurationKey(params, fromParameterValues(c.values));
        if (first.has(key)) val.add(`${field}.values`, `repeats spec.initial_configurations[${first.get(key)}]`);
        else first.set(key, i);
      });
    }
    if (spec.bestPossibleValue !== undefined) val.number('spec.best_possible_value', spec.bestPossibleValue);
    const fc = spec.forgettingConstraint;
    if (fc) {
      val.number('spec.forgetting_constraint.max_increase', fc.maxIncrease, { min: 0 });
      val.number('spec.forgetting_constraint.penalty', fc.penalty, { min: 0 });
      val.check(
        spec.direction !== hpo.Direction.DIRECTION_MAXIMIZE,
        'spec.forgetting_constraint',
        'bounds a loss: the study must minimise',
      );
    }
  });
  // What RunStudy will train: the template and the candidates' own specs (RunSpecs, checked by decoding);
  // under a forgetting constraint each must watch an old domain.
  const runSpecs: [string, Uint8Array][] = [
    ...(spec.runTemplate.length ? [['spec.run_template', spec.runTemplate] as [string, Uint8Array]] : []),
    ...spec.candidates
      .map((c, i): [string, Uint8Array] => [`spec.candidates[${i}].run_spec`, c.runSpec])
      .filter(([, b]) => b.length > 0),
  ];
  for (const [field, bytes] of runSpecs) {
    const decoded = applyConfiguration(bytes, [], field);
    if (spec.forgettingConstraint && !decoded.referenceValidationDataset?.uri)
      throw invalidArgument(
        field,
        'sets no reference_validation_dataset: a forgetting constraint needs the old-domain loss measured',
      );
  }
  if (spec.runTemplate.length > 0) {
    // Every parameter must name a field of the template (try one configuration), and every value it can take
    // must fit that field.
    applyConfiguration(spec.runTemplate, toParameterValues(params, sampleConfiguration(params, rngFor(0, 'check'))));
    const misfits = templateProblems(spec.runTemplate, params);
    if (misfits.length) throw new InvalidArgumentError(misfits);
  }
}

const checkRequestId = (v: Validator, id: string) => v.string('request_id', id, { max: 128 });

export function createHpoSurrogateService(opts: ServiceContext & { store?: MetadataStore }): HostedService {
  const store = opts.store ?? openMetadataStore(opts.config, 'hpo-surrogate');
  const surrogate = new ResidentTask<SurrogateRequest, SurrogateReply>(
    SURROGATE_TASK,
    { backend: opts.config.tfBackend, threads: opts.config.threads } satisfies SurrogateTaskData,
    opts.config.computePriority,
  );
  const studies = new StudyManager(store, (req) => surrogate.call(req));
  const peers = opts.peers ?? new Peers(opts.config);
  const runner = new StudyRunner(studies, store, peers, opts.log);
  const requests = new RequestLog(store);
  const study = (id: string) => {
    validate((v) => v.id('study_id', id));
    return studies.get(id);
  };

  return defineService(
    SERVICE_NAMES['hpo-surrogate'],
    hpo.HpoSurrogateServiceService,
    {
      async validateSearchSpace(req) {
        const params = toParameterSpecs(req.searchSpace);
        const problems = validateSearchSpace(params);
        const fidelity = (field: string, v: number, max: number) => {
          if (v !== 0 && !(Number.isInteger(v) && v >= 1 && v <= max))
            problems.push({ field, description: `must be an integer in [1, ${max}] (0 skips the check)` });
        };
        fidelity('steps_per_fidelity', req.stepsPerFidelity, 1e9);
        fidelity('max_fidelity', req.maxFidelity, 1e6);
        return {
          valid: problems.length === 0,
          problems,
          encodedDimensions: problems.length ? 0 : encodedDimensions(params),
        };
      },
      async createStudy(req) {
        validate((v) => checkRequestId(v, req.requestId));
        checkSpec(req.spec);
        return studies.create(req.spec!, req.requestId);
      },
      async getStudy(req) {
        const s = study(req.studyId);
        return { study: s, parameterImportances: studies.importances(s) };
      },
      async listStudies(req) {
        validate((v) => {
          checkPage(v, 'page', req.page);
          req.states.forEach((s, i) => v.enumValue(`states[${i}]`, s, hpo.StudyState));
        });
        const { studies: list, nextPageToken } = studies.list(req.states, req.page?.pageSize, req.page?.pageToken);
        return { studies: list, page: { nextPageToken } };
      },
      async suggest(req) {
        validate((v) => {
          v.id('study_id', req.studyId);
          checkRequestId(v, req.requestId);
        });
        return requests.answer('Suggest', req, { request: hpo.SuggestRequest, response: hpo.SuggestResponse }, () =>
          studies.suggest(req.studyId),
        );
      },
      async reportObservations(req) {
        validate((v) => {
          v.id('study_id', req.studyId);
          v.id('trial_id', req.trialId);
          checkRequestId(v, req.requestId);
          v.count('observations', req.observations, 100_000, req.failure ? 0 : 1);
          v.string('failure', req.failure, { max: 1024 });
          req.observations.forEach((o, i) => {
            v.number(`observations[${i}].step`, o.step, { min: 1, integer: true });
            if (!Number.isFinite(o.value))
              v.add(
                `observations[${i}].value`,
                'must be a finite number (a run that diverged is reported with failure)',
              );
          });
        });
        return requests.answer(
          'ReportObservations',
          req,
          { request: hpo.ReportObservationsRequest, response: hpo.ReportObservationsResponse },
          async () => ({
            trial: await studies.report(req.studyId, req.trialId, req.observations, req.failure),
          }),
        );
      },
      async predictCurves(req) {
        const s = study(req.studyId);
        const maxStep = s.spec!.stepsPerFidelity * s.spec!.maxFidelity;
        validate((v) => {
          v.count('queries', req.queries, 1000, 1);
          req.queries.forEach((q, i) => {
            v.count(`queries[${i}].steps`, q.steps, 1000, 1);
            q.steps.forEach((st, j) =>
              v.number(`queries[${i}].steps[${j}]`, st, { min: 1, max: maxStep, integer: true }),
            );
            q.observed.forEach((o, j) => {
              v.number(`queries[${i}].observed[${j}].step`, o.step, { min: 1, max: maxStep, integer: true });
              v.number(`queries[${i}].observed[${j}].value`, o.value);
            });
            if (q.trialId) v.id(`queries[${i}].trial_id`, q.trialId);
          });
        });
        return studies.predict(req.studyId, req.queries);
      },
      async *runStudy(req, ctx) {
        validate((v) => v.number('parallelism', req.parallelism, { min: 0, max: 64, integer: true }));
        const s = study(req.studyId);
        if (
          s.state !== hpo.StudyState.STUDY_STATE_ACTIVE &&
          !(s.state === hpo.StudyState.STUDY_STATE_RUNNING && runner.running(s.studyId))
        )
          throw failedPrecondition(`study ${s.studyId} is ${hpo.studyStateToJSON(s.state)}, not ACTIVE`);
        const everyCandidateHasASpec =
          s.spec!.candidates.length > 0 && s.spec!.candidates.every((c) => c.runSpec.length);
        if (s.spec!.runTemplate.length === 0 && !everyCandidateHasASpec)
          throw invalidArgument('spec.run_template', 'is required by RunStudy (the trainer RunSpec each trial fills)');
        await runner.start(s.studyId, req.parallelism || 1);
        // The loop's events, as service-kit's follow serves every watch stream: a study that ended before
        // the subscription is answered from the store.
        for await (const e of follow(runner.events, s.studyId, {
          signal: ctx.signal,
          replay: () => [],
          done: () => {
            const now = studies.get(s.studyId);
            const ended = now.state !== hpo.StudyState.STUDY_STATE_RUNNING && !runner.running(s.studyId);
            return ended ? { study: now } : undefined;
          },
          isLast: (e) => 'study' in e,
        }))
          yield 'study' in e
            ? { event: { $case: 'study', value: e.study } }
            : 'trial' in e
              ? { event: { $case: 'trial', value: e.trial } }
              : { event: { $case: 'progress', value: e.progress } };
      },
      async stopStudy(req) {
        validate((v) => {
          v.id('study_id', req.studyId);
          checkRequestId(v, req.requestId);
        });
        return requests.answer(
          'StopStudy',
          req,
          { request: hpo.StopStudyRequest, response: hpo.StopStudyResponse },
          async () => ({ study: await studies.stop(req.studyId) }),
        );
      },
      async resumeStudy(req) {
        validate((v) => {
          v.id('study_id', req.studyId);
          checkRequestId(v, req.requestId);
          v.number('additional_budget', req.additionalBudget, { min: 0, max: 1e9, integer: true });
        });
        return requests.answer(
          'ResumeStudy',
          req,
          { request: hpo.ResumeStudyRequest, response: hpo.ResumeStudyResponse },
          async () => ({
            study: await studies.resume(req.studyId, req.additionalBudget, runner.running(req.studyId)),
          }),
        );
      },
      async deleteStudy(req) {
        validate((v) => {
          v.id('study_id', req.studyId);
          checkRequestId(v, req.requestId);
        });
        return requests.answer(
          'DeleteStudy',
          req,
          { request: hpo.DeleteStudyRequest, response: hpo.DeleteStudyResponse },
          () => runner.delete(req.studyId, req.deleteRuns),
        );
      },
    },
    {
      log: opts.log,
      peers,
      onListening: () => runner.resumeAll(),
      onShutdown: () => runner.shutdown(),
      onClose: async () => {
        await surrogate.close();
        store.close();
      },
    },
  );
}
