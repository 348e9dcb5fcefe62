// npm run bench:cluster [-- --json] [-- --runs 12] [-- --steps 40] [-- --lease-ms 2000]
// Cluster mode on this machine: trainer replicas (child processes, one native thread each) sharing one
// throwaway PostgreSQL and one FLOE_HOME. Measures, side by side in one run:
//   - runs per minute with 1, 2 and 3 replicas on the same queue of small runs (tiny byte LM, e-mails);
//   - GetRun latency (p50, p99) from a replica that is not training the run, while it trains elsewhere;
//   - takeover: seconds from a SIGKILL of the replica training a run until another replica trains it.
// The machine has 2 cores: three replicas share them, so the throughput ratio says what the queue costs,
// not what three GPU nodes would give.
import { commonV1, trainerV1 } from '@floe/contracts';
import { call, createClient } from '@floe/service-kit';
import { spawnFloe, startPostgres, tempDir, type FloeProcess } from '@floe/testing';
import { quantile } from './stats.js';

const json = process.argv.includes('--json');
const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
};
const RUNS = arg('--runs', 12);
const STEPS = arg('--steps', 40);
const LEASE_MS = arg('--lease-ms', 2000);
const log = (s: string) => process.stderr.write(s + '\n');
const R = commonV1.RunState;

interface Replica extends FloeProcess {
  name: string;
  client: trainerV1.TrainerServiceClient;
}

const spec = (seed: number, budget: number) =>
  trainerV1.RunSpec.fromPartial({
    baseModel: {
      source: {
        $case: 'builtin',
        value: { architecture: commonV1.ModelArchitecture.MODEL_ARCHITECTURE_TRANSFORMER_LM, size: 'tiny', seed },
      },
    },
    dataset: { uri: 'builtin:spam-assassin' },
    strategy: trainerV1.Strategy.STRATEGY_FULL,
    optimizer: { kind: trainerV1.OptimizerKind.OPTIMIZER_KIND_ADAMW, learningRate: 2e-3, gradClipNorm: 1 },
    batchSize: 8,
    sequenceLength: 64,
    budgetSteps: budget,
    checkpointIntervalSteps: 20,
    seed,
  });

const pg = await startPostgres();
const live: Replica[] = [];

async function replicas(n: number, round: string): Promise<Replica[]> {
  const home = tempDir();
  const out: Replica[] = [];
  for (let i = 0; i < n; i++) {
    const name = `${round}-${i}`;
    const floe = await spawnFloe(home.path, {
      FLOE_SERVICES: 'trainer',
      // One database for every round: earlier rounds' runs are all finished and never claimed again.
      FLOE_DATABASE_URL: pg.url,
      FLOE_REPLICA_ID: name,
      FLOE_LEASE_MS: String(LEASE_MS),
      FLOE_MAX_CONCURRENT_RUNS: '1',
      FLOE_THREADS: '1',
      FLOE_TF_BACKEND: process.env.FLOE_TF_BACKEND ?? 'auto',
    });
    out.push({ ...floe, name, client: createClient(trainerV1.TrainerServiceClient, floe.address) });
  }
  live.push(...out);
  return out;
}

async function stopAll(rs: Replica[]): Promise<void> {
  for (const r of rs) {
    r.client.close();
    r.child.kill('SIGTERM');
    await r.exited;
  }
}

const getRun = async (r: Replica, runId: string) => (await call(r.client.getRun.bind(r.client), { runId })).run!;

async function until<T>(ms: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 50));
  }
}

try {
  const runsPerMinute: Record<string, number> = {};
  for (const n of [1, 2, 3]) {
    // Each round its own replicas and FLOE_HOME.
    const rs = await replicas(n, `round${n}`);
    const t0 = performance.now();
    const ids: string[] = [];
    for (let i = 0; i < RUNS; i++)
      ids.push(
        (await call(rs[0]!.client.startRun.bind(rs[0]!.client), { requestId: '', spec: spec(i + 1, STEPS) })).run!
          .runId,
      );
    let done = 0;
    await until(30 * 60_000, async () => {
      const states = await Promise.all(ids.map((id) => getRun(rs[rs.length - 1]!, id)));
      const now = states.filter((r) => r.state === R.RUN_STATE_PAUSED).length;
      if (now !== done) process.stderr.write(`\r  ${n} replica(s): ${(done = now)} of ${RUNS} runs done   `);
      return now === RUNS ? true : undefined;
    });
    const minutes = (performance.now() - t0) / 60_000;
    runsPerMinute[n] = Math.round((RUNS / minutes) * 100) / 100;
    log(
      `\r  ${n} replica(s): ${RUNS} runs of ${STEPS} steps in ${(minutes * 60).toFixed(1)} s → ${runsPerMinute[n]} runs/min`,
    );
    if (n < 3) await stopAll(rs);
    else {
      // GetRun from a replica that is not training the run, while it trains.
      const running = (
        await call(rs[0]!.client.startRun.bind(rs[0]!.client), { requestId: '', spec: spec(99, 100_000) })
      ).run!;
      const owner = await until(60_000, async () => {
        const r = await getRun(rs[0]!, running.runId);
        return r.state === R.RUN_STATE_RUNNING && r.step > 0 ? r.replicaId : undefined;
      });
      const other = rs.find((r) => r.name !== owner)!;
      const times: number[] = [];
      for (let i = 0; i < 500; i++) {
        const t = performance.now();
        await getRun(other, running.runId);
        times.push(performance.now() - t);
      }
      const p50 = quantile(times, 0.5);
      const p99 = quantile(times, 0.99);
      log(
        `  GetRun from a replica not training the run: p50 ${p50.toFixed(2)} ms, p99 ${p99.toFixed(2)} ms (500 calls)`,
      );
      // The takeover.
      const victim = rs.find((r) => r.name === owner)!;
      const before = (await getRun(other, running.runId)).step;
      victim.child.kill('SIGKILL');
      const killed = performance.now();
      const taken = await until(30 * LEASE_MS, async () => {
        const r = await getRun(other, running.runId);
        return r.takeovers === 1 && r.state === R.RUN_STATE_RUNNING && r.step > before ? r : undefined;
      });
      const takeoverS = (performance.now() - killed) / 1000;
      log(
        `  takeover: ${takeoverS.toFixed(2)} s from the SIGKILL until ${taken.replicaId} stored a new step (lease ${LEASE_MS} ms)`,
      );
      await call(other.client.cancelRun.bind(other.client), { runId: running.runId, requestId: '' });
      await stopAll(rs.filter((r) => r !== victim));
      const result = {
        design: {
          runs: RUNS,
          steps: STEPS,
          model: 'transformer-lm tiny, batch 8 × 64 bytes',
          lease_ms: LEASE_MS,
          cores: 2,
          threads_per_replica: 1,
        },
        runs_per_minute: runsPerMinute,
        speedup: { 2: runsPerMinute[2]! / runsPerMinute[1]!, 3: runsPerMinute[3]! / runsPerMinute[1]! },
        getrun_p50_ms_other_replica: Math.round(p50 * 100) / 100,
        getrun_p99_ms_other_replica: Math.round(p99 * 100) / 100,
        takeover_s: Math.round(takeoverS * 100) / 100,
      };
      log(
        `runs/min: 1 → ${runsPerMinute[1]}, 2 → ${runsPerMinute[2]} (${result.speedup[2].toFixed(2)}x), 3 → ${runsPerMinute[3]} (${result.speedup[3].toFixed(2)}x)`,
      );
      if (json) console.log(JSON.stringify(result));
    }
  }
} finally {
  for (const r of live) r.child.kill('SIGKILL');
  pg.remove();
}
