// Studies through a real server: ifBO (the default) suggests one fidelity step at a time — new trials at
// the first step, thawed ones exactly one step further — with its prediction and the candidates it
// scored; the same seed and reports give the same suggestions; PredictCurves answers quantiles, means and
// PI with its context size; GetStudy says which hyperparameters matter; initial configurations come first;
// bad input is refused naming the field and changes nothing; a stateful rule (Hyperband) continues its
// bracket across a restart of the server.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { commonV1, hpoSurrogateV1 as hpo, trainerV1 } from '@floe/contracts';
import { call, createClient, type FloeServer } from '@floe/service-kit';
import { quietLog, rejectsWith, startTestServer, tempDir, testConfig } from '@floe/testing';
import { createHpoSurrogateService } from '../src/index.js';

const home = tempDir();
let server: FloeServer;
let client: hpo.HpoSurrogateServiceClient;

async function start(): Promise<void> {
  const config = testConfig(home.path);
  server = await startTestServer([createHpoSurrogateService({ config, log: quietLog })], config);
  client = createClient(hpo.HpoSurrogateServiceClient, server.address);
}

before(start);
after(async () => {
  client.close();
  await server.shutdown();
  home.remove();
});

const SPF = 10;
const MAX_FIDELITY = 8;
const spec = (over: Partial<hpo.StudySpec> = {}): hpo.StudySpec =>
  hpo.StudySpec.fromPartial({
    name: 'synthetic',
    searchSpace: {
      parameters: [
        { name: 'lr', domain: { $case: 'floatRange', value: { min: 1e-4, max: 1, logScale: true } } },
        { name: 'width', domain: { $case: 'intRange', value: { min: 1, max: 8, logScale: false } } },
      ],
    },
    objective: 'validation_loss',
    stepsPerFidelity: SPF,
    maxFidelity: MAX_FIDELITY,
    totalBudget: 40,
    seed: 5,
    ...over,
  });

/** A synthetic validation loss: best near lr = 1e-2, decreasing in steps. */
function loss(config: hpo.ParameterValue[], step: number): number {
  const lr = config.find((p) => p.name === 'lr')!.value!.value as number;
  const q = 0.3 + 0.1 * Math.abs(Math.log10(lr) + 2);
  return q + 0.5 / (1 + step / SPF);
}

const suggest = (studyId: string) => call(client.suggest.bind(client), hpo.SuggestRequest.fromPartial({ studyId }));
const report = (studyId: string, trialId: string, observations: hpo.Observation[]) =>
  call(
    client.reportObservations.bind(client),
    hpo.ReportObservationsRequest.fromPartial({ studyId, trialId, observations }),
  );
const getStudy = async (studyId: string) => (await call(client.getStudy.bind(client), { studyId })).study!;

/** Suggest → report the target step → …, n times; the answers. */
async function drive(studyId: string, n: number): Promise<hpo.SuggestResponse[]> {
  const out: hpo.SuggestResponse[] = [];
  for (let i = 0; i < n; i++) {
    const s = await suggest(studyId);
    out.push(s);
    await report(studyId, s.trial!.trialId, [
      { step: s.targetStep, value: loss(s.trial!.configuration, s.targetStep) },
    ]);
  }
  return out;
}

test(
  'ifBO thaws one fidelity step at a time, with its prediction, context size and candidates scored',
  { timeout: 120_000 },
  async () => {
    const { study } = await call(client.createStudy.bind(client), { requestId: '', spec: spec() });
    const answers = await drive(study!.studyId, 16);
    const reached = new Map<string, number>();
    answers.forEach((a, i) => {
      const before = reached.get(a.trial!.trialId) ?? 0;
      assert.equal(a.isNew, before === 0);
      assert.equal(a.targetStep, before + SPF, 'exactly one fidelity step further');
      reached.set(a.trial!.trialId, a.targetStep);
      if (i === 0) return; // the initial design: one random configuration
      const observed = [...reached.values()].reduce((s, v) => s + v / SPF, 0) - SPF / SPF;
      assert.equal(a.contextSize, observed, 'every observed point is in the context');
      assert.ok(a.candidatesScored >= 256, `${a.candidatesScored} candidates`);
      const p = a.prediction!;
      assert.ok(p.q05 <= p.mean + 1e-9 && p.mean <= p.q95 + 1e-9, `q05 ${p.q05} ≤ mean ${p.mean} ≤ q95 ${p.q95}`);
      assert.ok(a.acquisition >= 0 && a.acquisition <= 1);
    });
    assert.ok(
      [...reached.values()].some((v) => v > SPF),
      'some trial was thawed',
    );
    const s = await getStudy(study!.studyId);
    assert.equal(s.budgetUsed, 16);
    const best = Math.min(...s.trials.flatMap((t) => t.observations.map((o) => o.value)));
    assert.equal(s.bestValue, best);
  },
);

