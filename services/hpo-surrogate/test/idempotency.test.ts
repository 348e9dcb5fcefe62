// Retried state-changing calls of the hpo-surrogate with the same request id change nothing and answer
// the first answer (replayed), even after the study has moved on.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { hpoSurrogateV1 as hpo } from '@floe/contracts';
import { call, createClient, type FloeServer } from '@floe/service-kit';
import { quietLog, rejectsWith, startTestServer, tempDir, testConfig } from '@floe/testing';
import { createHpoSurrogateService } from '../src/index.js';

const home = tempDir();
let server: FloeServer;
let client: hpo.HpoSurrogateServiceClient;

before(async () => {
  const config = testConfig(home.path);
  server = await startTestServer([createHpoSurrogateService({ config, log: quietLog })], config);
  client = createClient(hpo.HpoSurrogateServiceClient, server.address);
});

after(async () => {
  client.close();
  await server.shutdown();
  home.remove();
});

const spec = hpo.StudySpec.fromPartial({
  searchSpace: {
    parameters: [{ name: 'lr', domain: { $case: 'floatRange', value: { min: 1e-4, max: 1e-1, logScale: true } } }],
  },
  objective: 'validation_loss',
  optimizer: hpo.Optimizer.OPTIMIZER_RANDOM,
  stepsPerFidelity: 10,
  maxFidelity: 3,
  totalBudget: 10,
  seed: 3,
});

async function newStudy(): Promise<{ studyId: string; trialId: string }> {
  const { study } = await call(client.createStudy.bind(client), { requestId: '', spec });
  const s = await call(client.suggest.bind(client), hpo.SuggestRequest.fromPartial({ studyId: study!.studyId }));
  return { studyId: study!.studyId, trialId: s.trial!.trialId };
}

const report = (studyId: string, trialId: string, requestId: string, steps: number[]) =>
  call(
    client.reportObservations.bind(client),
    hpo.ReportObservationsRequest.fromPartial({
      studyId,
      trialId,
      requestId,
      observations: steps.map((step) => ({ step, value: 1 / step })),
    }),
  );

test('a retried ReportObservations records nothing twice and answers the first answer', async () => {
  const { studyId, trialId } = await newStudy();
  const first = await report(studyId, trialId, 'report-1', [10, 20]);
  assert.equal(first.replayed, false);
  await report(studyId, trialId, 'report-2', [30]);
  const retry = await report(studyId, trialId, 'report-1', [10, 20]);
  assert.equal(retry.replayed, true);
  assert.deepEqual(retry.trial, first.trial, 'the first answer, though the trial has moved on');
  const { study } = await call(client.getStudy.bind(client), { studyId });
  assert.deepEqual(
    study!.trials[0]!.observations.map((o) => o.step),
    [10, 20, 30],
  );
});

test('a request id reused for a different request is INVALID_ARGUMENT on request_id', async () => {
  const { studyId, trialId } = await newStudy();
  await report(studyId, trialId, 'report-x', [10]);
  await rejectsWith(report(studyId, trialId, 'report-x', [20]), grpc.status.INVALID_ARGUMENT, 'request_id');
});

test('a retried StopStudy answers the first answer and changes nothing', async () => {
  const { studyId } = await newStudy();
  const first = await call(
    client.stopStudy.bind(client),
    hpo.StopStudyRequest.fromPartial({ studyId, requestId: 'stop-1' }),
  );
  const retry = await call(
    client.stopStudy.bind(client),
    hpo.StopStudyRequest.fromPartial({ studyId, requestId: 'stop-1' }),
  );
  assert.equal(first.replayed, false);
  assert.equal(retry.replayed, true);
  assert.deepEqual(retry.study, first.study);
  assert.equal(retry.study!.state, hpo.StudyState.STUDY_STATE_STOPPED);
});

test('a retried Suggest adds no trial', async () => {
  const { study } = await call(client.createStudy.bind(client), { requestId: '', spec });
  const a = await call(
    client.suggest.bind(client),
    hpo.SuggestRequest.fromPartial({ studyId: study!.studyId, requestId: 's-1' }),
  );
  const b = await call(
    client.suggest.bind(client),
    hpo.SuggestRequest.fromPartial({ studyId: study!.studyId, requestId: 's-1' }),
  );
  assert.equal(b.replayed, true);
  assert.equal(b.trial!.trialId, a.trial!.trialId);
  const got = await call(client.getStudy.bind(client), { studyId: study!.studyId });
  assert.equal(got.study!.trials.length, 1);
  assert.equal(got.study!.budgetUsed, 3, 'the budget was spent once');
});
