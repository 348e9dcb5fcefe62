// RunStudy's spans: one per decision and one per trial segment, in the trace of the call that started
// the study (a caller span in the test process), and the trainer's phase spans of every trial's run in
// that same trace — one trace from the caller through the hpo-surrogate to the trainer.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { context, trace } from '@opentelemetry/api';
import { startTelemetry } from '@floe/telemetry/sdk';
import { Attr, SpanName } from '@floe/telemetry';
import { commonV1, hpoSurrogateV1 as hpo, trainerV1 } from '@floe/contracts';
import { call, collect, composeServices, createClient, startServer } from '@floe/service-kit';
import { quietLog, tempDir, testConfig } from '@floe/testing';
import { SERVICES } from '../src/services.js';

const telemetry = startTelemetry({ serviceName: 'floe', exporter: 'memory' });
const home = tempDir();
after(async () => {
  await telemetry.shutdown();
  home.remove();
});

test(
  "RunStudy: a span per decision and per trial segment, and the trials' training phases, in the caller's trace",
  { timeout: 300_000 },
  async () => {
    const config = testConfig(home.path, { FLOE_SERVICES: 'trainer,hpo-surrogate', FLOE_MAX_CONCURRENT_RUNS: '2' });
    const server = await startServer({
      config,
      services: composeServices(SERVICES, { config, log: quietLog }),
      log: quietLog,
    });
    const client = createClient(hpo.HpoSurrogateServiceClient, server.address);
    try {
      const template = trainerV1.RunSpec.fromPartial({
        baseModel: {
          source: {
            $case: 'builtin',
            value: {
              architecture: commonV1.ModelArchitecture.MODEL_ARCHITECTURE_TRANSFORMER_LM,
              size: 'tiny',
              seed: 1,
            },
          },
        },
        dataset: { uri: 'builtin:spam-assassin' },
        strategy: trainerV1.Strategy.STRATEGY_FULL,
        schedule: { kind: trainerV1.ScheduleKind.SCHEDULE_KIND_CONSTANT },
        batchSize: 2,
        sequenceLength: 16,
        seed: 1,
      });
      const spec = hpo.StudySpec.fromPartial({
        searchSpace: {
          parameters: [
            {
              name: 'optimizer.learning_rate',
              domain: { $case: 'floatRange', value: { min: 1e-4, max: 1e-2, logScale: true } },
            },
          ],
        },
        objective: 'validation_loss',
        stepsPerFidelity: 2,
        maxFidelity: 2,
        totalBudget: 4,
        seed: 1,
        runTemplate: Buffer.from(trainerV1.RunSpec.encode(template).finish()),
      });
      const caller = trace.getTracer('test').startSpan('caller');
      const { study } = await context.with(trace.setSpan(context.active(), caller), () =>
        call(client.createStudy.bind(client), { requestId: '', spec }),
      );
      const events = await context.with(trace.setSpan(context.active(), caller), () =>
        collect(client.runStudy({ studyId: study!.studyId, parallelism: 1 })),
      );
      caller.end();
      const done = (events.at(-1)!.event as { value: hpo.Study }).value;
      assert.equal(hpo.studyStateToJSON(done.state), 'STUDY_STATE_COMPLETED');
      await telemetry.flush();

      const traceId = caller.spanContext().traceId;
      const spans = telemetry.memory!.getFinishedSpans();
      const decisions = spans.filter((s) => s.name === SpanName.studyDecision);
      const segments = spans.filter((s) => s.name === SpanName.studySegment);
      assert.equal(decisions.length, 4, 'one span per decision');
      assert.ok(segments.length >= 4, `a span per trial segment (${segments.length})`);
      for (const s of [...decisions, ...segments]) {
        assert.equal(s.spanContext().traceId, traceId, `${s.name} in the caller's trace`);
        assert.equal(s.attributes[Attr.studyId], study!.studyId);
      }
      assert.deepEqual(
        new Set(segments.map((s) => s.attributes[Attr.trialId])),
        new Set(done.trials.map((t) => t.trialId)),
      );
      for (const t of done.trials) {
        const phases = spans.filter((s) => s.name === SpanName.trainSegment && s.attributes[Attr.runId] === t.runId);
        assert.ok(phases.length > 0, `${t.runId} trained`);
        assert.ok(
          phases.every((s) => s.spanContext().traceId === traceId),
          "the trial's training in the caller's trace",
        );
      }
    } finally {
      client.close();
      await server.shutdown();
    }
  },
);
