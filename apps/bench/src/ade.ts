// npm run bench:ade [-- --json] [-- --quick]
// The adaptation study (issue: evaluator and the adaptation study), run against floe's own services in
// this process through their gRPC clients:
//   1. pre-train a byte-level transformer LM (transformer-lm small: d_model 128, 4 blocks, 4 heads) on the
//      e-mails (builtin:spam-assassin) — cached: the run is found by its request id on a rerun;
//   2. continue it on TypeScript declarations (builtin:typescript-lib) with FULL, FULL_REPLAY (25 % of each
//      batch from the e-mails), FREEZE (blocks 0 and 1), EXPAND (two copies spread evenly) and ADE (no plan
//      in the request: the trainer asks the data-profiler, and its whole plan applies), all with the same
//      token budget, schedule and seed;
//   3. the evaluator compares each with the base on held-out e-mails (old domain) and held-out code (new
//      domain): bits per byte, the old-domain increase (forgetting) with its paired bootstrap error.
// State lives in $FLOE_BENCH_HOME (default .floe/bench-ade), so the pre-trained model survives reruns.
import { mkdirSync, writeFileSync } from 'node:fs';
import { scatterSvg } from './plot.js';
import { join, resolve } from 'node:path';
import { commonV1, dataProfilerV1, evaluatorV1, trainerV1 } from '@floe/contracts';
import { call, collect, createClient, createLogger, loadConfig, startServer } from '@floe/service-kit';
import { createTrainerService } from '@floe/trainer';
import { createDataProfilerService } from '@floe/data-profiler';
import { createEvaluatorService } from '@floe/evaluator';

const json = process.argv.includes('--json');
const quick = process.argv.includes('--quick');
const log = (s: string) => process.stderr.write(s + '\n');
const round = (x: number, d = 3) => Math.round(x * 10 ** d) / 10 ** d;

const PRETRAIN_STEPS = quick ? 200 : 1500;
const ADAPT_STEPS = quick ? 60 : 400;
const BATCH = 16;
const SEQ = 128;
const LR = 1e-3;
const SEED = 1;
const EVAL_SEQUENCES = quick ? 128 : 512;

const root = new URL('../../..', import.meta.url).pathname;
const home = resolve(process.env.FLOE_BENCH_HOME ?? join(root, '.floe', quick ? 'bench-ade-quick' : 'bench-ade'));
const suitesDir = join(home, 'suites');
mkdirSync(suitesDir, { recursive: true });
for (const [name, uri] of [
  ['ade-old', 'builtin:spam-assassin'],
  ['ade-new', 'builtin:typescript-lib'],
]) {
  writeFileSync(
    join(suitesDir, `${name}.yaml`),
    `name: ${name}\ntask: language-model\ndataset: ${uri}\nsplit: test\nmetrics: [bits_per_byte]\nsamples: ${EVAL_SEQUENCES}\nsequence_length: ${SEQ}\nbatch_size: 32\ndescription: held-out ${uri} for the adaptation study\n`,
  );
}

const config = loadConfig({
  ...process.env,
  FLOE_HOME: home,
  FLOE_ADDRESS: '127.0.0.1:0',
  FLOE_MAX_CONCURRENT_RUNS: '1',
  FLOE_SUITES_DIR: suitesDir,
  FLOE_SHUTDOWN_GRACE_MS: '30000',
});
const quiet = createLogger('warn');
const server = await startServer({
  config,
  services: [
    createTrainerService({ config, log: quiet }),
    createDataProfilerService({ config, log: quiet }),
    createEvaluatorService({ config, log: quiet }),
  ],
  log: quiet,
});
const trainer = createClient(trainerV1.TrainerServiceClient, server.address);
const evaluator = createClient(evaluatorV1.EvaluatorServiceClient, server.address);
const stop = async () => {
  trainer.close();
  evaluator.close();
  await server.shutdown();
};
process.once('SIGINT', () => void stop().then(() => process.exit(130)));

