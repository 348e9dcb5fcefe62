// Generate through real servers: a small language model trained by the trainer on a repeated sentence continues
// it greedily as the sentence goes; stop sequences end it; a seed gives the same sample again, top-1 sampling is
// greedy, and the pieces streamed make the whole. An untrained model's bytes are as unlikely as uniform noise.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { commonV1, evaluatorV1 as ev, trainerV1 } from '@floe/contracts';
import { call, collect, createClient, type FloeServer } from '@floe/service-kit';
import { quietLog, rejectsWith, startTestServer, tempDir, testConfig } from '@floe/testing';
import { createTrainerService } from '@floe/trainer';
import { createEvaluatorService } from '@floe/evaluator';
import { floeAt } from './fixtures/floe.js';

const home = tempDir();
let server: FloeServer;
let trainer: trainerV1.TrainerServiceClient;
let evaluator: ev.EvaluatorServiceClient;
let runId = '';
const SENTENCE = 'the cat sat on the mat. ';

const lm = (architecture: commonV1.ModelArchitecture, seed: number): commonV1.ModelRef => ({
  source: { $case: 'builtin', value: { architecture, size: 'tiny', seed } },
});

before(async () => {
  mkdirSync(join(home.path, 'data'), { recursive: true });
  writeFileSync(join(home.path, 'data', 'cat.txt'), SENTENCE.repeat(400));
  const config = testConfig(home.path);
  server = await startTestServer(
    [createTrainerService({ config, log: quietLog }), createEvaluatorService({ config, log: quietLog })],
    config,
  );
  trainer = createClient(trainerV1.TrainerServiceClient, server.address);
  evaluator = createClient(ev.EvaluatorServiceClient, server.address);
  runId = await trainOnSentence(64);
});

/** A tiny transformer (context 64) trained 200 steps on the repeated sentence, on sequences of that length. */
async function trainOnSentence(sequenceLength: number): Promise<string> {
  const spec = trainerV1.RunSpec.fromPartial({
    baseModel: lm(commonV1.ModelArchitecture.MODEL_ARCHITECTURE_TRANSFORMER_LM, 2),
    dataset: { uri: 'file:cat.txt' },
    strategy: trainerV1.Strategy.STRATEGY_FULL,
    optimizer: { learningRate: 0.003 },
    batchSize: 8,
    sequenceLength,
    budgetSteps: 200,
    seed: 1,
  });
  const { run } = await call(trainer.startRun.bind(trainer), { requestId: '', spec });
  const events = await collect(trainer.watchRun({ runId: run!.runId, fromStep: 0 }));
  const done = (events.at(-1)!.event as { value: trainerV1.Run }).value;
  assert.equal(done.state, commonV1.RunState.RUN_STATE_PAUSED, done.error);
  return run!.runId;
}

after(async () => {
  trainer.close();
  evaluator.close();
  await server.shutdown();
  home.remove();
});

const runModel = (id: string): commonV1.ModelRef => ({
  source: { $case: 'run', value: { runId: id, step: 0, best: false } },
});
const trained = () => runModel(runId);

/** Generate's pieces and its last message. */
async function generate(req: Partial<ev.GenerateRequest> & { model: commonV1.ModelRef }) {
  const events = await collect(
    evaluator.generate({
      prompt: '',
      maxBytes: 0,
      greedy: false,
      temperature: 0,
      topK: 0,
      seed: 0,
      stopSequences: [],
      windowBytes: 0,
      ...req,
    }),
  );
  const pieces = events.flatMap((e) => (e.event?.$case === 'text' ? [e.event.value] : []));
  const last = events.at(-1)!.event;
  assert.equal(last?.$case, 'generation');
  return { pieces, generation: last.value as ev.Generation };
}

test('greedy continues the sentence it learned; a stop sequence ends it', { timeout: 60_000 }, async () => {
  const { pieces, generation } = await generate({ model: trained(), prompt: 'the cat ', maxBytes: 40, greedy: true });
  assert.equal(generation.text, (SENTENCE + SENTENCE).slice(8, 48));
  assert.equal(generation.stopReason, ev.StopReason.STOP_REASON_MAX_BYTES);
  assert.equal(pieces.map((p) => p.text).join(''), generation.text);
  assert.deepEqual(Buffer.concat(pieces.map((p) => p.raw)), Buffer.from(generation.raw));
  assert.ok(pieces.length >= 3, `${pieces.length} pieces of at most 16 bytes`);
  assert.ok(generation.meanLogProb > -0.5 && generation.meanLogProb <= 0, `${generation.meanLogProb}`);
  assert.equal(generation.contextBytes, 64);

  const stopped = await generate({ model: trained(), prompt: 'the cat ', greedy: true, stopSequences: ['mat. '] });
  assert.equal(stopped.generation.text, 'sat on the mat. ');
  assert.equal(stopped.generation.stopReason, ev.StopReason.STOP_REASON_STOP_SEQUENCE);
});

