// The embedded server (all five services in one process) through real gRPC on loopback.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { mkdirSync, writeFileSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import {
  SERVICE_NAMES,
  commonV1,
  dataProfilerV1,
  hpoSurrogateV1 as hpo,
  trainerV1,
  evaluatorV1,
  explainerV1,
} from '@floe/contracts';
import { call, collect, composeServices, createClient, type FloeServer } from '@floe/service-kit';
import {
  healthClient,
  healthStatus,
  quietLog,
  reflectionServices,
  rejectsWith,
  startTestServer,
  tempDir,
  testConfig,
} from '@floe/testing';
import { rngFor } from '@floe/random';
import { SERVICES } from '../src/services.js';

const home = tempDir();
const dataRoot = join(home.path, 'data');
let server: FloeServer;
let trainer: trainerV1.TrainerServiceClient;
let hpoClient: hpo.HpoSurrogateServiceClient;
let profiler: dataProfilerV1.DataProfilerServiceClient;

before(async () => {
  mkdirSync(dataRoot, { recursive: true });
  writeFileSync(join(dataRoot, 'ok.txt'), 'hello');
  const config = testConfig(home.path, { FLOE_DATA_ROOTS: dataRoot });
  server = await startTestServer(composeServices(SERVICES, { config, log: quietLog }), config);
  trainer = createClient(trainerV1.TrainerServiceClient, server.address);
  hpoClient = createClient(hpo.HpoSurrogateServiceClient, server.address);
  profiler = createClient(dataProfilerV1.DataProfilerServiceClient, server.address);
});

after(async () => {
  trainer.close();
  hpoClient.close();
  profiler.close();
  await server.shutdown();
  home.remove();
});

const validSpec = (): trainerV1.RunSpec =>
  trainerV1.RunSpec.fromPartial({
    baseModel: {
      source: {
        $case: 'builtin',
        value: { architecture: commonV1.ModelArchitecture.MODEL_ARCHITECTURE_TRANSFORMER_LM, size: 'tiny', seed: 1 },
      },
    },
    dataset: { uri: 'builtin:spam-assassin' },
    strategy: trainerV1.Strategy.STRATEGY_FULL,
    batchSize: 8,
    sequenceLength: 64,
    budgetSteps: 10,
  });

test('health answers SERVING for the server and each of the five services', async () => {
  for (const name of ['', ...Object.values(SERVICE_NAMES)])
    assert.equal(await healthStatus(server.address, name), 'SERVING', name);
});

test('server reflection (v1 and v1alpha) lists all five services', async () => {
  for (const version of ['v1', 'v1alpha'] as const) {
    const names = await reflectionServices(server.address, version);
    for (const name of Object.values(SERVICE_NAMES))
      assert.ok(names.includes(name), `${version} lacks ${name}: ${names}`);
  }
});

test('a malformed request gets INVALID_ARGUMENT naming the field in a BadRequest violation', async () => {
  await rejectsWith(
    call(trainer.startRun.bind(trainer), { requestId: '', spec: undefined }),
    grpc.status.INVALID_ARGUMENT,
    'spec',
  );
  await rejectsWith(
    call(trainer.startRun.bind(trainer), { requestId: '', spec: { ...validSpec(), batchSize: -3 } }),
    grpc.status.INVALID_ARGUMENT,
    'spec.batch_size',
  );
  const space: hpo.SearchSpace = {
    parameters: [{ name: 'lr', domain: { $case: 'floatRange', value: { min: 1, max: 0.5, logScale: false } } }],
  };
  await rejectsWith(
    call(hpoClient.createStudy.bind(hpoClient), {
      requestId: '',
      spec: {
        ...hpo.StudySpec.fromPartial({ objective: 'loss', stepsPerFidelity: 1, maxFidelity: 1, totalBudget: 1 }),
        searchSpace: space,
      },
    }),
    grpc.status.INVALID_ARGUMENT,
    'spec.search_space.parameters[0].float_range.max',
  );
});

