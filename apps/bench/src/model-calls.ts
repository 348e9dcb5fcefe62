// npm run bench:model-calls [-- --json] [-- --calls N]
//
// Latency of short model calls through real servers on loopback, each kind measured two ways side by side in
// this one process, calls alternating so that drift in the machine's speed hits both alike:
//   per_call — FLOE_TASK_WORKER_IDLE_MS=0: every call starts its worker thread (tsx, TF.js, the kernels);
//   pooled   — the default: a call is served by the worker the previous call of its kind left idle.
// The calls: Predict of 10 rows sent with the request to an MLP the trainer trained on a table (50 steps), and
// Generate of 16 bytes from the builtin tiny transformer. speedup = per_call p50 ÷ pooled p50.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { commonV1, evaluatorV1 as ev, trainerV1 } from '@floe/contracts';
import { Rng } from '@floe/random';
import { call, collect, createClient, createLogger, loadConfig, startServer } from '@floe/service-kit';
import { createEvaluatorService } from '@floe/evaluator';
import { createTrainerService } from '@floe/trainer';
import { quantile } from './stats.js';

const json = process.argv.includes('--json');
const callsArg = process.argv.indexOf('--calls');
const calls = callsArg > 0 ? Number(process.argv[callsArg + 1]) : 20;
const log = (s: string) => process.stderr.write(s + '\n');

const home = mkdtempSync(join(tmpdir(), 'floe-bench-model-calls-'));
mkdirSync(join(home, 'data'));
const rng = new Rng(1);
const COLOURS = ['red', 'green', 'blue'];
const table = Array.from({ length: 300 }, () => {
  const colour = COLOURS[rng.int(3)]!;
  const size = rng.normal();
  return `${colour},${size.toFixed(4)},${colour === 'red' ? 'warm' : size > 0 ? 'big' : 'small'}`;
});
writeFileSync(join(home, 'data', 'train.csv'), `colour,size,label\n${table.join('\n')}\n`);

const quiet = createLogger('error');
const base = { FLOE_HOME: home, FLOE_ADDRESS: '127.0.0.1:0', FLOE_DATA_ROOTS: join(home, 'data') };
const pooledConfig = loadConfig({ ...base, FLOE_SERVICES: 'trainer,evaluator' });
const pooledServer = await startServer({
  config: pooledConfig,
  services: [
    createTrainerService({ config: pooledConfig, log: quiet }),
    createEvaluatorService({ config: pooledConfig, log: quiet }),
  ],
  log: quiet,
});
// The per-call evaluator reaches the same trainer for the run's checkpoint, as a separate deployment would.
const perCallConfig = loadConfig({
  ...base,
  FLOE_SERVICES: 'evaluator',
  FLOE_TASK_WORKER_IDLE_MS: '0',
  FLOE_TRAINER_ADDRESS: pooledServer.address,
});
const perCallServer = await startServer({
  config: perCallConfig,
  services: [createEvaluatorService({ config: perCallConfig, log: quiet })],
  log: quiet,
});

const trainer = createClient(trainerV1.TrainerServiceClient, pooledServer.address);
const spec = trainerV1.RunSpec.fromPartial({
  baseModel: {
    source: {
      $case: 'builtin',
      value: { architecture: commonV1.ModelArchitecture.MODEL_ARCHITECTURE_MLP, size: 'small', seed: 1 },
    },
  },
  dataset: { uri: 'file:train.csv' },
  strategy: trainerV1.Strategy.STRATEGY_FULL,
  optimizer: { learningRate: 0.01 },
  batchSize: 32,
  budgetSteps: 50,
  seed: 1,
});
const { run } = await call(trainer.startRun.bind(trainer), { requestId: '', spec });
const events = await collect(trainer.watchRun({ runId: run!.runId, fromStep: 0 }));
const trained = (events.at(-1)!.event as { value: trainerV1.Run }).value;
if (trained.state !== commonV1.RunState.RUN_STATE_PAUSED) throw new Error(`training failed: ${trained.error}`);
log(`trained an MLP for ${trained.step} steps (run ${trained.runId})`);

const rows = Array.from({ length: 10 }, (_, i) => ({ colour: COLOURS[i % 3], size: (i - 5) / 3 }));
const kinds = {
  predict: (client: ev.EvaluatorServiceClient) =>
    collect(
      client.predict({
        model: { source: { $case: 'run', value: { runId: trained.runId, step: 0, best: false } } },
        dataset: undefined,
        idColumn: '',
        batchSize: 0,
        rows,
      }),
    ),
  generate: (client: ev.EvaluatorServiceClient) =>
    collect(
      client.generate(
        ev.GenerateRequest.fromPartial({
          model: {
            source: {
              $case: 'builtin',
              value: {
                architecture: commonV1.ModelArchitecture.MODEL_ARCHITECTURE_TRANSFORMER_LM,
                size: 'tiny',
                seed: 1,
              },
            },
          },
          prompt: 'the cat ',
          maxBytes: 16,
          greedy: true,
        }),
      ),
    ),
};
const clients = {
  per_call: createClient(ev.EvaluatorServiceClient, perCallServer.address),
  pooled: createClient(ev.EvaluatorServiceClient, pooledServer.address),
};

const result: Record<
  string,
  { per_call: { p50: number; p90: number }; pooled: { p50: number; p90: number }; speedup: number }
> = {};
for (const [kind, once] of Object.entries(kinds)) {
  const ms: Record<keyof typeof clients, number[]> = { per_call: [], pooled: [] };
  // One call each first: the pooled server's first call starts its worker, as any first call does.
  for (const client of Object.values(clients)) await once(client);
  for (let i = 0; i < calls; i++)
    for (const [way, client] of Object.entries(clients) as [keyof typeof clients, ev.EvaluatorServiceClient][]) {
      const t0 = performance.now();
      await once(client);
      ms[way].push(performance.now() - t0);
    }
  const at = (way: keyof typeof clients) => ({
    p50: Math.round(quantile(ms[way], 0.5)),
    p90: Math.round(quantile(ms[way], 0.9)),
  });
  result[kind] = { per_call: at('per_call'), pooled: at('pooled'), speedup: 0 };
  result[kind].speedup = Math.round((result[kind].per_call.p50 / result[kind].pooled.p50) * 10) / 10;
  log(
    `${kind.padEnd(9)} per call p50 ${result[kind].per_call.p50} ms (p90 ${result[kind].per_call.p90}), pooled p50 ${result[kind].pooled.p50} ms (p90 ${result[kind].pooled.p90}): ×${result[kind].speedup} (${calls} calls each)`,
  );
}

for (const c of Object.values(clients)) c.close();
trainer.close();
await perCallServer.shutdown();
await pooledServer.shutdown();
rmSync(home, { recursive: true, force: true });
if (json) process.stdout.write(JSON.stringify({ calls, ...result }) + '\n');
