// @floe/client against a real trainer on loopback: partial requests filled by the contract's defaults,
// errors as FloeApiError with the fields at fault, streams as async iterators, a call that finds the
// server not yet listening retried until it is, a bearer token presented on every call, and adapt()
// skipping — and saying so — the stages whose services are not served.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { commonV1, trainerV1 } from '@floe/contracts';
import { freePort, quietLog, startTestServer, tempDir, testConfig } from '@floe/testing';
import { createTrainerService } from '@floe/trainer';
import { FloeApiError, FloeClient, adapt, type AdaptEvent, type AdaptResult } from '@floe/client';
import { createDataProfilerService } from '@floe/data-profiler';

const tiny: commonV1.ModelRef = {
  source: {
    $case: 'builtin',
    value: { architecture: commonV1.ModelArchitecture.MODEL_ARCHITECTURE_TRANSFORMER_LM, size: 'tiny', seed: 1 },
  },
};

const spec = {
  baseModel: tiny,
  dataset: { uri: 'builtin:spam-assassin' },
  strategy: trainerV1.Strategy.STRATEGY_FULL,
  batchSize: 4,
  sequenceLength: 32,
  budgetSteps: 6,
};

test('typed calls: partial requests, errors with the fields at fault, streams as async iterators', async () => {
  const home = tempDir();
  const config = testConfig(home.path);
  const server = await startTestServer([createTrainerService({ config, log: quietLog })], config);
  const client = new FloeClient({ address: server.address });
  try {
    const refused = await client.trainer
      .startRun({
        requestId: 'bad',
        spec: { baseModel: tiny, dataset: { uri: 'builtin:spam-assassin' }, batchSize: -1 },
      })
      .then(
        () => undefined,
        (err: unknown) => err,
      );
    assert.ok(refused instanceof FloeApiError, String(refused));
    assert.equal(refused.code, grpc.status.INVALID_ARGUMENT);
    assert.equal(refused.codeName, 'INVALID_ARGUMENT');
    assert.ok(
      refused.violations.some((v) => v.field === 'spec.batch_size'),
      JSON.stringify(refused.violations),
    );
    const missing = await client.trainer.getRun({ runId: 'run-nope' }).catch((e: FloeApiError) => e);
    assert.ok(missing instanceof FloeApiError && missing.code === grpc.status.NOT_FOUND);

    const { run } = await client.trainer.startRun({
      requestId: 'client-test-1',
      spec,
    });
    // The same request id answers the same run (what makes the client's retries safe).
    const again = await client.trainer.startRun({
      requestId: 'client-test-1',
      spec,
    });
    assert.equal(again.run!.runId, run!.runId);
    assert.equal(again.replayed, true);
    const steps: number[] = [];
    for await (const e of client.trainer.watchRun({ runId: run!.runId }))
      if (e.event?.$case === 'step') steps.push(Number(e.event.value.step));
    assert.deepEqual(steps, [1, 2, 3, 4, 5, 6]);
  } finally {
    client.close();
    await server.shutdown();
    home.remove();
  }
});

test('a call that finds no server is retried with the same request until the server is up; a token is presented', async () => {
  const home = tempDir();
  const port = await freePort();
  const tokens = JSON.stringify([{ name: 'pipeline', token: 'train-token-0123456789', scopes: ['train'] }]);
  const config = testConfig(home.path, { FLOE_ADDRESS: `127.0.0.1:${port}`, FLOE_TOKENS: tokens });
  const client = new FloeClient({
    address: `127.0.0.1:${port}`,
    token: 'train-token-0123456789',
    backoffMs: 100,
    attempts: 8,
  });
  const stranger = new FloeClient({ address: `127.0.0.1:${port}`, attempts: 1 });
  let server: Awaited<ReturnType<typeof startTestServer>> | undefined;
  const starting = new Promise<void>((resolve) =>
    setTimeout(async () => {
      server = await startTestServer([createTrainerService({ config, log: quietLog })], config);
      resolve();
    }, 600),
  );
  try {
    const listed = await client.trainer.listRuns({});
    assert.deepEqual(listed.runs, []);
    await starting;
    const refused = await stranger.trainer.listRuns({}).catch((e: FloeApiError) => e);
    assert.ok(refused instanceof FloeApiError && refused.code === grpc.status.UNAUTHENTICATED);
    // Without a server and out of attempts, UNAVAILABLE surfaces as a typed error.
    const nowhere = new FloeClient({ address: `127.0.0.1:${await freePort()}`, attempts: 2, backoffMs: 10 });
    const down = await nowhere.trainer.listRuns({}).catch((e: FloeApiError) => e);
    assert.ok(down instanceof FloeApiError && down.code === grpc.status.UNAVAILABLE);
    nowhere.close();
  } finally {
    await starting;
    client.close();
    stranger.close();
    await server?.shutdown();
    home.remove();
  }
});

test(
  'adapt() skips the stages whose service is not served and says so; the rest run',
  { timeout: 300_000 },
  async () => {
    const home = tempDir();
    const config = testConfig(home.path);
    // No hpo-surrogate, evaluator or explainer here.
    const server = await startTestServer(
      [createTrainerService({ config, log: quietLog }), createDataProfilerService({ config, log: quietLog })],
      config,
    );
    const client = new FloeClient({ address: server.address });
    try {
      const flow = adapt(client, {
        id: 'partial',
        data: 'builtin:typescript-lib',
        reference: 'builtin:spam-assassin',
        pretrain: {
          architecture: commonV1.ModelArchitecture.MODEL_ARCHITECTURE_TRANSFORMER_LM,
          size: 'tiny',
          steps: 10,
        },
        budgetSteps: 10,
        batchSize: 4,
        sequenceLength: 32,
      });
      const events: AdaptEvent[] = [];
      let result: AdaptResult;
      for (;;) {
        const next = await flow.next();
        if (next.done) {
          result = next.value;
          break;
        }
        events.push(next.value);
      }
      const status = Object.fromEntries(result.stages.map((s) => [s.stage, s.status]));
      assert.deepEqual(status, {
        base: 'done',
        profile: 'done',
        plan: 'done',
        tune: 'skipped',
        train: 'done',
        evaluate: 'skipped',
        explain: 'skipped',
      });
      assert.match(result.stages.find((s) => s.stage === 'tune')!.summary, /HpoSurrogateService is not served/);
      assert.ok(events.some((e) => e.type === 'stage' && e.stage === 'evaluate' && e.status === 'skipped'));
      // Without tuning, the final run is a new ADE run of the plan.
      const { run } = await client.trainer.getRun({ runId: result.run!.runId });
      assert.equal(run!.spec!.strategy, trainerV1.Strategy.STRATEGY_ADE);
      assert.equal(Number(run!.step), 10);
      assert.equal(result.evaluation, undefined);
    } finally {
      client.close();
      await server.shutdown();
      home.remove();
    }
  },
);