test('an unknown id gets NOT_FOUND', async () => {
  await rejectsWith(call(trainer.getRun.bind(trainer), { runId: 'run-does-not-exist' }), grpc.status.NOT_FOUND);
  await rejectsWith(
    call(trainer.cancelRun.bind(trainer), trainerV1.CancelRunRequest.fromPartial({ runId: 'run-does-not-exist' })),
    grpc.status.NOT_FOUND,
  );
  await rejectsWith(call(hpoClient.getStudy.bind(hpoClient), { studyId: 'study-nope' }), grpc.status.NOT_FOUND);
  await rejectsWith(collect(trainer.watchRun({ runId: 'run-nope', fromStep: 0 })), grpc.status.NOT_FOUND);
});

test('StartRun queues a run; a base model from an artifact that does not exist is NOT_FOUND', async () => {
  const { run } = await call(trainer.startRun.bind(trainer), {
    requestId: 'r1',
    spec: { ...validSpec(), budgetSteps: 2 },
  });
  assert.equal(run!.state, commonV1.RunState.RUN_STATE_QUEUED);
  const fromArtifact = { ...validSpec(), baseModel: { source: { $case: 'artifactId' as const, value: 'model-x' } } };
  const err = await rejectsWith(
    call(trainer.startRun.bind(trainer), { requestId: 'r2', spec: fromArtifact }),
    grpc.status.NOT_FOUND,
  );
  assert.match(err.details, /model-x/);
});

test('file: datasets outside the data roots are PERMISSION_DENIED; missing files NOT_FOUND', async () => {
  const profile = (uri: string) =>
    collect(
      profiler.profileDataset({
        dataset: { uri, split: 0, maxExamples: 0, targetColumn: '', ignoreColumns: [] },
        bins: 0,
      }),
    );
  const outside = await rejectsWith(profile('file:/etc/passwd'), grpc.status.PERMISSION_DENIED);
  assert.match(outside.details, /FLOE_DATA_ROOTS/, 'the message names the setting that widens it');
  await rejectsWith(profile('file:../../etc/passwd'), grpc.status.PERMISSION_DENIED);
  symlinkSync('/etc/passwd', join(dataRoot, 'escape.txt'));
  await rejectsWith(profile('file:escape.txt'), grpc.status.PERMISSION_DENIED);
  await rejectsWith(profile('file:missing.txt'), grpc.status.NOT_FOUND);
  await rejectsWith(profile('builtin:no-such-set'), grpc.status.NOT_FOUND);
  await rejectsWith(profile('ftp:x'), grpc.status.INVALID_ARGUMENT, 'dataset.uri');
});