test(
  'a parameter on a log(1 − x) scale is drawn inside its range and comes back as declared',
  { timeout: 60_000 },
  async () => {
    const beta2 = {
      name: 'beta2',
      domain: { $case: 'floatRange' as const, value: { min: 0.9, max: 0.9999, logScale: false, logOneMinus: true } },
    };
    const withBeta = spec({
      optimizer: hpo.Optimizer.OPTIMIZER_SUCCESSIVE_HALVING,
      searchSpace: { parameters: [...spec().searchSpace!.parameters, beta2] },
    });
    const { study } = await call(client.createStudy.bind(client), { requestId: '', spec: withBeta });
    const answers = await drive(study!.studyId, 9);
    const drawn = answers
      .filter((a) => a.isNew)
      .map((a) => a.trial!.configuration.find((p) => p.name === 'beta2')!.value!.value as number);
    assert.ok(drawn.length >= 5, `${drawn.length} new trials`);
    for (const x of drawn) assert.ok(x >= 0.9 && x <= 0.9999, `beta2 ${x}`);
    // Above 0.99 lie two of the scale's three decades, but a tenth of the range on a linear scale.
    assert.ok(
      drawn.filter((x) => x > 0.99).length >= drawn.length / 3,
      `drawn on a log(1 − x) scale: ${drawn.join(', ')}`,
    );
    const stored = (await getStudy(study!.studyId)).spec!.searchSpace!.parameters[2]!.domain;
    assert.deepEqual(stored, beta2.domain);
  },
);

test(
  "a search space wider than the surrogate's ten inputs is searched, stored and predicted",
  { timeout: 120_000 },
  async () => {
    // Fourteen hyperparameters: lr decides the loss; the rest (floats and categoricals) do nothing.
    const extra = Array.from({ length: 12 }, (_, i) =>
      i % 3 === 0
        ? { name: `choice${i}`, domain: { $case: 'categorical' as const, value: { choices: ['a', 'b', 'c'] } } }
        : { name: `x${i}`, domain: { $case: 'floatRange' as const, value: { min: 0, max: 1, logScale: false } } },
    );
    const wide = spec({ searchSpace: { parameters: [...spec().searchSpace!.parameters, ...extra] } });
    const { study } = await call(client.createStudy.bind(client), { requestId: '', spec: wide });
    const answers = await drive(study!.studyId, 14);
    for (const a of answers) assert.equal(a.trial!.configuration.length, 14);
    assert.ok(
      answers.some((a) => !a.isNew),
      'some trial was thawed',
    );
    const s = await getStudy(study!.studyId);
    assert.equal(s.budgetUsed, 14);
    const r = await call(client.predictCurves.bind(client), {
      studyId: study!.studyId,
      queries: [{ trialId: s.trials[0]!.trialId, configuration: [], observed: [], steps: [MAX_FIDELITY * SPF] }],
    });
    const p = r.predictions[0]!.points[0]!;
    assert.ok(Number.isFinite(p.mean) && p.q05 <= p.mean + 1e-9 && p.mean <= p.q95 + 1e-9);
    // Every parameter reaches the decision rules as its own coordinate: two configurations that differ by
    // swapping x1 and x11 (the 4th and 14th parameters, which a fold into ten inputs would average into one)
    // are predicted differently.
    const base = s.trials[0]!.configuration;
    const withValues = (x1: number, x11: number) =>
      base.map((v) =>
        v.name === 'x1' || v.name === 'x11'
          ? { name: v.name, value: { $case: 'floatValue' as const, value: v.name === 'x1' ? x1 : x11 } }
          : v,
      );
    const predicted = await call(client.predictCurves.bind(client), {
      studyId: study!.studyId,
      queries: [
        { trialId: '', configuration: withValues(0.1, 0.9), observed: [], steps: [MAX_FIDELITY * SPF] },
        { trialId: '', configuration: withValues(0.9, 0.1), observed: [], steps: [MAX_FIDELITY * SPF] },
      ],
    });
    const [a, b] = predicted.predictions.map((q) => q.points[0]!.mean);
    assert.notEqual(a, b, 'the swap changed the prediction');
  },
);

test('GetStudy says which hyperparameters matter: lr, among four that do nothing; the same for a maximised objective', async () => {
  const noise = Array.from({ length: 4 }, (_, i) => ({
    name: `noise${i}`,
    domain: { $case: 'floatRange' as const, value: { min: 0, max: 1, logScale: false } },
  }));
  const space = { parameters: [...spec().searchSpace!.parameters, ...noise] };
  const importances = async (direction: hpo.Direction, trials: number) => {
    const over = { searchSpace: space, optimizer: hpo.Optimizer.OPTIMIZER_RANDOM, direction, totalBudget: 1000 };
    const { study } = await call(client.createStudy.bind(client), { requestId: '', spec: spec(over) });
    const sign = direction === hpo.Direction.DIRECTION_MAXIMIZE ? -1 : 1;
    for (let i = 0; i < trials; i++) {
      const s = await suggest(study!.studyId);
      await report(study!.studyId, s.trial!.trialId, [
        { step: s.targetStep, value: sign * loss(s.trial!.configuration, s.targetStep) },
      ]);
    }
    return (await call(client.getStudy.bind(client), { studyId: study!.studyId })).parameterImportances!;
  };
  const few = await importances(hpo.Direction.DIRECTION_MINIMIZE, 5);
  assert.deepEqual([few.trials, few.parameters], [5, []], 'below 8 trials nothing is claimed');

  const found = await importances(hpo.Direction.DIRECTION_MINIMIZE, 24);
  assert.equal(found.trials, 24);
  assert.deepEqual(
    found.parameters.map((p) => p.name),
    ['lr', 'width', 'noise0', 'noise1', 'noise2', 'noise3'],
  );
  const lr = found.parameters[0]!;
  assert.equal(lr.selectionRank, 1);
  assert.ok(lr.importance > 0.5 && lr.correlationAlone > 0.6, JSON.stringify(found));
  assert.ok(found.fit > 0.6, `fit ${found.fit}`);
  assert.ok(Math.abs(found.parameters.reduce((a, p) => a + p.importance, 0) - 1) < 1e-9);
  // The same trials maximising −loss: the same answer.
  assert.deepEqual(await importances(hpo.Direction.DIRECTION_MAXIMIZE, 24), found);
});

