// `floe hpo predict --config` against a real hpo-surrogate: the configuration is typed by the study's own search
// space, so a categorical choice that looks like a number ("1e-3") reaches the server as that choice, and a
// name the space does not have is refused before any call, naming the study. A study with nothing observed yet
// is predicted from the prior alone. `create --best-possible` sets the objective's bound, and a report past it is
// refused.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { hpoSurrogateV1 as hpo } from '@floe/contracts';
import { call, composeServices, createClient, startServer, type FloeServer } from '@floe/service-kit';
import { quietLog, tempDir, testConfig } from '@floe/testing';
import { SERVICES } from '../src/services.js';
import { floeAt } from './fixtures/floe.js';

const home = tempDir();
let server: FloeServer;
const floe = floeAt(() => server.address);

before(async () => {
  const config = testConfig(home.path, { FLOE_SERVICES: 'hpo-surrogate' });
  server = await startServer({ config, services: composeServices(SERVICES, { config, log: quietLog }), log: quietLog });
});

after(async () => {
  await server.shutdown();
  home.remove();
});

test('predict --config types each value by the study space; numeric-looking choices stay choices', async () => {
  const created = await floe(
    'hpo',
    'create',
    '--param',
    'lr=float:1e-4:1e-1:log',
    '--param',
    'decay=cat:1e-3,1e-2',
    '--param',
    'layers=int:1:4',
    '--json',
  );
  assert.equal(created.code, 0, created.stderr);
  const studyId = (JSON.parse(created.stdout) as { study_id: string }).study_id;
  // Before anything is observed the PFN predicts from its prior alone (no context: this was an internal error).
  const fresh = await floe(
    'hpo',
    'predict',
    studyId,
    '--config',
    'lr=0.01,decay=1e-2,layers=1',
    '--steps',
    '5',
    '--json',
  );
  assert.equal(fresh.code, 0, fresh.stderr);
  assert.equal((JSON.parse(fresh.stdout) as { context_size: number }).context_size, 0);
  const suggested = await floe('hpo', 'suggest', studyId, '--json');
  assert.equal(suggested.code, 0, suggested.stderr);
  const trialId = (JSON.parse(suggested.stdout) as { trial_id: string }).trial_id;
  const reported = await floe('hpo', 'report', studyId, trialId, '--points', '10:0.9,20:0.8', '--json');
  assert.equal(reported.code, 0, reported.stderr);

  const predicted = await floe(
    'hpo',
    'predict',
    studyId,
    '--config',
    'lr=0.01,decay=1e-3,layers=2',
    '--steps',
    '3,5',
    '--json',
  );
  assert.equal(predicted.code, 0, predicted.stderr);
  const { context_size, points } = JSON.parse(predicted.stdout) as {
    context_size: number;
    points: { step: number; mean: number; q05: number; q95: number }[];
  };
  assert.equal(context_size, 2);
  assert.deepEqual(
    points.map((p) => p.step),
    [3, 5],
  );
  for (const p of points) assert.ok(p.q05 <= p.mean && p.mean <= p.q95, JSON.stringify(p));

  const unknown = await floe('hpo', 'predict', studyId, '--config', 'lr=0.01,depth=2', '--steps', '3');
  assert.notEqual(unknown.code, 0);
  assert.match(unknown.stderr, new RegExp(`"depth" is not a parameter of study ${studyId}`));
  const notNumber = await floe('hpo', 'predict', studyId, '--config', 'lr=fast,decay=1e-3,layers=2', '--steps', '3');
  assert.notEqual(notNumber.code, 0);
  assert.match(notNumber.stderr, /--config lr: "fast" is not a number/);
});

test('create --maximize --best-possible 1: a report past the bound is refused, naming the value', async () => {
  const created = await floe(
    'hpo',
    'create',
    '--param',
    'lr=float:1e-4:1e-1:log',
    '--maximize',
    '--best-possible',
    '1',
    '--json',
  );
  assert.equal(created.code, 0, created.stderr);
  const studyId = (JSON.parse(created.stdout) as { study_id: string }).study_id;
  const trialId = (JSON.parse((await floe('hpo', 'suggest', studyId, '--json')).stdout) as { trial_id: string })
    .trial_id;
  const past = await floe('hpo', 'report', studyId, trialId, '--points', '10:0.8,20:1.2');
  assert.notEqual(past.code, 0);
  assert.match(past.stderr, /observations\[1\]\.value: 1\.2 is better than spec\.best_possible_value 1/);
  const within = await floe('hpo', 'report', studyId, trialId, '--points', '10:0.8,20:0.9');
  assert.equal(within.code, 0, within.stderr);
});

test('floe hpo list lists every study, past the first page of a hundred', async () => {
  const client = createClient(hpo.HpoSurrogateServiceClient, server.address);
  try {
    const before = (JSON.parse((await floe('hpo', 'list', '--json')).stdout) as unknown[]).length;
    for (let i = 0; i < 101; i++)
      await call(client.createStudy.bind(client), {
        requestId: '',
        spec: hpo.StudySpec.fromPartial({
          name: `many-${i}`,
          objective: 'validation_loss',
          stepsPerFidelity: 1,
          searchSpace: {
            parameters: [
              { name: 'lr', domain: { $case: 'floatRange', value: { min: 1e-4, max: 1e-1, logScale: true } } },
            ],
          },
          maxFidelity: 3,
          totalBudget: 9,
        }),
      });
    const listed = JSON.parse((await floe('hpo', 'list', '--json')).stdout) as unknown[];
    assert.equal(listed.length, before + 101);
  } finally {
    client.close();
  }
});
