// Metrics: every RPC's duration by method and status code, training steps and runs by strategy and outcome, and
// freeze-thaw decisions by kind — recorded through the real services in one process, collected from the SDK's
// reader, and served for Prometheus at FLOE_METRICS_ADDRESS's /metrics.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { commonV1, hpoSurrogateV1 as hpo, trainerV1 } from '@floe/contracts';
import { call, collect, composeServices, createClient, type FloeServer } from '@floe/service-kit';
import { freePort, quietLog, rejectsWith, startTestServer, tempDir, testConfig } from '@floe/testing';
import { Attr, MetricAttr, MetricName } from '@floe/telemetry';
import { startTelemetry, type TelemetryHandle } from '@floe/telemetry/sdk';
import type { DataPoint, Histogram, ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { SERVICES } from '../src/services.js';

const home = tempDir();
let telemetry: TelemetryHandle;
let server: FloeServer;
let trainer: trainerV1.TrainerServiceClient;
let studies: hpo.HpoSurrogateServiceClient;

before(async () => {
  telemetry = startTelemetry({
    serviceName: 'floe',
    exporter: 'memory',
    metricsAddress: `127.0.0.1:${await freePort()}`,
  });
  const config = testConfig(home.path, { FLOE_SERVICES: 'trainer,hpo-surrogate' });
  server = await startTestServer(composeServices(SERVICES, { config, log: quietLog }), config);
  trainer = createClient(trainerV1.TrainerServiceClient, server.address);
  studies = createClient(hpo.HpoSurrogateServiceClient, server.address);
});

after(async () => {
  trainer.close();
  studies.close();
  await server.shutdown();
  await telemetry.shutdown();
  home.remove();
});

/** The data points of metric `name`, by their attributes. */
function points(all: ResourceMetrics, name: string): DataPoint<number | Histogram>[] {
  const metric = all.scopeMetrics.flatMap((s) => s.metrics).find((m) => m.descriptor.name === name);
  return (metric?.dataPoints ?? []) as DataPoint<number | Histogram>[];
}
const count = (p: DataPoint<number | Histogram> | undefined) =>
  p === undefined ? 0 : typeof p.value === 'number' ? p.value : p.value.count;

test(
  'RPC durations, training steps and runs, freeze-thaw decisions; a Prometheus endpoint',
  { timeout: 180_000 },
  async () => {
    // A run of 6 steps, watched to its end.
    const spec = trainerV1.RunSpec.fromPartial({
      baseModel: {
        source: {
          $case: 'builtin',
          value: { architecture: commonV1.ModelArchitecture.MODEL_ARCHITECTURE_TRANSFORMER_LM, size: 'tiny', seed: 1 },
        },
      },
      dataset: { uri: 'builtin:spam-assassin' },
      strategy: trainerV1.Strategy.STRATEGY_FULL,
      batchSize: 2,
      sequenceLength: 16,
      budgetSteps: 6,
      checkpointIntervalSteps: 6,
      seed: 1,
    });
    const { run } = await call(trainer.startRun.bind(trainer), { requestId: '', spec });
    await collect(trainer.watchRun({ runId: run!.runId, fromStep: 0 }));
    // A bad request: INVALID_ARGUMENT.
    await rejectsWith(
      call(trainer.startRun.bind(trainer), { requestId: '', spec: { ...spec, batchSize: -1 } }),
      grpc.status.INVALID_ARGUMENT,
    );
    // Three decisions of a freeze-thaw study, reported as they come.
    const { study } = await call(studies.createStudy.bind(studies), {
      requestId: '',
      spec: hpo.StudySpec.fromPartial({
        searchSpace: {
          parameters: [
            { name: 'lr', domain: { $case: 'floatRange', value: { min: 1e-4, max: 1e-1, logScale: true } } },
          ],
        },
        objective: 'validation_loss',
        direction: hpo.Direction.DIRECTION_MINIMIZE,
        optimizer: hpo.Optimizer.OPTIMIZER_FREEZE_THAW,
        stepsPerFidelity: 1,
        maxFidelity: 5,
        totalBudget: 10,
        seed: 1,
      }),
    });
    for (let i = 0; i < 3; i++) {
      const s = await call(studies.suggest.bind(studies), { studyId: study!.studyId, requestId: '' });
      await call(studies.reportObservations.bind(studies), {
        studyId: study!.studyId,
        trialId: s.trial!.trialId,
        observations: [{ step: s.targetStep, value: 1 - 0.1 * i }],
        requestId: '',
        failure: '',
      });
    }

    const metrics = await telemetry.collectMetrics!();
    const rpc = points(metrics, MetricName.rpcServerCallDuration);
    const rpcCalls = (method: string, code: grpc.status) =>
      count(rpc.find((p) => p.attributes['rpc.method'] === method && p.attributes['rpc.grpc.status_code'] === code));
    assert.equal(rpcCalls('StartRun', grpc.status.OK), 1);
    assert.equal(rpcCalls('StartRun', grpc.status.INVALID_ARGUMENT), 1);
    assert.equal(rpcCalls('Suggest', grpc.status.OK), 3);
    assert.equal(rpcCalls('WatchRun', grpc.status.OK), 1, 'a stream counts when it ends');
    const started = rpc.find((p) => p.attributes['rpc.method'] === 'StartRun')!;
    assert.equal(started.attributes[Attr.rpcService], trainerV1.protobufPackage + '.TrainerService');
    assert.ok((started.value as Histogram).sum! > 0, 'seconds');

    const strategy = { [Attr.strategy]: 'STRATEGY_FULL' };
    const steps = points(metrics, MetricName.trainingSteps);
    assert.deepEqual(
      steps.map((p) => [p.attributes, p.value]),
      [[strategy, 6]],
    );
    assert.equal(count(points(metrics, MetricName.trainingStepDuration)[0]), 6);
    assert.deepEqual(
      points(metrics, MetricName.trainingRunsActive).map((p) => p.value),
      [0],
      'the run stopped',
    );
    assert.deepEqual(
      points(metrics, MetricName.trainingRunsStopped).map((p) => [p.attributes[MetricAttr.outcome], p.value]),
      [['completed', 1]],
    );
    const decisions = points(metrics, MetricName.hpoDecisions);
    assert.equal(
      decisions.reduce((n, p) => n + count(p), 0),
      3,
    );
    assert.ok(decisions.every((p) => p.attributes[MetricAttr.optimizer] === 'ifbo'));
    assert.ok(decisions.some((p) => p.attributes[MetricAttr.decision] === 'new'));

    // The same, as Prometheus scrapes it.
    const text = await (await fetch(telemetry.metricsUrl!)).text();
    assert.match(text, /^floe_training_steps_total\{[^}]*floe_strategy="STRATEGY_FULL"[^}]*\} 6/m);
    assert.match(text, /^rpc_server_call_duration_count\{[^}]*rpc_method="StartRun"/m);
    assert.match(
      text,
      /^rpc_server_call_duration_bucket\{[^}]*rpc_method="StartRun"[^}]*le="0.25"\}/m,
      'buckets in seconds',
    );
  },
);