test('initial configurations: the first new trials take them in order, under every rule; then the rule samples', async () => {
  const value = (lr: number, width: number): hpo.ParameterValue[] => [
    { name: 'width', value: { $case: 'intValue', value: width } },
    { name: 'lr', value: { $case: 'floatValue', value: lr } },
  ];
  const initial = [{ values: value(3e-3, 4) }, { values: value(0.2, 1) }, { values: value(1e-4, 8) }];
  const asPairs = (c: hpo.ParameterValue[]) => Object.fromEntries(c.map((p) => [p.name, p.value!.value]));
  for (const optimizer of [
    hpo.Optimizer.OPTIMIZER_FREEZE_THAW,
    hpo.Optimizer.OPTIMIZER_RANDOM,
    hpo.Optimizer.OPTIMIZER_HYPERBAND,
  ]) {
    const { study } = await call(client.createStudy.bind(client), {
      requestId: '',
      spec: spec({ optimizer, initialConfigurations: initial, totalBudget: 200 }),
    });
    const started = (await drive(study!.studyId, 12)).filter((a) => a.isNew).map((a) => a.trial!);
    assert.ok(started.length > initial.length, `${started.length} new trials`);
    assert.deepEqual(
      started.slice(0, 3).map((t) => asPairs(t.configuration)),
      initial.map((c) => asPairs(c.values)),
      hpo.optimizerToJSON(optimizer),
    );
    // Stored in the space's order, with the space's kinds; what comes after is the rule's own.
    assert.deepEqual(
      started[0]!.configuration.map((p) => p.name),
      ['lr', 'width'],
    );
    assert.ok(
      !initial.some((c) => JSON.stringify(asPairs(c.values)) === JSON.stringify(asPairs(started[3]!.configuration))),
    );
  }
  // Refused naming the field: out of its range, an unknown parameter, beside candidates, more than 100, twice.
  const bad = async (over: Partial<hpo.StudySpec>, field: string) =>
    rejectsWith(
      call(client.createStudy.bind(client), { requestId: '', spec: spec(over) }),
      grpc.status.INVALID_ARGUMENT,
      field,
    );
  await bad({ initialConfigurations: [initial[0]!, { values: value(3, 2) }] }, 'spec.initial_configurations[1].values');
  await bad(
    {
      initialConfigurations: [
        { values: [...value(0.01, 2), { name: 'depth', value: { $case: 'intValue', value: 2 } }] },
      ],
    },
    'spec.initial_configurations[0].values',
  );
  await bad(
    {
      initialConfigurations: initial,
      candidates: [{ configuration: value(0.01, 2), runSpec: Buffer.alloc(0), label: '', baseline: false }],
    },
    'spec.initial_configurations',
  );
  await bad({ initialConfigurations: Array.from({ length: 101 }, () => initial[0]!) }, 'spec.initial_configurations');
  // The same configuration twice (its values in another order) would train one run twice.
  const repeated = await bad(
    { initialConfigurations: [...initial, { values: [...value(3e-3, 4)].reverse() }] },
    'spec.initial_configurations[3].values',
  );
  assert.match(repeated.details, /repeats spec\.initial_configurations\[0\]/);
  await bad(
    { initialConfigurations: [{ values: [...value(0.01, 2), ...value(0.02, 2)] }] },
    'spec.initial_configurations[0].values[2].name',
  );
});

test('the same seed and the same reports give the same suggestions', { timeout: 120_000 }, async () => {
  const a = (await call(client.createStudy.bind(client), { requestId: '', spec: spec({ seed: 11 }) })).study!;
  const b = (await call(client.createStudy.bind(client), { requestId: '', spec: spec({ seed: 11 }) })).study!;
  const ra = await drive(a.studyId, 6);
  const rb = await drive(b.studyId, 6);
  assert.deepEqual(
    ra.map((r) => [r.trial!.trialId, r.targetStep, r.trial!.configuration]),
    rb.map((r) => [r.trial!.trialId, r.targetStep, r.trial!.configuration]),
  );
});