test(
  'a model trained on sequences shorter than its context generates within that window, by default',
  { timeout: 60_000 },
  async () => {
    const shortRun = await trainOnSentence(32);
    const model = runModel(shortRun);
    // Positions 33–64 were never trained: read 32 bytes at a time, as it learned (its checkpoint records the
    // length), the sentence goes on past them; asked to read its whole context, it loses the sentence.
    const { generation } = await generate({ model, prompt: 'the cat ', maxBytes: 80, greedy: true });
    assert.equal(generation.text, SENTENCE.repeat(5).slice(8, 88));
    assert.equal(generation.contextBytes, 32);
    const whole = await generate({ model, prompt: 'the cat ', maxBytes: 80, greedy: true, windowBytes: 64 });
    assert.equal(whole.generation.contextBytes, 64);
    assert.notEqual(whole.generation.text, generation.text);
    await rejectsWith(generate({ model, windowBytes: -1 }), grpc.status.INVALID_ARGUMENT, 'window_bytes');
  },
);

test(
  'sampling: a seed gives the same text again; top-1 is greedy at any temperature; noise from an untrained model',
  { timeout: 60_000 },
  async () => {
    const sample = (seed: number) =>
      generate({ model: trained(), prompt: 'on the ', maxBytes: 48, temperature: 2, seed }).then((g) => g.generation);
    const [a, b, c] = [await sample(7), await sample(7), await sample(8)];
    assert.deepEqual(Buffer.from(a.raw), Buffer.from(b.raw));
    assert.notDeepEqual(Buffer.from(a.raw), Buffer.from(c.raw), 'another seed, another sample at temperature 2');
    const greedy = await generate({ model: trained(), prompt: 'on the ', maxBytes: 48, greedy: true });
    const top1 = await generate({
      model: trained(),
      prompt: 'on the ',
      maxBytes: 48,
      temperature: 5,
      topK: 1,
      seed: 3,
    });
    assert.deepEqual(Buffer.from(top1.generation.raw), Buffer.from(greedy.generation.raw));
    // Hotter sampling strays from what the model expects.
    assert.ok(a.meanLogProb < greedy.generation.meanLogProb, `${a.meanLogProb} < ${greedy.generation.meanLogProb}`);

    // An untrained Mamba: its bytes are about as likely as uniform noise (ln 1/256 = −5.55).
    const untrained = await generate({
      model: lm(commonV1.ModelArchitecture.MODEL_ARCHITECTURE_MAMBA_LM, 1),
      prompt: 'hello',
      maxBytes: 32,
      seed: 1,
    });
    assert.equal(untrained.generation.raw.length, 32);
    assert.ok(Math.abs(untrained.generation.meanLogProb + Math.log(256)) < 0.5, `${untrained.generation.meanLogProb}`);
  },
);

test('Generate refuses bad requests naming the field', { timeout: 60_000 }, async () => {
  const mlp: commonV1.ModelRef = {
    source: {
      $case: 'builtin',
      value: { architecture: commonV1.ModelArchitecture.MODEL_ARCHITECTURE_MLP, size: 'small', seed: 1 },
    },
  };
  await rejectsWith(generate({ model: mlp, prompt: 'x' }), grpc.status.INVALID_ARGUMENT, 'model');
  await rejectsWith(generate({ model: trained(), temperature: 11 }), grpc.status.INVALID_ARGUMENT, 'temperature');
  await rejectsWith(generate({ model: trained(), topK: 300 }), grpc.status.INVALID_ARGUMENT, 'top_k');
  await rejectsWith(generate({ model: trained(), maxBytes: -1 }), grpc.status.INVALID_ARGUMENT, 'max_bytes');
  await rejectsWith(
    generate({ model: trained(), stopSequences: ['.', ''] }),
    grpc.status.INVALID_ARGUMENT,
    'stop_sequences[1]',
  );
  await rejectsWith(
    generate({ model: { source: { $case: 'run', value: { runId: 'nope', step: 0, best: false } } } }),
    grpc.status.NOT_FOUND,
    '',
  );
});

const floe = floeAt(() => server.address);

test('floe generate prints the continuation as it is made, or one JSON object', { timeout: 60_000 }, async () => {
  const shown = await floe(
    'generate',
    '--model',
    `run:${runId}`,
    '--prompt',
    'the cat ',
    '--greedy',
    '--stop',
    'mat. ',
  );
  assert.equal(shown.code, 0, shown.stderr);
  assert.equal(shown.stdout, 'sat on the mat. ');
  assert.match(shown.stderr, /16 bytes, stopped by stop sequence; mean log-probability -0\.\d+ nats per byte/);
  const json = JSON.parse(
    (await floe('generate', '--model', `run:${runId}`, '--prompt', 'the', '--max-bytes', '5', '--greedy', '--json'))
      .stdout,
  ) as { text: string; stopReason: string };
  assert.deepEqual(json.text, ' cat ');
  assert.equal(json.stopReason, 'max_bytes');
});
