// HpoSurrogateService handlers: validate, call the StudyManager, map. Studies, trials and random search
// are real; the freeze-thaw surrogate, curve prediction and the server-side loop come with the
// hyperparameter issue and answer UNIMPLEMENTED naming it.
import { SERVICE_NAMES, hpoSurrogateV1 as hpo } from '@floe/contracts';
import { failedPrecondition, invalidArgument, unimplemented } from '@floe/errors';
import {
  checkPage,
  defineService,
  validate,
  type HostedService,
  type ServiceContext,
  type Validator,
} from '@floe/service-kit';
import { RequestLog, SqliteMetadataStore, floeDirs, type MetadataStore } from '@floe/store';
import { encodedDimensions, validateSearchSpace } from '@floe/surrogate';
import { toParameterSpecs } from './convert.js';
import { StudyManager, SURROGATE_PENDING } from './study-manager.js';

function checkSpec(spec: hpo.StudySpec | undefined): void {
  if (!spec) throw invalidArgument('spec', 'is required');
  const problems = validateSearchSpace(toParameterSpecs(spec.searchSpace), 'spec.search_space');
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
  });
}

const checkRequestId = (v: Validator, id: string) => v.string('request_id', id, { max: 128 });

export function createHpoSurrogateService(opts: ServiceContext & { store?: MetadataStore }): HostedService {
  const store = opts.store ?? new SqliteMetadataStore(floeDirs(opts.config.home).database('hpo-surrogate'));
  const studies = new StudyManager(store);
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
        return { study: study(req.studyId) };
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
        const r = await requests.once(
          'Suggest',
          req.requestId,
          hpo.SuggestRequest.toJSON(req),
          hpo.SuggestResponse,
          () => ({
            ...studies.suggest(req.studyId),
            replayed: false,
          }),
        );
        return { ...r.response, replayed: r.replayed };
      },
      async reportObservations(req) {
        validate((v) => {
          v.id('study_id', req.studyId);
          v.id('trial_id', req.trialId);
          checkRequestId(v, req.requestId);
          v.count('observations', req.observations, 100_000, 1);
          req.observations.forEach((o, i) => {
            v.number(`observations[${i}].step`, o.step, { min: 1, integer: true });
            v.number(`observations[${i}].value`, o.value);
          });
        });
        const r = await requests.once(
          'ReportObservations',
          req.requestId,
          hpo.ReportObservationsRequest.toJSON(req),
          hpo.ReportObservationsResponse,
          () => ({ trial: studies.report(req.studyId, req.trialId, req.observations), replayed: false }),
        );
        return { ...r.response, replayed: r.replayed };
      },
      async predictCurves(req) {
        study(req.studyId);
        throw unimplemented(SURROGATE_PENDING);
      },
      async *runStudy(req) {
        validate((v) => v.number('parallelism', req.parallelism, { min: 0, max: 64, integer: true }));
        const s = study(req.studyId);
        if (s.state !== hpo.StudyState.STUDY_STATE_ACTIVE)
          throw failedPrecondition(`study ${s.studyId} is ${hpo.studyStateToJSON(s.state)}, not ACTIVE`);
        throw unimplemented(`${SURROGATE_PENDING}, pausing and resuming trainer runs as its trials`);
      },
      async stopStudy(req) {
        validate((v) => {
          v.id('study_id', req.studyId);
          checkRequestId(v, req.requestId);
        });
        const r = await requests.once(
          'StopStudy',
          req.requestId,
          hpo.StopStudyRequest.toJSON(req),
          hpo.StopStudyResponse,
          () => ({
            study: studies.stop(req.studyId),
            replayed: false,
          }),
        );
        return { ...r.response, replayed: r.replayed };
      },
    },
    { log: opts.log, onClose: () => store.close() },
  );
}