test(
  'PredictCurves: quantiles, mean and PI per step, for trials and for new configurations',
  { timeout: 120_000 },
  async () => {
    const { study } = await call(client.createStudy.bind(client), { requestId: '', spec: spec({ seed: 2 }) });
    const answers = await drive(study!.studyId, 5);
    const trialId = answers[0]!.trial!.trialId;
    const r = await call(client.predictCurves.bind(client), {
      studyId: study!.studyId,
      queries: [
        { trialId, configuration: [], observed: [], steps: [20, 40, 80] },
        {
          trialId: '',
          configuration: [
            { name: 'lr', value: { $case: 'floatValue', value: 0.01 } },
            { name: 'width', value: { $case: 'intValue', value: 3 } },
          ],
          observed: [{ step: 10, value: 0.55 }],
          steps: [80],
        },
      ],
    });
    assert.equal(r.predictions.length, 2);
    assert.deepEqual(
      r.predictions[0]!.points.map((p) => p.step),
      [20, 40, 80],
    );
    const s = await getStudy(study!.studyId);
    const observedPoints = s.trials.reduce((n, t) => n + Math.floor(t.observations.at(-1)!.step / SPF), 0);
    assert.equal(r.contextSize, observedPoints + 1, "the study's points and the query's own");
    for (const p of r.predictions.flatMap((x) => x.points)) {
      assert.ok(p.q05 <= p.mean + 1e-9 && p.mean <= p.q95 + 1e-9);
      assert.ok(p.probabilityOfImprovement >= 0 && p.probabilityOfImprovement <= 1);
    }
    await rejectsWith(
      call(client.predictCurves.bind(client), {
        studyId: study!.studyId,
        queries: [{ trialId: 'trial-99', configuration: [], observed: [], steps: [10] }],
      }),
      grpc.status.NOT_FOUND,
    );
    await rejectsWith(
      call(client.predictCurves.bind(client), {
        studyId: study!.studyId,
        queries: [{ trialId, configuration: [], observed: [], steps: [81] }],
      }),
      grpc.status.INVALID_ARGUMENT,
      'queries[0].steps[0]',
    );
    await rejectsWith(
      call(client.predictCurves.bind(client), {
        studyId: study!.studyId,
        queries: [
          {
            trialId: '',
            configuration: [{ name: 'momentum', value: { $case: 'floatValue', value: 0.9 } }],
            observed: [],
            steps: [10],
          },
        ],
      }),
      grpc.status.INVALID_ARGUMENT,
      'queries[0].configuration',
    );
    // A parameter given twice is refused too (one of the two would silently win).
    const lrTwice = [0.01, 0.02].map((v) => ({ name: 'lr', value: { $case: 'floatValue' as const, value: v } }));
    await rejectsWith(
      call(client.predictCurves.bind(client), {
        studyId: study!.studyId,
        queries: [{ trialId: '', configuration: lrTwice, observed: [], steps: [10] }],
      }),
      grpc.status.INVALID_ARGUMENT,
      'queries[0].configuration[1].name',
    );
  },
);

test('bad input is refused naming the field, and nothing stored changes', { timeout: 60_000 }, async () => {
  const range = (min: number, max: number, logScale = false) =>
    spec({
      searchSpace: { parameters: [{ name: 'lr', domain: { $case: 'floatRange', value: { min, max, logScale } } }] },
    });
  await rejectsWith(
    call(client.createStudy.bind(client), { requestId: '', spec: range(1, 1) }),
    grpc.status.INVALID_ARGUMENT,
    'spec.search_space.parameters[0].float_range.max',
  );
  await rejectsWith(
    call(client.createStudy.bind(client), { requestId: '', spec: range(2, 1) }),
    grpc.status.INVALID_ARGUMENT,
    'spec.search_space.parameters[0].float_range.max',
  );
  await rejectsWith(
    call(client.createStudy.bind(client), { requestId: '', spec: range(0, 1, true) }),
    grpc.status.INVALID_ARGUMENT,
    'spec.search_space.parameters[0].float_range.min',
  );
  const betaUpTo = (max: number) =>
    spec({
      searchSpace: {
        parameters: [
          {
            name: 'beta2',
            domain: { $case: 'floatRange', value: { min: 0.9, max, logScale: false, logOneMinus: true } },
          },
        ],
      },
    });
  await rejectsWith(
    call(client.createStudy.bind(client), { requestId: '', spec: betaUpTo(1) }),
    grpc.status.INVALID_ARGUMENT,
    'spec.search_space.parameters[0].float_range.max',
  );
  await rejectsWith(
    call(client.createStudy.bind(client), { requestId: '', spec: spec({ searchSpace: { parameters: [] } }) }),
    grpc.status.INVALID_ARGUMENT,
    'spec.search_space.parameters',
  );
  const { study } = await call(client.createStudy.bind(client), { requestId: '', spec: spec() });
  const [first] = await drive(study!.studyId, 2);
  const before = await getStudy(study!.studyId);
  const trialId = first!.trial!.trialId;
  await rejectsWith(report(study!.studyId, 'trial-404', [{ step: 20, value: 1 }]), grpc.status.NOT_FOUND);
  await rejectsWith(
    report(study!.studyId, trialId, [{ step: 90, value: NaN }]),
    grpc.status.INVALID_ARGUMENT,
    'observations[0].value',
  );
  await rejectsWith(
    report(study!.studyId, trialId, [{ step: 90, value: Infinity }]),
    grpc.status.INVALID_ARGUMENT,
    'observations[0].value',
  );
  const last = before.trials.find((t) => t.trialId === trialId)!.observations.at(-1)!.step;
  await rejectsWith(
    report(study!.studyId, trialId, [{ step: last, value: 0.5 }]),
    grpc.status.INVALID_ARGUMENT,
    'observations[0].step',
  );
  await rejectsWith(
    report(study!.studyId, trialId, [
      { step: last + 2, value: 0.5 },
      { step: last + 1, value: 0.5 },
    ]),
    grpc.status.INVALID_ARGUMENT,
    'observations[1].step',
  );
  await rejectsWith(
    call(client.createStudy.bind(client), {
      requestId: '',
      spec: spec({ runTemplate: Buffer.from([0xff, 0xff, 0xff]) }),
    }),
    grpc.status.INVALID_ARGUMENT,
    'spec.run_template',
  );
  assert.deepEqual(await getStudy(study!.studyId), before);
});

