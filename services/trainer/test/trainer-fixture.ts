// What the trainer's test files share: one trainer on loopback per file (a real gRPC server with its own
// FLOE_HOME, started before the file's tests and shut down after them), and the tiny language model on
// e-mails that trains in seconds.
import { before, after } from 'node:test';
import { commonV1, trainerV1 } from '@floe/contracts';
import { createClient, type FloeServer } from '@floe/service-kit';
import { quietLog, startTestServer, tempDir, testConfig } from '@floe/testing';
import { createTrainerService } from '../src/index.js';

export interface TrainerUnderTest {
  home: ReturnType<typeof tempDir>;
  /** Set once the file's `before` hooks ran. */
  server: FloeServer;
  client: trainerV1.TrainerServiceClient;
}

/**
 * A trainer for this test file, configured by `env` (FLOE_* variables); `ready` runs once it serves (node:test
 * runs a file's top-level `before` hooks at once, not one after another, so a second hook would not see it).
 */
export function trainerUnderTest(
  env: Record<string, string> = {},
  ready?: (t: TrainerUnderTest) => void,
): TrainerUnderTest {
  const t = { home: tempDir() } as TrainerUnderTest;
  before(async () => {
    Object.assign(t, await startTrainer(t.home.path, env));
    ready?.(t);
  });
  after(async () => {
    t.client.close();
    await t.server.shutdown();
    t.home.remove();
  });
  return t;
}

/** A trainer on loopback serving FLOE_HOME `home`, configured by `env`, and its client. */
export async function startTrainer(
  home: string,
  env: Record<string, string>,
): Promise<{ server: FloeServer; client: trainerV1.TrainerServiceClient }> {
  const config = testConfig(home, env);
  const server = await startTestServer([createTrainerService({ config, log: quietLog })], config);
  return { server, client: createClient(trainerV1.TrainerServiceClient, server.address) };
}

/**
 * Runs `fn` against a trainer of its own (a test that needs other settings than its file's trainer), on a
 * FLOE_HOME of its own that goes afterwards.
 */
export async function withOwnTrainer<T>(
  env: Record<string, string>,
  fn: (client: trainerV1.TrainerServiceClient) => Promise<T>,
): Promise<T> {
  const home = tempDir();
  const { server, client } = await startTrainer(home.path, env);
  try {
    return await fn(client);
  } finally {
    client.close();
    await server.shutdown();
    home.remove();
  }
}

/** A FULL run of the tiny transformer LM (seed 3) on builtin:spam-assassin: 6 steps of 4 × 32 bytes. */
export const tinyLmSpec = (over: Partial<trainerV1.RunSpec> = {}): trainerV1.RunSpec => ({
  ...trainerV1.RunSpec.fromPartial({
    baseModel: {
      source: {
        $case: 'builtin',
        value: { architecture: commonV1.ModelArchitecture.MODEL_ARCHITECTURE_TRANSFORMER_LM, size: 'tiny', seed: 3 },
      },
    },
    dataset: { uri: 'builtin:spam-assassin' },
    strategy: trainerV1.Strategy.STRATEGY_FULL,
    optimizer: { kind: trainerV1.OptimizerKind.OPTIMIZER_KIND_ADAMW, learningRate: 3e-3 },
    schedule: { kind: trainerV1.ScheduleKind.SCHEDULE_KIND_CONSTANT },
    batchSize: 4,
    sequenceLength: 32,
    budgetSteps: 6,
    checkpointIntervalSteps: 2,
    seed: 5,
  }),
  ...over,
});