const schedule = (steps: number) => ({
  kind: trainerV1.ScheduleKind.SCHEDULE_KIND_COSINE,
  warmupSteps: Math.round(0.06 * steps),
  warmupRatio: 0,
  minLrRatio: 0.1,
});
const common = {
  optimizer: {
    kind: trainerV1.OptimizerKind.OPTIMIZER_KIND_ADAMW,
    learningRate: LR,
    beta1: 0.9,
    beta2: 0.999,
    epsilon: 1e-8,
    weightDecay: 0,
    gradClipNorm: 1,
  },
  batchSize: BATCH,
  sequenceLength: SEQ,
  seed: SEED,
};

/** Watches a run to its end with a progress line on stderr; returns the stopped run and its wall time. */
async function follow(runId: string, label: string): Promise<{ run: trainerV1.Run; wallS: number }> {
  const t0 = performance.now();
  const stream = trainer.watchRun({ runId, fromStep: 0 });
  let run: trainerV1.Run | undefined;
  for await (const e of stream as AsyncIterable<trainerV1.WatchRunResponse>) {
    if (e.event?.$case === 'step') {
      const s = e.event.value;
      if (s.step % 10 === 0)
        process.stderr.write(
          `\r  ${label.padEnd(12)} step ${String(s.step).padStart(5)}  loss ${(s.trainLoss / Math.LN2).toFixed(3)} bits/byte  ${Math.round(s.throughput)} bytes/s   `,
        );
    }
    if (e.event?.$case === 'run') run = e.event.value;
  }
  process.stderr.write('\n');
  if (!run || run.state !== commonV1.RunState.RUN_STATE_PAUSED)
    throw new Error(
      `${label}: the run ended ${run ? commonV1.runStateToJSON(run.state) : 'without a state'} ${run?.error ?? ''}`,
    );
  return { run, wallS: (performance.now() - t0) / 1000 };
}