test('a run template refuses parameter values its fields cannot hold; fitting ones create the study', async () => {
  const template = Buffer.from(
    trainerV1.RunSpec.encode(
      trainerV1.RunSpec.fromPartial({
        optimizer: { kind: trainerV1.OptimizerKind.OPTIMIZER_KIND_ADAMW },
        batchSize: 8,
      }),
    ).finish(),
  );
  const withSpace = (parameters: hpo.Parameter[]) => spec({ runTemplate: template, searchSpace: { parameters } });
  const create = (parameters: hpo.Parameter[]) =>
    call(client.createStudy.bind(client), { requestId: '', spec: withSpace(parameters) });
  const lr: hpo.Parameter = {
    name: 'optimizer.learning_rate',
    domain: { $case: 'floatRange', value: { min: 1e-4, max: 1e-1, logScale: true } },
  };
  // An enum field takes its values' names; "adamw" is none of them (it would reach the trainer as UNRECOGNIZED).
  const kinds = (choices: string[]): hpo.Parameter => ({
    name: 'optimizer.kind',
    domain: { $case: 'categorical', value: { choices } },
  });
  const wrongName = await rejectsWith(
    create([lr, kinds(['OPTIMIZER_KIND_ADAMW', 'adamw'])]),
    grpc.status.INVALID_ARGUMENT,
    'spec.search_space.parameters[1].categorical.choices',
  );
  assert.match(wrongName.details, /"adamw" does not fit RunSpec field optimizer.kind: it reads back as "UNRECOGNIZED"/);
  // An integer field holds no fraction: a float range on batch_size is refused, at a fractional end or, with
  // integer ends, for the fractions between them (a trial's run would not encode).
  await rejectsWith(
    create([
      lr,
      { name: 'batch_size', domain: { $case: 'floatRange', value: { min: 2, max: 16.5, logScale: false } } },
    ]),
    grpc.status.INVALID_ARGUMENT,
    'spec.search_space.parameters[1].float_range.max',
  );
  const between = await rejectsWith(
    create([{ name: 'batch_size', domain: { $case: 'floatRange', value: { min: 2, max: 16, logScale: false } } }, lr]),
    grpc.status.INVALID_ARGUMENT,
    'spec.search_space.parameters[0].float_range',
  );
  assert.match(between.details, /does not fit RunSpec field batch_size/);
  const fits = await create([
    lr,
    kinds(['OPTIMIZER_KIND_ADAMW', 'OPTIMIZER_KIND_SGD']),
    { name: 'batch_size', domain: { $case: 'intRange', value: { min: 2, max: 16, logScale: true } } },
    { name: 'optimizer.weight_decay', domain: { $case: 'floatRange', value: { min: 0, max: 0.1, logScale: false } } },
  ]);
  assert.ok(fits.study!.studyId);
});

test(
  'Hyperband keeps its bracket across a restart of the server: the same suggestions as without one',
  { timeout: 120_000 },
  async () => {
    const hb = spec({ optimizer: hpo.Optimizer.OPTIMIZER_HYPERBAND, seed: 21, maxFidelity: 9, totalBudget: 200 });
    const a = (await call(client.createStudy.bind(client), { requestId: '', spec: hb })).study!;
    const b = (await call(client.createStudy.bind(client), { requestId: '', spec: hb })).study!;
    const straight = await drive(a.studyId, 30);
    // Its first bracket (R = 9, η = 3, s = 2): 9 new trials at 1 step, the best 3 to 3 steps, the best one to 9.
    const news = straight.slice(0, 9);
    assert.ok(news.every((r) => r.isNew && r.targetStep === SPF));
    const toThree = straight.slice(9, 15);
    assert.equal(new Set(toThree.map((r) => r.trial!.trialId)).size, 3);
    assert.ok(toThree.every((r) => !r.isNew && r.targetStep <= 3 * SPF));
    assert.equal(Math.max(...straight.slice(15, 21).map((r) => r.targetStep)), 9 * SPF);
    const firstHalf = await drive(b.studyId, 14);
    client.close();
    await server.shutdown();
    await start();
    const secondHalf = await drive(b.studyId, 16);
    assert.deepEqual(
      [...firstHalf, ...secondHalf].map((r) => [r.trial!.trialId, r.targetStep]),
      straight.map((r) => [r.trial!.trialId, r.targetStep]),
    );
  },
);

test('ValidateSearchSpace checks ranges, log scales, categoricals and the fidelity without creating anything', async () => {
  const before = (await call(client.listStudies.bind(client), { page: { pageSize: 1000, pageToken: '' }, states: [] }))
    .studies.length;
  const ok = await call(client.validateSearchSpace.bind(client), {
    searchSpace: spec().searchSpace,
    stepsPerFidelity: 10,
    maxFidelity: 5,
  });
  assert.deepEqual([ok.valid, ok.encodedDimensions, ok.problems], [true, 2, []]);
  const bad = await call(client.validateSearchSpace.bind(client), {
    searchSpace: {
      parameters: [
        { name: 'lr', domain: { $case: 'floatRange', value: { min: -1, max: 1, logScale: true } } },
        { name: 'depth', domain: { $case: 'intRange', value: { min: 4, max: 2, logScale: false } } },
        { name: 'norm', domain: { $case: 'categorical', value: { choices: ['a', 'a'] } } },
      ],
    },
    stepsPerFidelity: -3,
    maxFidelity: 2_000_000,
  });
  assert.equal(bad.valid, false);
  assert.deepEqual(bad.problems.map((p) => p.field).sort(), [
    'max_fidelity',
    'search_space.parameters[0].float_range.min',
    'search_space.parameters[1].int_range.max',
    'search_space.parameters[2].categorical.choices',
    'steps_per_fidelity',
  ]);
  const after = (await call(client.listStudies.bind(client), { page: { pageSize: 1000, pageToken: '' }, states: [] }))
    .studies.length;
  assert.equal(after, before);
});

