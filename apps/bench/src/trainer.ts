// npm run bench:trainer [-- --json] [-- --quick]
// 1. Step times of the bench:ml transformer (d_model 256, 4 blocks, batch 16 × 128) under each strategy,
//    measured round-robin in this one process so that drift in the machine's speed hits them all alike:
//      full        — every parameter trains;
//      freeze_half — blocks 0 and 1 frozen;
//      freeze_75   — blocks 0, 1, 2 and the embedding (so the tied head) frozen;
//      expand      — two copies spread evenly, only they train (LLaMA Pro).
//    speedup_vs_full = step_ms.full / step_ms.<strategy>.
// 2. GetRun latency (p50/p99 over sequential calls) of a real trainer server on loopback while two runs of
//    that transformer train in its worker threads, beside the same calls with no run training.
import * as tf from '@tensorflow/tfjs-core';
import { commonV1, trainerV1 } from '@floe/contracts';
import { initBackend } from '@floe/ml-runtime';
import { buildModel, type BlockModel } from '@floe/models';
import { loadBuiltin, selectSplit, type TextDataset } from '@floe/data';
import { applyStrategy, DEFAULT_OPTIMIZER, LmSource, TrainingSession, type StrategyConfig } from '@floe/training';
import { call, createClient, createLogger, loadConfig, startServer } from '@floe/service-kit';
import { createTrainerService } from '@floe/trainer';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const json = process.argv.includes('--json');
const quick = process.argv.includes('--quick');
const log = (s: string) => process.stderr.write(s + '\n');
const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;

const none = { freeze: [], expandAfter: [], expandCount: 0, tune: [] };
const strategies: Record<string, StrategyConfig> = {
  full: { kind: 'full', ...none },
  freeze_half: { kind: 'freeze', ...none, freeze: ['block.0', 'block.1'] },
  freeze_75: { kind: 'freeze', ...none, freeze: ['embedding', 'block.0', 'block.1', 'block.2'] },
  expand: { kind: 'expand', ...none, expandCount: 2 },
};

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(p * s.length) - 1)]!;
}

const backend = await initBackend('auto');
log(`backend: ${backend.name} (${backend.reason})`);
const text = selectSplit(loadBuiltin('spam-assassin') as TextDataset, 'train', 2000);
const sessions = Object.entries(strategies).map(([key, s]) => {
  const model: BlockModel = buildModel('transformer-lm', 'bench', 0);
  applyStrategy(model, s);
  const session = new TrainingSession(model, new LmSource(text, 16, 128, 0), {
    optimizer: { ...DEFAULT_OPTIMIZER, learningRate: 1e-3 },
    schedule: { kind: 'constant', warmupSteps: 0, minRatio: 1 },
    totalSteps: 10_000,
  });
  return { key, model, session, ms: [] as number[] };
});
for (const s of sessions) for (let i = 0; i < 2; i++) s.session.trainStep();
const rounds = quick ? 3 : 9;
for (let r = 0; r < rounds; r++) for (const s of sessions) s.ms.push(s.session.trainStep().ms);
const stepMs = Object.fromEntries(sessions.map((s) => [s.key, median(s.ms)]));
const params = Object.fromEntries(
  sessions.map((s) => [s.key, { trainable: s.model.countParams(true), total: s.model.countParams() }]),
);
for (const s of sessions) {
  log(
    `${s.key.padEnd(12)} ${stepMs[s.key]!.toFixed(0).padStart(6)} ms/step  ×${(stepMs.full! / stepMs[s.key]!).toFixed(2)} vs full  trainable ${params[s.key]!.trainable} of ${params[s.key]!.total}`,
  );
  s.session.dispose();
  s.model.dispose();
}
tf.disposeVariables();