test('studies: create (idempotent), suggest, report, list with paging, stop', async () => {
  const spec: hpo.StudySpec = {
    ...hpo.StudySpec.fromPartial({}),
    name: 'lr search',
    searchSpace: {
      parameters: [
        { name: 'lr', domain: { $case: 'floatRange', value: { min: 1e-4, max: 1e-1, logScale: true } } },
        { name: 'layers', domain: { $case: 'intRange', value: { min: 1, max: 4, logScale: false } } },
        { name: 'norm', domain: { $case: 'categorical', value: { choices: ['layer', 'rms'] } } },
      ],
    },
    objective: 'validation_loss',
    optimizer: hpo.Optimizer.OPTIMIZER_RANDOM,
    stepsPerFidelity: 10,
    maxFidelity: 3,
    totalBudget: 6,
    seed: 7,
  };
  const a = await call(hpoClient.createStudy.bind(hpoClient), { requestId: 'create-1', spec });
  const b = await call(hpoClient.createStudy.bind(hpoClient), { requestId: 'create-1', spec });
  assert.equal(a.study!.studyId, b.study!.studyId);
  const valid = await call(
    hpoClient.validateSearchSpace.bind(hpoClient),
    hpo.ValidateSearchSpaceRequest.fromPartial({ searchSpace: spec.searchSpace }),
  );
  assert.deepEqual([valid.valid, valid.encodedDimensions], [true, 3]);

  const s1 = await call(
    hpoClient.suggest.bind(hpoClient),
    hpo.SuggestRequest.fromPartial({ studyId: a.study!.studyId }),
  );
  assert.equal(s1.targetStep, 30);
  const lr = s1.trial!.configuration.find((p) => p.name === 'lr')!.value;
  assert.ok(lr?.$case === 'floatValue' && lr.value >= 1e-4 && lr.value <= 1e-1);
  await call(
    hpoClient.reportObservations.bind(hpoClient),
    hpo.ReportObservationsRequest.fromPartial({
      studyId: a.study!.studyId,
      trialId: s1.trial!.trialId,
      observations: [
        { step: 10, value: 2.5 },
        { step: 20, value: 2.1 },
      ],
    }),
  );
  await rejectsWith(
    call(
      hpoClient.reportObservations.bind(hpoClient),
      hpo.ReportObservationsRequest.fromPartial({
        studyId: a.study!.studyId,
        trialId: s1.trial!.trialId,
        observations: [{ step: 5, value: 2 }],
      }),
    ),
    grpc.status.INVALID_ARGUMENT,
    'observations[0].step',
  );
  await call(hpoClient.suggest.bind(hpoClient), hpo.SuggestRequest.fromPartial({ studyId: a.study!.studyId }));
  await rejectsWith(
    call(hpoClient.suggest.bind(hpoClient), hpo.SuggestRequest.fromPartial({ studyId: a.study!.studyId })),
    grpc.status.FAILED_PRECONDITION,
  );
  const got = await call(hpoClient.getStudy.bind(hpoClient), { studyId: a.study!.studyId });
  assert.equal(got.study!.bestValue, 2.1);
  assert.equal(got.study!.trials[0]!.observations.length, 2, 'the rejected report lost nothing and added nothing');

  await call(hpoClient.createStudy.bind(hpoClient), { requestId: 'create-2', spec });
  await call(hpoClient.createStudy.bind(hpoClient), { requestId: 'create-3', spec });
  const page1 = await call(hpoClient.listStudies.bind(hpoClient), { page: { pageSize: 2, pageToken: '' }, states: [] });
  assert.equal(page1.studies.length, 2);
  const page2 = await call(hpoClient.listStudies.bind(hpoClient), {
    page: { pageSize: 2, pageToken: page1.page!.nextPageToken },
    states: [],
  });
  assert.equal(page2.studies.length, 1);
  assert.equal(page2.page!.nextPageToken, '');
  await rejectsWith(
    call(hpoClient.listStudies.bind(hpoClient), { page: { pageSize: 2, pageToken: 'garbage' }, states: [] }),
    grpc.status.INVALID_ARGUMENT,
    'page.page_token',
  );

  const stopped = await call(
    hpoClient.stopStudy.bind(hpoClient),
    hpo.StopStudyRequest.fromPartial({ studyId: a.study!.studyId }),
  );
  assert.equal(stopped.study!.state, hpo.StudyState.STUDY_STATE_STOPPED);
  await rejectsWith(
    call(hpoClient.suggest.bind(hpoClient), hpo.SuggestRequest.fromPartial({ studyId: a.study!.studyId })),
    grpc.status.FAILED_PRECONDITION,
  );
});

/** Sends raw bytes to a method, bypassing the generated encoder. */
function rawCall(address: string, path: string, responseStream: boolean, bytes: Buffer): Promise<grpc.status> {
  const client = new grpc.Client(address, grpc.credentials.createInsecure());
  const id = (b: Buffer) => b;
  return new Promise((resolve) => {
    const done = (code: grpc.status) => {
      client.close();
      resolve(code);
    };
    if (responseStream) {
      const stream = client.makeServerStreamRequest(path, id, id, bytes, new grpc.Metadata(), {
        deadline: Date.now() + 10_000,
      });
      stream.on('data', () => {});
      stream.on('error', (e: grpc.ServiceError) => done(e.code));
      stream.on('end', () => done(grpc.status.OK));
    } else {
      client.makeUnaryRequest(path, id, id, bytes, new grpc.Metadata(), { deadline: Date.now() + 10_000 }, (err) =>
        done(err ? err.code : grpc.status.OK),
      );
    }
  });
}