test('a maximised score with its bound decides as the minimised loss 1 − score; past the bound is refused', async () => {
  /** A synthetic accuracy: best near lr = 1e-2, rising with steps. */
  const accuracy = (config: hpo.ParameterValue[], step: number) => {
    const lr = config.find((p) => p.name === 'lr')!.value!.value as number;
    return 0.9 - 0.1 * Math.abs(Math.log10(lr) + 2) - 0.3 / (1 + step / SPF);
  };
  const decisions = async (over: Partial<hpo.StudySpec>, value: (acc: number) => number) => {
    const { study } = await call(client.createStudy.bind(client), { requestId: '', spec: spec(over) });
    const out: string[] = [];
    for (let i = 0; i < 30; i++) {
      const s = await suggest(study!.studyId);
      out.push(`${s.trial!.trialId}@${s.targetStep}`);
      const acc = accuracy(s.trial!.configuration, s.targetStep);
      await report(study!.studyId, s.trial!.trialId, [{ step: s.targetStep, value: value(acc) }]);
    }
    return { out, studyId: study!.studyId };
  };
  const maximise = hpo.Direction.DIRECTION_MAXIMIZE;
  const loss = await decisions({}, (acc) => 1 - acc);
  const bounded = await decisions({ direction: maximise, bestPossibleValue: 1 }, (acc) => acc);
  assert.deepEqual(bounded.out, loss.out, 'accuracy bounded by 1 is searched as the loss 1 − accuracy');
  // Without the bound a maximised score that never exceeds 1 is taken to be bounded by 1.
  const implied = await decisions({ direction: maximise }, (acc) => acc);
  assert.deepEqual(implied.out, loss.out);
  // A maximised score that stays at or below 0 (−loss, shifted) is bounded by 0, as a loss by 0.
  const belowZero = await decisions({ direction: maximise }, (acc) => acc - 1);
  assert.deepEqual(belowZero.out, loss.out, 'the score acc − 1 is searched as the loss 1 − acc');
  // A score past 1 has no implied bound: its scale is guessed from the values (the decisions may differ).
  const unbounded = await decisions({ direction: maximise }, (acc) => 100 * acc);
  assert.equal(unbounded.out.length, 30);

  await rejectsWith(
    call(client.createStudy.bind(client), { requestId: '', spec: spec({ bestPossibleValue: NaN }) }),
    grpc.status.INVALID_ARGUMENT,
    'spec.best_possible_value',
  );
  const before = await getStudy(bounded.studyId);
  const trial = before.trials[0]!;
  const next = (trial.observations.at(-1)?.step ?? 0) + 1;
  await rejectsWith(
    report(bounded.studyId, trial.trialId, [
      { step: next, value: 0.95 },
      { step: next + 1, value: 1.02 },
    ]),
    grpc.status.INVALID_ARGUMENT,
    'observations[1].value',
  );
  assert.deepEqual(await getStudy(bounded.studyId), before, 'nothing stored changes');
  await rejectsWith(
    call(client.predictCurves.bind(client), {
      studyId: bounded.studyId,
      queries: [
        {
          trialId: '',
          configuration: trial.configuration,
          observed: [{ step: SPF, value: 1.5 }],
          steps: [2 * SPF],
        },
      ],
    }),
    grpc.status.INVALID_ARGUMENT,
    'queries[0].observed[0].value',
  );
});

