// A run's phases as spans: one per phase, under the trace of the call that started the run (here a
// caller span in the test process, carried over gRPC by the interceptors), with floe.* attributes and
// the steps as events on the train segment.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { context, trace } from '@opentelemetry/api';
import { startTelemetry } from '@floe/telemetry/sdk';
import { commonV1, trainerV1 } from '@floe/contracts';
import { call, collect, createClient, type FloeServer } from '@floe/service-kit';
import { quietLog, startTestServer, tempDir, testConfig } from '@floe/testing';
import { createTrainerService } from '../src/index.js';
import { Attr, EventName, SpanName } from '@floe/telemetry';

const telemetry = startTelemetry({ serviceName: 'floe-trainer', exporter: 'memory' });
const home = tempDir();
let server: FloeServer;
let client: trainerV1.TrainerServiceClient;

before(async () => {
  const config = testConfig(home.path);
  server = await startTestServer([createTrainerService({ config, log: quietLog })], config);
  client = createClient(trainerV1.TrainerServiceClient, server.address);
});

after(async () => {
  client.close();
  await server.shutdown();
  await telemetry.shutdown();
  home.remove();
});

test(
  "one span per phase, in the caller's trace, with run id, strategy and trainable parameters",
  { timeout: 120_000 },
  async () => {
    const spec = trainerV1.RunSpec.fromPartial({
      baseModel: {
        source: {
          $case: 'builtin',
          value: { architecture: commonV1.ModelArchitecture.MODEL_ARCHITECTURE_TRANSFORMER_LM, size: 'tiny', seed: 1 },
        },
      },
      dataset: { uri: 'builtin:spam-assassin' },
      strategy: trainerV1.Strategy.STRATEGY_FREEZE,
      freezeBlockIds: ['embedding'],
      batchSize: 2,
      sequenceLength: 16,
      budgetSteps: 4,
      evalIntervalSteps: 2,
      checkpointIntervalSteps: 2,
      seed: 1,
    });
    const caller = trace.getTracer('test').startSpan('caller');
    const started = await context.with(trace.setSpan(context.active(), caller), () =>
      call(client.startRun.bind(client), { requestId: '', spec }),
    );
    caller.end();
    const runId = started.run!.runId;
    const events = await collect(client.watchRun({ runId, fromStep: 0 }));
    const run = (events.at(-1)!.event as { value: trainerV1.Run }).value;
    assert.equal(run.state, commonV1.RunState.RUN_STATE_PAUSED);
    await telemetry.flush();

    const spans = telemetry.memory!.getFinishedSpans();
    const traceId = caller.spanContext().traceId;
    const phases = spans.filter((s) => s.attributes[Attr.runId] === runId);
    const names = phases.map((s) => s.name);
    for (const name of [
      SpanName.loadData,
      SpanName.buildModel,
      SpanName.applyStrategy,
      SpanName.trainSegment,
      SpanName.evaluate,
      SpanName.checkpoint,
    ])
      assert.ok(names.includes(name), `${name} in ${names.join(', ')}`);
    assert.ok(
      phases.every((s) => s.spanContext().traceId === traceId),
      "every phase is in the caller's trace",
    );
    const startRunServer = spans.find((s) => s.name === 'floe.trainer.v1.TrainerService/StartRun' && s.kind === 1)!;
    const buildModel = phases.find((s) => s.name === SpanName.buildModel)!;
    assert.equal(
      buildModel.parentSpanContext?.spanId,
      startRunServer.spanContext().spanId,
      'phases hang under the StartRun server span',
    );
    const segment = phases.find((s) => s.name === SpanName.trainSegment)!;
    assert.equal(segment.attributes[Attr.strategy], 'STRATEGY_FREEZE');
    assert.equal(segment.attributes[Attr.trainableParams], run.trainableParams);
    assert.deepEqual(
      segment.events.filter((e) => e.name === EventName.step).map((e) => e.attributes![Attr.step]),
      [1, 2, 3, 4],
    );
    // Evaluate (at steps 0, 2, 4) and checkpoints (2, 4) inside the segment except the one before step 1.
    const inSegment = (name: string) =>
      phases.filter((s) => s.name === name && s.parentSpanContext?.spanId === segment.spanContext().spanId).length;
    assert.equal(inSegment(SpanName.evaluate), 2);
    assert.equal(inSegment(SpanName.checkpoint), 2);
    assert.ok(
      phases.every((s) => s.status.code === 1),
      'all phases ended OK',
    );
    assert.ok(
      phases.every((s) => s.endTime[0] * 1e3 + s.endTime[1] / 1e6 >= s.startTime[0] * 1e3 + s.startTime[1] / 1e6),
    );
  },
);