try {
  // 1. The base model, cached across reruns by its request id.
  const t0 = performance.now();
  const baseSpec = trainerV1.RunSpec.fromPartial({
    ...common,
    baseModel: {
      source: {
        $case: 'builtin',
        value: {
          architecture: commonV1.ModelArchitecture.MODEL_ARCHITECTURE_TRANSFORMER_LM,
          size: 'small',
          seed: SEED,
        },
      },
    },
    dataset: { uri: 'builtin:spam-assassin' },
    strategy: trainerV1.Strategy.STRATEGY_FULL,
    schedule: schedule(PRETRAIN_STEPS),
    budgetSteps: PRETRAIN_STEPS,
    checkpointIntervalSteps: 250,
  });
  let base = (
    await call(trainer.startRun.bind(trainer), {
      requestId: `ade-base-small-${PRETRAIN_STEPS}-${SEED}`,
      spec: baseSpec,
    })
  ).run!;
  if (base.state === commonV1.RunState.RUN_STATE_INTERRUPTED)
    base = (await call(trainer.resumeRun.bind(trainer), { runId: base.runId, additionalSteps: 0, requestId: '' })).run!;
  const cached = base.state === commonV1.RunState.RUN_STATE_PAUSED && base.step === PRETRAIN_STEPS;
  log(
    cached
      ? `base model: cached run ${base.runId} (${PRETRAIN_STEPS} steps)`
      : `pre-training the base model on e-mails: ${PRETRAIN_STEPS} steps of ${BATCH} × ${SEQ} bytes`,
  );
  if (!cached) base = (await follow(base.runId, 'pre-train')).run;
  const pretrainS = (performance.now() - t0) / 1000;
  const baseRef: commonV1.ModelRef = { source: { $case: 'run', value: { runId: base.runId, step: 0 } } };

  // 2. The strategies, one after another, same budget, schedule and seed.
  const adapt = (over: Partial<trainerV1.RunSpec>) =>
    trainerV1.RunSpec.fromPartial({
      ...common,
      baseModel: baseRef,
      dataset: { uri: 'builtin:typescript-lib' },
      schedule: schedule(ADAPT_STEPS),
      budgetSteps: ADAPT_STEPS,
      ...over,
    });
  const replay = (fraction: number) => ({
    replayDataset: { uri: 'builtin:spam-assassin', split: 0, maxExamples: 0 },
    replayFraction: fraction,
  });
  const strategies: [string, trainerV1.RunSpec][] = [
    ['FULL', adapt({ strategy: trainerV1.Strategy.STRATEGY_FULL })],
    ['FULL_REPLAY', adapt({ strategy: trainerV1.Strategy.STRATEGY_FULL, mixture: replay(0.25) })],
    ['FREEZE', adapt({ strategy: trainerV1.Strategy.STRATEGY_FREEZE, freezeBlockIds: ['block.0', 'block.1'] })],
    ['EXPAND', adapt({ strategy: trainerV1.Strategy.STRATEGY_EXPAND, expansion: { afterBlockIds: [], count: 2 } })],
    ['ADE', adapt({ strategy: trainerV1.Strategy.STRATEGY_ADE, mixture: replay(0) })],
  ];
  const runs: Record<string, { run: trainerV1.Run; wallS: number }> = {};
  let adePlan: commonV1.AdaptationPlan | undefined;
  for (const [name, spec] of strategies) {
    const { run } = await call(trainer.startRun.bind(trainer), { requestId: '', spec });
    if (name === 'ADE') {
      adePlan = run!.spec!.plan;
      log(
        `ADE plan from the data-profiler: expand after ${adePlan?.expansions.map((e) => e.afterBlockId).join(', ') || 'none'}; tune ${adePlan?.tuneBlockIds.join(', ') || 'none'}; freeze ${adePlan?.freezeBlockIds.join(', ') || 'none'}; replay ${adePlan?.replayFraction}; lr ${adePlan?.learningRate}`,
      );
      for (const d of adePlan?.decisions ?? [])
        log(
          `    ${d.blockId.padEnd(14)} ${commonV1.blockActionToJSON(d.action).replace('BLOCK_ACTION_', '').toLowerCase().padEnd(7)} ${d.reason}`,
        );
    }
    runs[name] = await follow(run!.runId, name);
  }

  // 3. Each strategy against the base, on the same held-out sequences (paired errors).
  log('evaluating …');
  const results: Record<string, Record<string, number>> = {};
  let baseBpb: { old: number; new: number; oldStderr: number; newStderr: number } | undefined;
  for (const [name] of strategies) {
    const events = await collect(
      evaluator.compareModels(
        evaluatorV1.CompareModelsRequest.fromPartial({
          stages: [baseRef, { source: { $case: 'run', value: { runId: runs[name]!.run.runId, step: 0 } } }],
          suites: ['ade-old', 'ade-new'],
          metric: 'bits_per_byte',
          bootstrapSamples: 1000,
          seed: 5,
          skipRandomInit: true,
        }),
      ),
    );
    const r = (events.at(-1)!.event as { value: evaluatorV1.ForgettingReport }).value;
    const R = r.rMatrix!.values; // [base old, base new, stage old, stage new]
    const se = r.rStderr!.values;
    baseBpb ??= { old: R[0]!, new: R[1]!, oldStderr: se[0]!, newStderr: se[1]! };
    results[name] = {
      new_bpb: round(R[3]!),
      new_bpb_stderr: round(se[3]!, 4),
      old_bpb: round(R[2]!),
      old_bpb_increase: round(R[2]! - R[0]!),
      // Paired over the same sequences: the error of the increase itself.
      old_bpb_increase_stderr: round(r.gainsStderr!.values[2]!, 4),
      new_bpb_gain_over_base: round(R[1]! - R[3]!),
      trainable_params: runs[name]!.run.trainableParams,
      total_params: runs[name]!.run.totalParams,
      wall_s: round(runs[name]!.wallS, 1),
    };
  }
  const full = results.FULL!;
  const ade = results.ADE!;
  const fullReplay = results.FULL_REPLAY!;
  const result = {
    design: {
      model: 'transformer-lm small: byte-level, d_model 128, 4 blocks, 4 heads, context 128',
      pretrain: `builtin:spam-assassin, ${PRETRAIN_STEPS} steps × ${BATCH} × ${SEQ} bytes`,
      adapt: `builtin:typescript-lib, ${ADAPT_STEPS} steps × ${BATCH} × ${SEQ} bytes each`,
      optimizer: `AdamW lr ${LR}, cosine with 6 % warm-up to 0.1×, clip 1.0, no weight decay, seed ${SEED}`,
      evaluation: `${EVAL_SEQUENCES} held-out sequences of ${SEQ} bytes per domain (test splits), bootstrap 1000`,
    },
    base: {
      new_bpb: round(baseBpb!.new),
      old_bpb: round(baseBpb!.old),
      new_bpb_stderr: round(baseBpb!.newStderr, 4),
      old_bpb_stderr: round(baseBpb!.oldStderr, 4),
      pretrain_s: round(pretrainS, 1),
      cached,
    },
    strategies: results,
    ade_plan: adePlan ? dataProfilerV1.AdaptationPlanResult.toJSON({ plan: adePlan }) : undefined,
    ade_forgetting_ratio: round(ade.old_bpb_increase! / full.old_bpb_increase!),
    ade_new_bpb_vs_full: round(ade.new_bpb! / full.new_bpb! - 1, 4),
    full_replay_forgetting_ratio: round(fullReplay.old_bpb_increase! / full.old_bpb_increase!),
    full_new_bpb_improvement: round(1 - full.new_bpb! / baseBpb!.new, 4),
    total_s: round((performance.now() - t0) / 1000, 1),
  };
  log('');
  log(`base: new ${result.base.new_bpb} bits/byte, old ${result.base.old_bpb} bits/byte`);
  log(
    `${'strategy'.padEnd(12)} ${'new bpb'.padStart(8)} ${'vs FULL'.padStart(8)} ${'old bpb'.padStart(8)} ${'forgetting'.padStart(11)} ${'± se'.padStart(7)} ${'× FULL'.padStart(7)} ${'trainable'.padStart(10)} ${'wall s'.padStart(7)}`,
  );
  for (const [name, r] of Object.entries(results)) {
    log(
      `${name.padEnd(12)} ${r.new_bpb!.toFixed(3).padStart(8)} ${`${((r.new_bpb! / full.new_bpb! - 1) * 100).toFixed(1)}%`.padStart(8)} ${r.old_bpb!.toFixed(3).padStart(8)} ${`+${r.old_bpb_increase!.toFixed(3)}`.padStart(11)} ${r.old_bpb_increase_stderr!.toFixed(3).padStart(7)} ${(r.old_bpb_increase! / full.old_bpb_increase!).toFixed(2).padStart(7)} ${String(r.trainable_params).padStart(10)} ${r.wall_s!.toFixed(0).padStart(7)}`,
    );
  }
  log(
    `ADE forgetting ${result.ade_forgetting_ratio}× FULL's (target ≤ 0.3); new-domain bits/byte ${(result.ade_new_bpb_vs_full * 100).toFixed(1)}% from FULL's (target within 5 %)`,
  );
  // The trade-off at a glance: forgetting against what was learned, one point per strategy.
  const plot = join(home, 'ade.svg');
  writeFileSync(
    plot,
    scatterSvg({
      title: `Continued training on code after e-mails: ${ADAPT_STEPS} steps each`,
      xLabel: 'new-domain bits per byte (code; lower is better)',
      yLabel: 'forgetting: old-domain bits per byte increase (lower is better)',
      points: [
        { label: 'base', x: result.base.new_bpb, y: 0 },
        ...Object.entries(results).map(([label, r]) => ({
          label,
          x: r.new_bpb!,
          y: r.old_bpb_increase!,
          error: 2 * r.old_bpb_increase_stderr!,
        })),
      ],
    }),
  );
  log(`plot: ${plot}`);
  if (json) console.log(JSON.stringify({ ...result, plot }));
} finally {
  await stop();
}