test('an int and categorical space: no configuration is started twice, under every rule; a tried-out space ends', async () => {
  const discrete = (size: number): hpo.SearchSpace => ({
    parameters: [
      { name: 'batch', domain: { $case: 'intRange', value: { min: 1, max: size, logScale: size > 2 } } },
      { name: 'opt', domain: { $case: 'categorical', value: { choices: ['adam', 'sgd'] } } },
    ],
  });
  const key = (t: hpo.Trial) => JSON.stringify(t.configuration.map((p) => p.value!.value));
  // A discrete loss: batch 3 with adam is best.
  const lossOf = (t: hpo.Trial, step: number) => {
    const [batch, opt] = t.configuration.map((p) => p.value!.value) as [number, string];
    return 0.3 + 0.05 * Math.abs(batch - 3) + (opt === 'adam' ? 0 : 0.1) + 0.5 / (1 + step / SPF);
  };
  for (const optimizer of [
    hpo.Optimizer.OPTIMIZER_FREEZE_THAW,
    hpo.Optimizer.OPTIMIZER_RANDOM,
    hpo.Optimizer.OPTIMIZER_HYPERBAND,
    hpo.Optimizer.OPTIMIZER_ASHA,
  ]) {
    // 64 configurations, 40 steps of budget: every new trial takes one no trial has taken.
    const { study } = await call(client.createStudy.bind(client), {
      requestId: '',
      spec: spec({ searchSpace: discrete(32), optimizer, maxFidelity: 3, totalBudget: 40 }),
    });
    for (let i = 0; i < 40 && (await getStudy(study!.studyId)).budgetUsed < 40; i++) {
      const s = await suggest(study!.studyId);
      await report(study!.studyId, s.trial!.trialId, [{ step: s.targetStep, value: lossOf(s.trial!, s.targetStep) }]);
    }
    const trials = (await getStudy(study!.studyId)).trials;
    const name = hpo.optimizerToJSON(optimizer);
    assert.ok(trials.length >= 8, `${name}: ${trials.length} trials`);
    assert.equal(new Set(trials.map(key)).size, trials.length, `${name} started a configuration twice`);
  }
  // Four configurations of three steps each: twelve steps train them all; then the study says so.
  const { study } = await call(client.createStudy.bind(client), {
    requestId: '',
    spec: spec({ searchSpace: discrete(2), maxFidelity: 3, totalBudget: 100 }),
  });
  for (let i = 0; i < 12; i++) {
    const s = await suggest(study!.studyId);
    await report(study!.studyId, s.trial!.trialId, [{ step: s.targetStep, value: lossOf(s.trial!, s.targetStep) }]);
  }
  const done = await getStudy(study!.studyId);
  assert.equal(done.trials.length, 4);
  assert.ok(done.trials.every((t) => t.observations.length === 3));
  const exhausted = await rejectsWith(suggest(study!.studyId), grpc.status.FAILED_PRECONDITION);
  assert.match(exhausted.details, /every configuration of its search space/);
  // Two configurations both taken and still training: the refusal names them, not a finished study.
  const { study: small } = await call(client.createStudy.bind(client), {
    requestId: '',
    spec: spec({ searchSpace: discrete(1), maxFidelity: 3, totalBudget: 100 }),
  });
  const [first, second] = [await suggest(small!.studyId), await suggest(small!.studyId)];
  const busy = await rejectsWith(suggest(small!.studyId), grpc.status.FAILED_PRECONDITION);
  assert.match(busy.details, /trial-1, trial-2 are still pending: report their observations/);
  await report(small!.studyId, first.trial!.trialId, [{ step: first.targetStep, value: lossOf(first.trial!, 1) }]);
  const thawed = await suggest(small!.studyId);
  assert.deepEqual([thawed.isNew, thawed.trial!.trialId], [false, first.trial!.trialId]);
  assert.equal(second.isNew, true);
});

test('a finite search starts from its first candidate, tries each once, and ends when all have full curves', async () => {
  const candidates = [1e-2, 1e-3, 0.3, 1e-4].map((lr, i) => ({
    configuration: [
      { name: 'lr', value: { $case: 'floatValue' as const, value: lr } },
      { name: 'width', value: { $case: 'intValue' as const, value: i + 1 } },
    ],
    label: `lr ${lr}`,
    runSpec: Buffer.alloc(0),
    baseline: false,
  }));
  const MAX = 3;
  const { study } = await call(client.createStudy.bind(client), {
    requestId: '',
    spec: spec({ candidates, maxFidelity: MAX, totalBudget: 100 }),
  });
  const seen: number[] = [];
  for (let i = 0; i < candidates.length * MAX; i++) {
    const s = await suggest(study!.studyId);
    if (i === 0) assert.equal(s.trial!.candidate, 0, 'the first trial is the first candidate');
    if (s.isNew) seen.push(s.trial!.candidate!);
    const lr = candidates[s.trial!.candidate!]!.configuration[0]!.value!.value as number;
    assert.equal(s.trial!.configuration.find((p) => p.name === 'lr')!.value!.value, lr);
    await report(study!.studyId, s.trial!.trialId, [
      { step: s.targetStep, value: loss(s.trial!.configuration, s.targetStep) },
    ]);
  }
  assert.deepEqual([...seen].sort(), [0, 1, 2, 3], 'each candidate once');
  const done = await getStudy(study!.studyId);
  assert.equal(done.trials.length, 4);
  assert.ok(done.trials.every((t) => t.observations.length === MAX));
  const exhausted = await rejectsWith(suggest(study!.studyId), grpc.status.FAILED_PRECONDITION);
  assert.match(exhausted.details, /every candidate/);
  // A baseline gets its full curve at once; only the first candidate may be one.
  const withBaseline = candidates.map((c, i) => ({ ...c, baseline: i === 0 }));
  const { study: b } = await call(client.createStudy.bind(client), {
    requestId: '',
    spec: spec({ candidates: withBaseline, maxFidelity: MAX, totalBudget: 100 }),
  });
  const firstOfBaseline = await suggest(b!.studyId);
  assert.equal(firstOfBaseline.trial!.candidate, 0);
  assert.equal(firstOfBaseline.targetStep, MAX * SPF);
  assert.equal((await getStudy(b!.studyId)).budgetUsed, MAX, 'the baseline spends its full curve');
  const lateBaseline = withBaseline.map((c, i) => ({ ...c, baseline: i === 2 }));
  await rejectsWith(
    call(client.createStudy.bind(client), { requestId: '', spec: spec({ candidates: lateBaseline }) }),
    grpc.status.INVALID_ARGUMENT,
    'spec.candidates[2].baseline',
  );
  // A candidate outside the space is refused, naming it.
  const bad = structuredClone(candidates);
  bad[1]!.configuration[0]!.value!.value = 5;
  await rejectsWith(
    call(client.createStudy.bind(client), { requestId: '', spec: spec({ candidates: bad }) }),
    grpc.status.INVALID_ARGUMENT,
    'spec.candidates[1].configuration',
  );
  // A forgetting constraint on a maximised objective is refused.
  await rejectsWith(
    call(client.createStudy.bind(client), {
      requestId: '',
      spec: spec({
        direction: hpo.Direction.DIRECTION_MAXIMIZE,
        forgettingConstraint: { maxIncrease: 0.1, penalty: 0 },
      }),
    }),
    grpc.status.INVALID_ARGUMENT,
    'spec.forgetting_constraint',
  );
});

