// The house rule for heavy compute: TF.js work runs in worker threads. While ScoreBlocks and an
// evaluation of the bench transformer (d_model 256) run, the server's event loop keeps answering health
// checks and GetRun within 50 ms. The server is `floe up` in its own process, as an operator runs it: the
// callers here are a health checker and a client, whose own garbage collection is not the server's.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { commonV1, dataProfilerV1 as dp, evaluatorV1 as ev, trainerV1 } from '@floe/contracts';
import { call, createClient } from '@floe/service-kit';
import { healthClient, spawnFloe, tempDir, type FloeProcess } from '@floe/testing';

const home = tempDir();
let server: FloeProcess;

before(async () => {
  server = await spawnFloe(home.path, {
    FLOE_SERVICES: 'trainer,data-profiler,evaluator',
    FLOE_TF_BACKEND: process.env.FLOE_TF_BACKEND ?? 'wasm',
  });
});

after(async () => {
  server.child.kill('SIGTERM');
  await server.exited;
  home.remove();
});

const bench: commonV1.ModelRef = {
  source: {
    $case: 'builtin',
    value: { architecture: commonV1.ModelArchitecture.MODEL_ARCHITECTURE_TRANSFORMER_LM, size: 'bench', seed: 1 },
  },
};

/** Resolves once the stream has sent its first message; `ended` once it ends. */
function follow<T>(stream: import('@grpc/grpc-js').ClientReadableStream<T>) {
  let first!: () => void;
  const started = new Promise<void>((r) => (first = r));
  const ended = new Promise<void>((resolve, reject) => {
    stream.on('data', () => first());
    stream.on('error', reject);
    stream.on('end', resolve);
  });
  return { started, ended };
}

test(
  'every health and GetRun call answers within 50 ms while ScoreBlocks and a bench-transformer evaluation run',
  { timeout: 300_000 },
  async (t) => {
    const trainer = createClient(trainerV1.TrainerServiceClient, server.address);
    const profiler = createClient(dp.DataProfilerServiceClient, server.address);
    const evaluator = createClient(ev.EvaluatorServiceClient, server.address);
    // One channel per client, as a load balancer's health checker keeps it.
    const health = healthClient(server.address);
    const { run } = await call(trainer.startRun.bind(trainer), {
      requestId: '',
      spec: trainerV1.RunSpec.fromPartial({
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
        batchSize: 2,
        sequenceLength: 16,
        budgetSteps: 1,
      }),
    });
    const scoring = follow(
      profiler.scoreBlocks(
        dp.ScoreBlocksRequest.fromPartial({
          model: bench,
          dataset: { uri: 'builtin:spam-assassin' },
          calibrationBatches: 16,
          batchSize: 8,
          sequenceLength: 128,
        }),
      ),
    );
    const evaluation = follow(
      evaluator.evaluate(
        ev.EvaluateRequest.fromPartial({ model: bench, suites: ['spam-assassin'], bootstrapSamples: 50 }),
      ),
    );
    await Promise.all([scoring.started, evaluation.started]);
    let busy = true;
    void Promise.race([scoring.ended, evaluation.ended]).finally(() => (busy = false));
    const latencies: number[] = [];
    const timed = async <T>(work: () => Promise<T>): Promise<T> => {
      const t0 = performance.now();
      const result = await work();
      latencies.push(performance.now() - t0);
      return result;
    };
    while (busy) {
      const status = await timed(
        () =>
          new Promise<string>((resolve, reject) =>
            health.check({ service: '' }, (err, res) => (err ? reject(err) : resolve(String(res.status)))),
          ),
      );
      assert.equal(status, 'SERVING');
      await timed(() => call(trainer.getRun.bind(trainer), { runId: run!.runId }));
      await new Promise((r) => setTimeout(r, 25));
    }
    await Promise.all([scoring.ended, evaluation.ended]);
    for (const c of [trainer, profiler, evaluator, health]) c.close();
    assert.ok(latencies.length >= 10, `${latencies.length} calls while both ran`);
    const worst = Math.max(...latencies);
    const sorted = [...latencies].sort((a, b) => a - b);
    const p99 = sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.99))]!;
    t.diagnostic(
      `${latencies.length} calls; median ${sorted[sorted.length >> 1]!.toFixed(1)} ms, p99 ${p99.toFixed(1)} ms, worst ${worst.toFixed(1)} ms`,
    );
    // Every call within 50 ms is the promise. Compute threads run under SCHED_IDLE; on a 2-core machine
    // single calls have come within 27–44 ms of it over twelve CI runs (the event loop and the caller are
    // descheduled in favour of V8's helper threads now and then). TF.js on the event loop would block for
    // seconds.
    assert.ok(worst < 50, `slowest health or GetRun ${worst.toFixed(1)} ms of ${latencies.length}`);
  },
);
