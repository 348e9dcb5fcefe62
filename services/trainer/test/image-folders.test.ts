// A folder of the user's own images (a folder per class under the data roots) trains a fresh LeNet shaped to
// it: the images' size and channels, one output per class. A checkpoint keeps its shape and class names:
// continuing it on a folder with a class it does not predict grows its head; images of another size are
// resized to its input; a folder without one of its classes continues it, labels read by name.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { commonV1, trainerV1 } from '@floe/contracts';
import { call, collect, createClient, type FloeServer } from '@floe/service-kit';
import { quietLog, startTestServer, tempDir, testConfig, writeDigitFolder } from '@floe/testing';
import { createTrainerService } from '../src/index.js';

const home = tempDir();
let server: FloeServer;
let client: trainerV1.TrainerServiceClient;
const names = ['zero', 'one', 'two', 'three', 'four'];

before(async () => {
  const data = join(home.path, 'data');
  // Colour digits of 32×32 pixels, three classes named by word.
  writeDigitFolder(join(data, 'digits'), {
    digits: [0, 1, 2],
    perClass: 60,
    size: 32,
    color: [250, 200, 40],
    className: (d) => names[d]!,
  });
  writeDigitFolder(join(data, 'four-classes'), {
    digits: [0, 1, 2, 4],
    perClass: 10,
    start: 60,
    size: 32,
    color: [250, 200, 40],
    className: (d) => names[d]!,
  });
  // The same kind of images at 28×28: brought to the model's 32×32.
  writeDigitFolder(join(data, 'digits28'), {
    digits: [0, 1, 2],
    perClass: 20,
    start: 120,
    color: [250, 200, 40],
    className: (d) => names[d]!,
  });
  // Only "two" and "zero": each numbered 0 and 1 in a folder of its own.
  writeDigitFolder(join(data, 'two-and-zero'), {
    digits: [2, 0],
    perClass: 20,
    start: 80,
    size: 32,
    color: [250, 200, 40],
    className: (d) => names[d]!,
  });
  const config = testConfig(home.path);
  server = await startTestServer([createTrainerService({ config, log: quietLog })], config);
  client = createClient(trainerV1.TrainerServiceClient, server.address);
});

after(async () => {
  client.close();
  await server.shutdown();
  home.remove();
});

const lenet = {
  source: {
    $case: 'builtin' as const,
    value: { architecture: commonV1.ModelArchitecture.MODEL_ARCHITECTURE_LENET5, size: 'small', seed: 1 },
  },
};
const spec = (over: Partial<trainerV1.RunSpec>): trainerV1.RunSpec =>
  trainerV1.RunSpec.fromPartial({
    baseModel: lenet,
    strategy: trainerV1.Strategy.STRATEGY_FULL,
    optimizer: { learningRate: 3e-3 },
    batchSize: 16,
    budgetSteps: 40,
    evalIntervalSteps: 40,
    seed: 3,
    ...over,
  });
const folder = (uri: string) => commonV1.DatasetRef.fromPartial({ uri });

async function train(s: trainerV1.RunSpec): Promise<trainerV1.Run> {
  const { run } = await call(client.startRun.bind(client), { requestId: '', spec: s });
  const events = await collect(client.watchRun({ runId: run!.runId, fromStep: 0 }));
  return (events.at(-1)!.event as { value: trainerV1.Run }).value;
}

test(
  'a folder of 32×32 colour images trains a LeNet of their shape; its checkpoint reads other sizes and grows by new classes',
  { timeout: 180_000 },
  async () => {
    const run = await train(spec({ dataset: folder('file:digits') }));
    assert.equal(run.state, commonV1.RunState.RUN_STATE_PAUSED, run.error);
    // 32 → conv 28 → pool 14 → conv 10 → pool 5: fc1 reads 5·5·16; three channels in, three classes out.
    const params = 5 * 5 * 3 * 6 + 6 + (5 * 5 * 6 * 16 + 16) + (5 * 5 * 16 * 120 + 120) + (120 * 3 + 3);
    assert.equal(run.totalParams, params);
    const initial = run.initialValidationLoss!;
    assert.ok(Math.abs(initial - Math.log(3)) < 0.3, `a fresh 3-way classifier starts near ln 3: ${initial}`);
    const final = run.lastMetrics!.validationLoss!;
    assert.ok(final < 0.5 * initial, `learns the digits: ${initial} → ${final}`);

    const base = commonV1.ModelRef.fromPartial({ source: { $case: 'run', value: { runId: run.runId, step: 0 } } });
    // A class it never predicted ("four"): the head grows by one output, and the run trains.
    const grown = await train(
      spec({ baseModel: base, dataset: folder('file:four-classes'), budgetSteps: 2, evalIntervalSteps: 0 }),
    );
    assert.equal(grown.state, commonV1.RunState.RUN_STATE_PAUSED, grown.error);
    assert.equal(grown.totalParams, params + 120 + 1);

    // Smaller images of the same kind are resized to what the model reads, and it reads them as well.
    const resized = await train(
      spec({ baseModel: base, dataset: folder('file:digits28'), budgetSteps: 2, evalIntervalSteps: 1 }),
    );
    assert.equal(resized.state, commonV1.RunState.RUN_STATE_PAUSED, resized.error);
    assert.ok(
      resized.initialValidationLoss! < 0.7 * initial,
      `28×28 images read by a 32×32 model: ${resized.initialValidationLoss} (fresh: ${initial})`,
    );

    // Two of its classes only: continued, each image labelled by its folder's name, not its position.
    const continued = await train(
      spec({ baseModel: base, dataset: folder('file:two-and-zero'), budgetSteps: 2, evalIntervalSteps: 1 }),
    );
    assert.equal(continued.state, commonV1.RunState.RUN_STATE_PAUSED, continued.error);
    assert.ok(
      continued.initialValidationLoss! < 0.7 * initial,
      `the trained model already knows these classes: ${continued.initialValidationLoss} (fresh: ${initial})`,
    );
  },
);
