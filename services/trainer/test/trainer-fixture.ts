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
    const config = testConfig(t.home.path, env);
    t.server = await startTestServer([createTrainerService({ config, log: quietLog })], config);
    t.client = createClient(trainerV1.TrainerServiceClient, t.server.address);
    ready?.(t);
  });
  after(async () => {
    t.client.close();
    await t.server.shutdown();
    t.home.remove();
  });
  return t;
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