test(
  'a trial reported failed (its run diverged) ends FAILED: its points stay, it is never thawed, bad failures are refused',
  { timeout: 120_000 },
  async () => {
    const { study } = await call(client.createStudy.bind(client), {
      requestId: '',
      spec: spec({ totalBudget: 30 }),
    });
    const id = study!.studyId;
    const first = await suggest(id);
    const trialId = first.trial!.trialId;
    // Its first step is observed, then the run diverges on the way to the second.
    await report(id, trialId, [{ step: SPF, value: loss(first.trial!.configuration, SPF) }]);
    const second = await suggest(id);
    const failedId = second.trial!.trialId;
    const failure = 'its run failed: diverged: the validation loss is NaN at step 17';
    const longFailure = 'x'.repeat(1025);
    await rejectsWith(
      call(
        client.reportObservations.bind(client),
        hpo.ReportObservationsRequest.fromPartial({ studyId: id, trialId: failedId, failure: longFailure }),
      ),
      grpc.status.INVALID_ARGUMENT,
      'failure',
    );
    await rejectsWith(
      call(
        client.reportObservations.bind(client),
        hpo.ReportObservationsRequest.fromPartial({ studyId: id, trialId: failedId }),
      ),
      grpc.status.INVALID_ARGUMENT,
      'observations',
    );
    const { trial } = await call(
      client.reportObservations.bind(client),
      hpo.ReportObservationsRequest.fromPartial({ studyId: id, trialId: failedId, failure }),
    );
    assert.equal(trial!.state, commonV1.RunState.RUN_STATE_FAILED);
    assert.equal(trial!.error, failure);
    const before = await getStudy(id);
    // Nothing more is recorded for it, and the refusal changes nothing.
    const refused = await rejectsWith(
      report(id, failedId, [{ step: second.targetStep, value: 0.5 }]),
      grpc.status.FAILED_PRECONDITION,
    );
    assert.match(refused.details, /has failed \(its run failed: diverged/);
    assert.deepEqual(await getStudy(id), before);
    // The study goes on, and the failed trial is never suggested again.
    for (let i = 0; i < 20; i++) {
      const s = await suggest(id);
      assert.notEqual(s.trial!.trialId, failedId, 'a failed trial is never thawed');
      await report(id, s.trial!.trialId, [{ step: s.targetStep, value: loss(s.trial!.configuration, s.targetStep) }]);
    }
    const after = await getStudy(id);
    assert.equal(after.trials.find((t) => t.trialId === failedId)!.state, commonV1.RunState.RUN_STATE_FAILED);
    assert.equal(after.budgetUsed, 22, 'the failed step was spent');
  },
);

test('ResumeStudy: more budget for a spent study, a stopped one active again; a retry adds nothing twice', async () => {
  const { study } = await call(client.createStudy.bind(client), { requestId: '', spec: spec({ totalBudget: 4 }) });
  const id = study!.studyId;
  const first = await drive(id, 4);
  assert.match((await rejectsWith(suggest(id), grpc.status.FAILED_PRECONDITION)).details, /spent its budget/);
  const resume = (additionalBudget: number, requestId = '') =>
    call(client.resumeStudy.bind(client), { studyId: id, requestId, additionalBudget });
  // Nothing more to spend: refused naming the field, the study as it was.
  const spent = await rejectsWith(resume(0), grpc.status.INVALID_ARGUMENT, 'additional_budget');
  assert.match(spent.details, /spent 4 of its 4 fidelity steps; resuming it needs at least 1 more/);
  await rejectsWith(resume(-1), grpc.status.INVALID_ARGUMENT, 'additional_budget');
  assert.equal((await getStudy(id)).spec!.totalBudget, 4);
  await call(client.stopStudy.bind(client), { studyId: id, requestId: '' });
  assert.match((await rejectsWith(suggest(id), grpc.status.FAILED_PRECONDITION)).details, /STOPPED/);
  // Resumed with a request id, twice: one resumption.
  const a = await resume(3, 'more-please');
  const b = await resume(3, 'more-please');
  assert.deepEqual([a.replayed, b.replayed], [false, true]);
  const resumed = await getStudy(id);
  assert.deepEqual([resumed.state, resumed.spec!.totalBudget], [hpo.StudyState.STUDY_STATE_ACTIVE, 7]);
  // It goes on from its trials as they were: thawed ones one fidelity step past where they stopped.
  const reached = new Map<string, number>();
  for (const s of first) reached.set(s.trial!.trialId, s.targetStep);
  for (const s of await drive(id, 3)) {
    assert.equal(s.targetStep, (reached.get(s.trial!.trialId) ?? 0) + SPF);
    reached.set(s.trial!.trialId, s.targetStep);
  }
  assert.equal((await getStudy(id)).budgetUsed, 7);
  // An active study only gains budget; an unknown one is NOT_FOUND.
  assert.equal((await resume(2)).study!.spec!.totalBudget, 9);
  await rejectsWith(
    call(client.resumeStudy.bind(client), { studyId: 'study-none', requestId: '', additionalBudget: 1 }),
    grpc.status.NOT_FOUND,
  );
});
