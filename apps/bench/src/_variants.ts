import { join } from 'node:path';
import { commonV1, evaluatorV1, trainerV1 } from '@floe/contracts';
import { call, collect, createClient, createLogger, loadConfig, startServer } from '@floe/service-kit';
import { createTrainerService } from '@floe/trainer';
import { createDataProfilerService } from '@floe/data-profiler';
import { createEvaluatorService } from '@floe/evaluator';
const home = join(new URL('../../..', import.meta.url).pathname, '.floe', 'bench-ade');
const config = loadConfig({ ...process.env, FLOE_HOME: home, FLOE_ADDRESS: '127.0.0.1:0', FLOE_MAX_CONCURRENT_RUNS: '1', FLOE_SUITES_DIR: join(home, 'suites') });
const quiet = createLogger('warn');
const server = await startServer({ config, services: [createTrainerService({ config, log: quiet }), createDataProfilerService({ config, log: quiet }), createEvaluatorService({ config, log: quiet })], log: quiet });
const trainer = createClient(trainerV1.TrainerServiceClient, server.address);
const evaluator = createClient(evaluatorV1.EvaluatorServiceClient, server.address);
const base = (await call(trainer.listRuns.bind(trainer), { page: { pageSize: 100, pageToken: '' }, states: [], labels: {} })).runs.find((r) => r.spec!.budgetSteps === 1500)!;
const baseRef: commonV1.ModelRef = { source: { $case: 'run', value: { runId: base.runId, step: 0 } } };
const variants: Record<string, commonV1.AdaptationPlan> = JSON.parse(process.argv[2]!);
for (const [name, plan] of Object.entries(variants)) {
  const spec = trainerV1.RunSpec.fromPartial({
    baseModel: baseRef, dataset: { uri: 'builtin:typescript-lib' }, strategy: trainerV1.Strategy.STRATEGY_ADE, plan,
    mixture: plan.replayFraction > 0 ? { replayDataset: { uri: 'builtin:spam-assassin' }, replayFraction: plan.replayFraction } : undefined,
    optimizer: { kind: 1, learningRate: plan.learningRate || 1e-3, gradClipNorm: 1 }, schedule: { kind: 3, warmupSteps: 24, minLrRatio: 0.1 },
    batchSize: 16, sequenceLength: 128, budgetSteps: 400, seed: 1,
  });
  const t0 = performance.now();
  const { run } = await call(trainer.startRun.bind(trainer), { requestId: '', spec });
  const done = (await collect(trainer.watchRun({ runId: run!.runId, fromStep: 0 }))).at(-1)!.event!.value as trainerV1.Run;
  const wall = (performance.now() - t0) / 1000;
  const r = ((await collect(evaluator.compareModels({ stages: [baseRef, { source: { $case: 'run', value: { runId: run!.runId, step: 0 } } }], suites: ['ade-old', 'ade-new'], metric: 'bits_per_byte', bootstrapSamples: 300, seed: 5 }))).at(-1)!.event!.value as evaluatorV1.ForgettingReport);
  const R = r.rMatrix!.values;
  console.log(JSON.stringify({ name, state: done.state, error: done.error, new: R[3], newVsFull: R[3]! / 1.862 - 1, forgetting: R[2]! - R[0]!, ratio: (R[2]! - R[0]!) / 2.134, trainable: done.trainableParams, wall }));
}
trainer.close(); evaluator.close(); await server.shutdown();