// GetRun under load: a real server, two runs training in its workers.
const home = mkdtempSync(join(tmpdir(), 'floe-bench-trainer-'));
const config = loadConfig({
  FLOE_HOME: home,
  FLOE_ADDRESS: '127.0.0.1:0',
  FLOE_MAX_CONCURRENT_RUNS: '2',
  FLOE_SHUTDOWN_GRACE_MS: '20000',
});
const quiet = createLogger('error');
const server = await startServer({ config, services: [createTrainerService({ config, log: quiet })], log: quiet });
const client = createClient(trainerV1.TrainerServiceClient, server.address);
const spec = trainerV1.RunSpec.fromPartial({
  baseModel: {
    source: {
      $case: 'builtin',
      value: { architecture: commonV1.ModelArchitecture.MODEL_ARCHITECTURE_TRANSFORMER_LM, size: 'bench', seed: 1 },
    },
  },
  dataset: { uri: 'builtin:spam-assassin' },
  strategy: trainerV1.Strategy.STRATEGY_FULL,
  batchSize: 16,
  sequenceLength: 128,
  budgetSteps: 100_000,
  checkpointIntervalSteps: 20,
  seed: 1,
});
const calls = quick ? 200 : 1000;
async function getRunLatencies(runId: string): Promise<number[]> {
  const ms: number[] = [];
  for (let i = 0; i < calls; i++) {
    const t0 = performance.now();
    await call(client.getRun.bind(client), { runId });
    ms.push(performance.now() - t0);
    // A dashboard polls; it does not spin.
    await new Promise((r) => setTimeout(r, 5));
  }
  return ms;
}
const idleRun = (await call(client.startRun.bind(client), { requestId: '', spec: { ...spec, budgetSteps: 1 } })).run!
  .runId;
while ((await call(client.getRun.bind(client), { runId: idleRun })).run!.state !== commonV1.RunState.RUN_STATE_PAUSED)
  await new Promise((r) => setTimeout(r, 100));
const idle = await getRunLatencies(idleRun);
const a = (await call(client.startRun.bind(client), { requestId: '', spec })).run!.runId;
const b = (await call(client.startRun.bind(client), { requestId: '', spec: { ...spec, seed: 2 } })).run!.runId;
// Measure once both are past their first step (models built, training).
while (
  (await call(client.getRun.bind(client), { runId: b })).run!.step < 1 ||
  (await call(client.getRun.bind(client), { runId: a })).run!.step < 1
)
  await new Promise((r) => setTimeout(r, 200));
const loaded = await getRunLatencies(a);
const [stepsA, stepsB] = [
  (await call(client.getRun.bind(client), { runId: a })).run!,
  (await call(client.getRun.bind(client), { runId: b })).run!,
];
await call(client.cancelRun.bind(client), { runId: a, requestId: '' });
await call(client.cancelRun.bind(client), { runId: b, requestId: '' });
client.close();
await server.shutdown();
rmSync(home, { recursive: true, force: true });
log(
  `GetRun idle:     p50 ${percentile(idle, 0.5).toFixed(2)} ms, p99 ${percentile(idle, 0.99).toFixed(2)} ms (${calls} calls)`,
);
log(
  `GetRun training: p50 ${percentile(loaded, 0.5).toFixed(2)} ms, p99 ${percentile(loaded, 0.99).toFixed(2)} ms (two runs at steps ${stepsA.step} and ${stepsB.step})`,
);

const result = {
  backend: backend.name,
  model: 'transformer-lm bench: d_model 256, 4 blocks, 4 heads, vocab 256; batch 16 × 128',
  step_ms: Object.fromEntries(Object.entries(stepMs).map(([k, v]) => [k, round(v)])),
  speedup_vs_full: Object.fromEntries(Object.entries(stepMs).map(([k, v]) => [k, round(stepMs.full! / v, 2)])),
  trainable_params: Object.fromEntries(Object.entries(params).map(([k, v]) => [k, v.trainable])),
  total_params: Object.fromEntries(Object.entries(params).map(([k, v]) => [k, v.total])),
  getrun_p50_ms: round(percentile(loaded, 0.5), 2),
  getrun_p99_ms: round(percentile(loaded, 0.99), 2),
  getrun_idle_p99_ms: round(percentile(idle, 0.99), 2),
  getrun_p99_vs_idle: round(percentile(loaded, 0.99) / percentile(idle, 0.99), 2),
  getrun_calls: calls,
};
if (json) console.log(JSON.stringify(result));
else log(JSON.stringify(result, null, 2));