const DEFINITIONS = [
  dataProfilerV1.DataProfilerServiceService,
  trainerV1.TrainerServiceService,
  hpo.HpoSurrogateServiceService,
  explainerV1.ExplainerServiceService,
  evaluatorV1.EvaluatorServiceService,
];

test('no request to any RPC gets UNKNOWN or INTERNAL, and the server keeps serving after hostile input', async () => {
  const rng = rngFor(1, 'fuzz');
  const hostile: Buffer[] = [Buffer.alloc(0)];
  // Field 1 as a 1 MB string, NaN doubles and huge varints in the first fields, unknown enum values.
  const big = Buffer.alloc(1 << 20, 0x61);
  hostile.push(Buffer.concat([Buffer.from([0x0a, 0x80, 0x80, 0x40]), big]));
  const nan = Buffer.alloc(8);
  nan.writeDoubleLE(NaN);
  for (let f = 1; f <= 17; f++) {
    hostile.push(Buffer.concat([Buffer.from([(f << 3) | 1]), nan]));
    hostile.push(Buffer.from([(f << 3) | 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]));
    hostile.push(Buffer.from([(f << 3) | 0, 0x63]));
  }
  // Deep nesting: 5,000 nested groups, and a length-delimited field nested 100 levels down.
  hostile.push(Buffer.concat([Buffer.alloc(5000, (99 << 3) | 3), Buffer.alloc(5000, (99 << 3) | 4)]));
  let nested = Buffer.from([0x08, 0x01]);
  for (let i = 0; i < 100; i++) nested = Buffer.concat([Buffer.from([0x12, ...varint(nested.length)]), nested]);
  hostile.push(nested);
  for (let i = 0; i < 20; i++) hostile.push(Buffer.from(Array.from({ length: 1 + rng.int(64) }, () => rng.int(256))));

  const seen = new Map<string, number>();
  for (const def of DEFINITIONS) {
    for (const m of Object.values(def)) {
      for (const bytes of hostile) {
        const code = await rawCall(server.address, m.path, m.responseStream, bytes);
        assert.ok(
          code !== grpc.status.UNKNOWN && code !== grpc.status.INTERNAL,
          `${m.path} answered ${grpc.status[code]} to ${bytes.length} bytes`,
        );
        seen.set(grpc.status[code]!, (seen.get(grpc.status[code]!) ?? 0) + 1);
      }
    }
  }
  assert.ok(seen.has('INVALID_ARGUMENT'));
  assert.equal(await healthStatus(server.address, ''), 'SERVING');
  await rejectsWith(call(trainer.getRun.bind(trainer), { runId: 'still-serving' }), grpc.status.NOT_FOUND);
});

function varint(n: number): number[] {
  const out: number[] = [];
  while (n > 127) {
    out.push((n & 127) | 128);
    n >>>= 7;
  }
  out.push(n);
  return out;
}

test('health flips to NOT_SERVING during shutdown', async () => {
  const other = tempDir();
  const config = testConfig(other.path);
  const s = await startTestServer(composeServices(SERVICES, { config, log: quietLog }), config);
  const client = healthClient(s.address);
  const statuses: string[] = [];
  const stream = client.watch({ service: SERVICE_NAMES.trainer });
  const sawNotServing = new Promise<void>((resolve) =>
    stream.on('data', (m: { status: string }) => {
      statuses.push(String(m.status));
      if (String(m.status) === 'NOT_SERVING') resolve();
    }),
  );
  stream.on('error', () => {});
  await new Promise((r) => setTimeout(r, 200));
  const stopping = s.shutdown('test');
  await sawNotServing;
  await stopping;
  client.close();
  other.remove();
  assert.deepEqual(statuses.slice(0, 2), ['SERVING', 'NOT_SERVING']);
});
