// npm run bench:ade [-- --json] [-- --quick] [-- --pair NAME[,NAME]] [-- --old REF --new REF] [-- --rerun TAG]
// The adaptation study (issues: evaluator and the adaptation study; adaptation that earns its name), run
// against floe's own services in this process through their gRPC clients, for each corpus pair (old → new):
//   1. pre-train a byte-level transformer LM (transformer-lm small: d_model 128, 4 blocks, 4 heads) on the
//      old corpus — cached per corpus: the run is found by its request id on a rerun;
//   2. ADE first (no plan in the request: the trainer asks the data-profiler, and its whole plan applies),
//      then its ablations at exactly the plan's replay fraction as realised in whole sequences of the batch:
//      FULL (no replay, the reference), FULL_REPLAY (replay alone), FREEZE_REPLAY (the plan's frozen blocks,
//      or blocks 0 and 1 when it freezes none, + replay), EXPAND_REPLAY (the plan's expansion sites, only the
//      copies train, + replay); same token budget, schedule and seed;
//   3. the evaluator compares all with the base on held-out old and new text (test splits, the same
//      sequences for every model): bits per byte, forgetting (the old-domain increase) with paired bootstrap
//      errors, and ADE against FULL_REPLAY directly (paired), which says what the architecture adds.
//   4. SEARCH (unless --no-search): the data-profiler's plan search (PlanAdaptation mode SEARCH) with a
//      forgetting budget of 0.3 × FULL's forgetting, its plan trained like the rules' plan, both scored
//      on new-domain bits per byte + 10 × forgetting past the budget.
// Pairs: emails-typescript (e-mails → TypeScript declarations), typescript-emails, emails-prose (e-mails →
// State of the Union addresses); all three by default, or --pair, or any --old/--new dataset references.
// Per pair and the mean over pairs. State lives in $FLOE_BENCH_HOME (default .floe/bench-ade).
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { scatterSvg } from './plot.js';
import { join, resolve } from 'node:path';
import { commonV1, dataProfilerV1, evaluatorV1, trainerV1 } from '@floe/contracts';
import { createHpoSurrogateService } from '@floe/hpo-surrogate';
import { call, collect, createClient, createLogger, loadConfig, startServer } from '@floe/service-kit';
import { createTrainerService } from '@floe/trainer';
import { createDataProfilerService } from '@floe/data-profiler';
import { createEvaluatorService } from '@floe/evaluator';

const json = process.argv.includes('--json');
const quick = process.argv.includes('--quick');
const log = (s: string) => process.stderr.write(s + '\n');
const round = (x: number, d = 3) => Math.round(x * 10 ** d) / 10 ** d;

const argValue = (name: string) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
};
const CORPORA = {
  emails: 'builtin:spam-assassin',
  typescript: 'builtin:typescript-lib',
  prose: 'builtin:sotu',
} as const;
const PAIRS: Record<string, { old: string; new: string }> = {
  'emails-typescript': { old: CORPORA.emails, new: CORPORA.typescript },
  'typescript-emails': { old: CORPORA.typescript, new: CORPORA.emails },
  'emails-prose': { old: CORPORA.emails, new: CORPORA.prose },
};
const selectedPairs: [string, { old: string; new: string }][] = (() => {
  const old = argValue('--old');
  const next = argValue('--new');
  if (old || next) {
    if (!old || !next) throw new Error('--old and --new go together');
    return [[`${old}→${next}`, { old, new: next }]];
  }
  const names = argValue('--pair')?.split(',') ?? Object.keys(PAIRS);
  for (const n of names)
    if (!PAIRS[n]) throw new Error(`--pair: unknown pair ${n}; pairs: ${Object.keys(PAIRS).join(', ')}`);
  return names.map((n) => [n, PAIRS[n]!]);
})();
/** A corpus reference as a name usable in ids and suite names. */
const slug = (ref: string) =>
  ref
    .replace(/^builtin:/, '')
    .replace(/[^A-Za-z0-9]+/g, '-')
    .slice(-60);

const PRETRAIN_STEPS = quick ? 200 : 1500;
const ADAPT_STEPS = quick ? 60 : 400;
const BATCH = 16;
const SEQ = 128;
const LR = 1e-3;
const SEED = 1;
const EVAL_SEQUENCES = quick ? 128 : 512;
// SEARCH: pilots worth one run's steps in all, the longest a quarter of a run, eight candidates; the
// forgetting budget is the target ratio (0.3) of what plain fine-tuning (FULL) forgets on the pair.
const search = !process.argv.includes('--no-search');
/** `--rerun TAG`: train every arm again under TAG (timing the study with its base models cached). */
const RERUN = argValue('--rerun');
const PILOTS = { pilotFraction: 1, maxPilotFraction: 0.25, maxCandidates: 8, fidelitySteps: 5 };
const BUDGET_RATIO = 0.3;
/** What the search minimises, as the data-profiler's default penalty scores it. */
const PENALTY = 10;

const root = new URL('../../..', import.meta.url).pathname;
/** Runs are cached by request id: a rerun reuses every finished arm whose inputs (the planner's rules
 * included) are unchanged, and resumes the one a stopped bench left. */
const digest = (...parts: string[]) => createHash('sha256').update(parts.join('\n')).digest('hex').slice(0, 12);
const plannerKey = digest(
  ...['plan.ts', 'defaults.ts'].map((f) => readFileSync(join(root, 'libs/adaptation/src', f), 'utf8')),
);
const home = resolve(process.env.FLOE_BENCH_HOME ?? join(root, '.floe', quick ? 'bench-ade-quick' : 'bench-ade'));
const suitesDir = join(home, 'suites');
mkdirSync(suitesDir, { recursive: true });
for (const uri of new Set(selectedPairs.flatMap(([, p]) => [p.old, p.new]))) {
  const name = `ade-${slug(uri)}`;
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
    createHpoSurrogateService({ config, log: quiet }),
  ],
  log: quiet,
});
const trainer = createClient(trainerV1.TrainerServiceClient, server.address);
const evaluator = createClient(evaluatorV1.EvaluatorServiceClient, server.address);
const profiler = createClient(dataProfilerV1.DataProfilerServiceClient, server.address);
const stop = async () => {
  trainer.close();
  evaluator.close();
  profiler.close();
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

/** Watches a run to its end with a progress line on stderr; returns the stopped run, its wall time and its
 * mean step time (from the steps' throughput, so queueing and start-up do not count). */
async function follow(
  runId: string,
  label: string,
  quietly = false,
): Promise<{ run: trainerV1.Run; wallS: number; stepMs: number }> {
  const t0 = performance.now();
  const stream = trainer.watchRun({ runId, fromStep: 0 });
  let run: trainerV1.Run | undefined;
  let stepMsTotal = 0;
  let steps = 0;
  for await (const e of stream as AsyncIterable<trainerV1.WatchRunResponse>) {
    if (e.event?.$case === 'step') {
      const s = e.event.value;
      stepMsTotal += (1000 * BATCH * SEQ) / s.throughput;
      steps++;
      if (s.step % 10 === 0 && !quietly)
        process.stderr.write(
          `\r  ${label.padEnd(14)} step ${String(s.step).padStart(5)}  loss ${(s.trainLoss / Math.LN2).toFixed(3)} bits/byte  ${Math.round(s.throughput)} bytes/s   `,
        );
    }
    if (e.event?.$case === 'run') run = e.event.value;
  }
  if (!quietly) process.stderr.write('\n');
  if (!run || run.state !== commonV1.RunState.RUN_STATE_PAUSED)
    throw new Error(
      `${label}: the run ended ${run ? commonV1.runStateToJSON(run.state) : 'without a state'} ${run?.error ?? ''}`,
    );
  return { run, wallS: (performance.now() - t0) / 1000, stepMs: steps ? stepMsTotal / steps : 0 };
}

/** Starts a run by its request id, or finds the one that id started (a stopped bench's is resumed). */
async function startOrReuse(
  requestId: string,
  spec: trainerV1.RunSpec,
  label: string,
): Promise<{ run: trainerV1.Run; wallS: number; stepMs: number; cached: boolean }> {
  let run = (await call(trainer.startRun.bind(trainer), { requestId, spec })).run!;
  const cached = run.state === commonV1.RunState.RUN_STATE_PAUSED && run.step >= spec.budgetSteps;
  if (
    run.state === commonV1.RunState.RUN_STATE_INTERRUPTED ||
    (run.state === commonV1.RunState.RUN_STATE_PAUSED && run.step < spec.budgetSteps)
  )
    run = (await call(trainer.resumeRun.bind(trainer), { runId: run.runId, additionalSteps: 0, requestId: '' })).run!;
  if (cached) log(`  ${label.padEnd(14)} cached run ${run.runId}`);
  return { ...(await follow(run.runId, label, cached)), cached };
}

/** The base model pre-trained on `old`, cached across reruns by its request id. */
async function baseModel(old: string): Promise<{ run: trainerV1.Run; cached: boolean; seconds: number }> {
  const t0 = performance.now();
  const spec = trainerV1.RunSpec.fromPartial({
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
    dataset: { uri: old },
    strategy: trainerV1.Strategy.STRATEGY_FULL,
    schedule: schedule(PRETRAIN_STEPS),
    budgetSteps: PRETRAIN_STEPS,
    checkpointIntervalSteps: 250,
  });
  let base = (
    await call(trainer.startRun.bind(trainer), {
      requestId: `ade-base-small-${PRETRAIN_STEPS}-${SEED}-${slug(old)}`,
      spec,
    })
  ).run!;
  // A base that a crash (INTERRUPTED) or a stopped bench (PAUSED below its budget) left unfinished continues.
  if (
    base.state === commonV1.RunState.RUN_STATE_INTERRUPTED ||
    (base.state === commonV1.RunState.RUN_STATE_PAUSED && base.step < PRETRAIN_STEPS)
  )
    base = (await call(trainer.resumeRun.bind(trainer), { runId: base.runId, additionalSteps: 0, requestId: '' })).run!;
  const cached = base.state === commonV1.RunState.RUN_STATE_PAUSED && base.step === PRETRAIN_STEPS;
  log(
    cached
      ? `base model on ${old}: cached run ${base.runId} (${PRETRAIN_STEPS} steps)`
      : `pre-training the base model on ${old}: ${PRETRAIN_STEPS} steps of ${BATCH} × ${SEQ} bytes`,
  );
  if (!cached) base = (await follow(base.runId, 'pre-train')).run;
  return { run: base, cached, seconds: (performance.now() - t0) / 1000 };
}

type Row = Record<string, number | string>;

/** One pair: base, ADE, its ablations, and the evaluation. */
async function study(name: string, pair: { old: string; new: string }) {
  log(`\n=== ${name}: ${pair.old} → ${pair.new}`);
  const base = await baseModel(pair.old);
  const baseRef: commonV1.ModelRef = {
    source: { $case: 'run', value: { runId: base.run.runId, step: 0, best: false } },
  };
  const adapt = (over: Partial<trainerV1.RunSpec>) =>
    trainerV1.RunSpec.fromPartial({
      ...common,
      baseModel: baseRef,
      dataset: { uri: pair.new },
      schedule: schedule(ADAPT_STEPS),
      budgetSteps: ADAPT_STEPS,
      // A rerun tag makes every arm (and the search's pilots) new runs; the base models stay cached.
      ...(RERUN && { labels: { rerun: RERUN } }),
      ...over,
    });
  const replay = (fraction: number) => ({
    replayDataset: { uri: pair.old, split: 0, maxExamples: 0, targetColumn: '', ignoreColumns: [] },
    replayFraction: fraction,
  });
  const runs: Record<string, { run: trainerV1.Run; wallS: number; stepMs: number; cached: boolean }> = {};

  // ADE first: its plan fixes the replay fraction and the sites the ablations use.
  const armId = (arm: string, spec: trainerV1.RunSpec) =>
    `ade-${slug(name)}-${arm}-${digest(plannerKey, JSON.stringify(trainerV1.RunSpec.toJSON(spec)))}`;
  const adeSpec = adapt({ strategy: trainerV1.Strategy.STRATEGY_ADE, mixture: replay(0) });
  runs.ADE = await startOrReuse(armId('ADE', adeSpec), adeSpec, 'ADE');
  const plan = runs.ADE.run.spec!.plan!;
  log(
    `ADE plan: expand after ${plan.expansions.map((e) => `${e.afterBlockId}×${Math.max(1, e.copies)}`).join(', ') || 'none'}; tune ${plan.tuneBlockIds.join(', ') || 'none'}; freeze ${plan.freezeBlockIds.join(', ') || 'none'}; replay ${plan.replayFraction}; lr ${plan.learningRate}`,
  );
  for (const d of plan.decisions)
    log(
      `    ${d.blockId.padEnd(14)} ${commonV1.blockActionToJSON(d.action).replace('BLOCK_ACTION_', '').toLowerCase().padEnd(7)} ${d.reason}`,
    );
  // As the batcher realises it: whole sequences of the batch.
  const realised = Math.round(plan.replayFraction * BATCH) / BATCH;
  const frozen = plan.freezeBlockIds.length ? plan.freezeBlockIds : ['block.0', 'block.1'];
  const sites = plan.expansions.flatMap((e) => Array<string>(Math.max(1, e.copies)).fill(e.afterBlockId));
  const lr = { ...common.optimizer, learningRate: runs.ADE.run.spec!.optimizer!.learningRate };
  const arms: [string, trainerV1.RunSpec][] = [
    ['FULL', adapt({ strategy: trainerV1.Strategy.STRATEGY_FULL })],
    ['FULL_REPLAY', adapt({ strategy: trainerV1.Strategy.STRATEGY_FULL, mixture: replay(realised), optimizer: lr })],
    [
      'FREEZE_REPLAY',
      adapt({
        strategy: trainerV1.Strategy.STRATEGY_FREEZE,
        freezeBlockIds: frozen,
        mixture: replay(realised),
        optimizer: lr,
      }),
    ],
    [
      'EXPAND_REPLAY',
      adapt({
        strategy: trainerV1.Strategy.STRATEGY_EXPAND,
        expansion: sites.length ? { afterBlockIds: sites, count: 0 } : { afterBlockIds: [], count: 2 },
        mixture: replay(realised),
        optimizer: lr,
      }),
    ],
  ];
  for (const [arm, spec] of arms) runs[arm] = await startOrReuse(armId(arm, spec), spec, arm);

  log('evaluating …');
  const order = ['FULL', 'FULL_REPLAY', 'FREEZE_REPLAY', 'EXPAND_REPLAY', 'ADE'];
  const refOf = (arm: string): commonV1.ModelRef => ({
    source: { $case: 'run', value: { runId: runs[arm]!.run.runId, step: 0, best: false } },
  });
  const compare = async (stages: commonV1.ModelRef[]) => {
    const events = await collect(
      evaluator.compareModels(
        evaluatorV1.CompareModelsRequest.fromPartial({
          stages,
          suites: [`ade-${slug(pair.old)}`, `ade-${slug(pair.new)}`],
          metric: 'bits_per_byte',
          bootstrapSamples: 1000,
          seed: 5,
          skipRandomInit: true,
        }),
      ),
    );
    return (events.at(-1)!.event as { value: evaluatorV1.ForgettingReport }).value;
  };
  // All models on the same sequences: R (stages × [old, new]), gains over the base with paired errors.
  const report = await compare([baseRef, ...order.map(refOf)]);
  const R = report.rMatrix!.values;
  const rSe = report.rStderr!.values;
  const gainSe = report.gainsStderr!.values;
  const at = (stage: number, suite: number) => R[stage * 2 + suite]!;
  const results: Record<string, Row> = {};
  order.forEach((arm, k) => {
    const stage = k + 1;
    results[arm] = {
      new_bpb: round(at(stage, 1)),
      new_bpb_stderr: round(rSe[stage * 2 + 1]!, 4),
      old_bpb: round(at(stage, 0)),
      old_bpb_increase: round(at(stage, 0) - at(0, 0)),
      // Paired over the same sequences: the error of the increase itself.
      old_bpb_increase_stderr: round(gainSe[stage * 2]!, 4),
      replay_fraction: arm === 'FULL' ? 0 : realised,
      trainable_params: runs[arm]!.run.trainableParams,
      total_params: runs[arm]!.run.totalParams,
      step_ms: round(runs[arm]!.stepMs, 1),
      // A cached arm's wall time is only its replay.
      wall_s: round(runs[arm]!.wallS, 1),
      cached: String(runs[arm]!.cached),
    };
  });
  // ADE against replay alone, paired: positive gains mean ADE is better on that domain.
  const direct = await compare([refOf('FULL_REPLAY'), refOf('ADE')]);
  const adeOverReplay = {
    forgetting_reduction: round(direct.gains!.values[2]!, 4),
    forgetting_reduction_stderr: round(direct.gainsStderr!.values[2]!, 4),
    new_bpb_gain: round(direct.gains!.values[3]!, 4),
    new_bpb_gain_stderr: round(direct.gainsStderr!.values[3]!, 4),
  };
  const full = results.FULL!;
  const ade = results.ADE!;

  // SEARCH: the plan the pilots choose within the budget, trained like the rules' plan and scored on the
  // same held-out sequences; both against the same objective.
  let searchOut: Record<string, unknown> | undefined;
  if (search) {
    const budget = round(BUDGET_RATIO * Number(full.old_bpb_increase), 4);
    log(
      `plan search: forgetting budget ${budget} bits/byte (${BUDGET_RATIO} × FULL's), pilots ${JSON.stringify(PILOTS)}`,
    );
    const stream = profiler.planAdaptation(
      dataProfilerV1.PlanAdaptationRequest.fromPartial({
        model: baseRef,
        dataset: { uri: pair.new },
        reference: { uri: pair.old },
        seed: SEED,
        mode: dataProfilerV1.PlanMode.PLAN_MODE_SEARCH,
        forgettingBudget: budget,
        search: {
          ...PILOTS,
          runTemplate: Buffer.from(
            trainerV1.RunSpec.encode(adapt({ strategy: trainerV1.Strategy.STRATEGY_ADE })).finish(),
          ),
        },
      }),
    );
    let result: dataProfilerV1.AdaptationPlanResult | undefined;
    for await (const e of stream as AsyncIterable<dataProfilerV1.PlanAdaptationResponse>) {
      if (e.event?.$case === 'progress') process.stderr.write(`\r  search: ${e.event.value.message}`.padEnd(90));
      if (e.event?.$case === 'result') result = e.event.value;
    }
    process.stderr.write('\n');
    const found = result!.search!;
    log(
      `  ${'candidate'.padEnd(48)} ${'step'.padStart(5)} ${'new bpb'.padStart(8)} ${'forgot'.padStart(7)} ${'objective'.padStart(9)}`,
    );
    const candidateRow = (label: string, p: dataProfilerV1.PilotPoint | undefined, width = 48) =>
      `${label.padEnd(width)} ${String(p?.step ?? 0).padStart(5)} ${p ? p.newLoss.toFixed(3).padStart(8) : '       -'} ${p ? p.forgetting.toFixed(3).padStart(7) : '      -'} ${p ? p.objective.toFixed(3).padStart(9) : '        -'}`;
    for (const [i, c] of found.candidates.entries()) {
      // At the step the candidates were compared at, or the pilot's last if it stopped short of it.
      const p = c.curve.find((x) => x.step === found.comparedStep) ?? c.curve.at(-1);
      log(`${i === found.winner ? '* ' : '  '}${candidateRow(c.label, p)}`);
    }
    const confirmation = found.confirmation;
    if (confirmation) {
      log(`  confirmation, ${confirmation.steps} steps each:`);
      for (const c of confirmation.candidates) log(`    ${candidateRow(c.label, c.curve.at(-1), 46)}`);
    }
    log(`  winner: ${found.reason}`);
    log(
      `  pilots: ${found.pilotSteps} steps (the confirmation's included), ${round(found.pilotFraction, 3)} × the run's`,
    );
    const plan = result!.plan!;
    const searchSpec = adapt({
      strategy: trainerV1.Strategy.STRATEGY_ADE,
      plan,
      mixture: replay(plan.replayFraction),
      optimizer: { ...common.optimizer, learningRate: plan.learningRate },
    });
    runs.SEARCH = await startOrReuse(armId('SEARCH', searchSpec), searchSpec, 'SEARCH');
    const scored = await compare([baseRef, refOf('ADE'), refOf('SEARCH')]);
    const r = scored.rMatrix!.values;
    const se = scored.gainsStderr!.values;
    const row = (stage: number) => {
      const forgetting = r[stage * 2]! - r[0]!;
      const newBpb = r[stage * 2 + 1]!;
      return {
        new_bpb: round(newBpb),
        forgetting: round(forgetting),
        forgetting_stderr: round(se[stage * 2]!, 4),
        objective: round(newBpb + PENALTY * Math.max(0, forgetting - budget)),
        within_budget: forgetting <= budget,
        replay_fraction: stage === 1 ? realised : round(Math.round(plan.replayFraction * BATCH) / BATCH, 4),
        trainable_params: runs[stage === 1 ? 'ADE' : 'SEARCH']!.run.trainableParams,
      };
    };
    const paired = await compare([refOf('ADE'), refOf('SEARCH')]);
    searchOut = {
      forgetting_budget: budget,
      pilot_steps: found.pilotSteps,
      pilot_fraction: round(found.pilotFraction, 4),
      winner: found.candidates[found.winner]!.label,
      compared_step: found.comparedStep,
      reason: found.reason,
      candidates: found.candidates.map((c) => ({
        label: c.label,
        pilot_steps: c.curve.at(-1)?.step ?? 0,
        curve: c.curve.map((p) => ({
          step: p.step,
          new_bpb: round(p.newLoss, 4),
          forgetting: round(p.forgetting, 4),
          objective: round(p.objective, 4),
        })),
      })),
      confirmation: confirmation && {
        steps: confirmation.steps,
        confirmed: confirmation.confirmed,
        reason: confirmation.reason,
        candidates: confirmation.candidates.map((c) => {
          const end = c.curve.at(-1);
          return {
            label: c.label,
            new_bpb: round(end?.newLoss ?? NaN, 4),
            forgetting: round(end?.forgetting ?? NaN, 4),
            objective: round(end?.objective ?? NaN, 4),
          };
        }),
      },
      rules: row(1),
      search: row(2),
      // Paired over the same sequences: positive means SEARCH's plan is better on that domain.
      search_over_rules: {
        forgetting_reduction: round(paired.gains!.values[2]!, 4),
        forgetting_reduction_stderr: round(paired.gainsStderr!.values[2]!, 4),
        new_bpb_gain: round(paired.gains!.values[3]!, 4),
        new_bpb_gain_stderr: round(paired.gainsStderr!.values[3]!, 4),
      },
      search_plan: dataProfilerV1.AdaptationPlanResult.toJSON({ plan }),
    };
    const a = searchOut.rules as ReturnType<typeof row>;
    const b = searchOut.search as ReturnType<typeof row>;
    log(
      `RULES plan: new ${a.new_bpb}, forgetting ${a.forgetting} (budget ${budget}) → objective ${a.objective}; SEARCH plan ("${String(searchOut.winner)}"): new ${b.new_bpb}, forgetting ${b.forgetting} → objective ${b.objective}`,
    );
  }

  const ratio = (arm: string) => round(Number(results[arm]!.old_bpb_increase) / Number(full.old_bpb_increase));
  const out = {
    old: pair.old,
    new: pair.new,
    base: {
      run_id: base.run.runId,
      new_bpb: round(at(0, 1)),
      old_bpb: round(at(0, 0)),
      new_bpb_stderr: round(rSe[1]!, 4),
      old_bpb_stderr: round(rSe[0]!, 4),
      pretrain_s: round(base.seconds, 1),
      cached: base.cached,
    },
    replay_fraction: { plan: plan.replayFraction, realised },
    strategies: results,
    forgetting_ratio: Object.fromEntries(order.map((arm) => [arm, ratio(arm)])),
    ade_forgetting_ratio: ratio('ADE'),
    ade_new_bpb_vs_full: round(Number(ade.new_bpb) / Number(full.new_bpb) - 1, 4),
    ade_over_full_replay: {
      ...adeOverReplay,
      // The claim that the architecture adds something: less forgetting by more than two standard errors,
      // and new-domain bits per byte no worse.
      beats_on_both_axes:
        adeOverReplay.forgetting_reduction > 2 * adeOverReplay.forgetting_reduction_stderr &&
        adeOverReplay.new_bpb_gain >= 0,
    },
    ade_plan: dataProfilerV1.AdaptationPlanResult.toJSON({ plan }),
    ...(searchOut ? { plan_search: searchOut } : {}),
  };
  log(`base: new ${out.base.new_bpb} bits/byte, old ${out.base.old_bpb} bits/byte`);
  log(
    `${'strategy'.padEnd(14)} ${'replay'.padStart(6)} ${'new bpb'.padStart(8)} ${'vs FULL'.padStart(8)} ${'old bpb'.padStart(8)} ${'forgetting'.padStart(11)} ${'± se'.padStart(7)} ${'× FULL'.padStart(7)} ${'trainable'.padStart(10)} ${'ms/step'.padStart(8)}`,
  );
  for (const arm of order) {
    const r = results[arm]!;
    log(
      `${arm.padEnd(14)} ${Number(r.replay_fraction).toFixed(3).padStart(6)} ${Number(r.new_bpb).toFixed(3).padStart(8)} ${`${((Number(r.new_bpb) / Number(full.new_bpb) - 1) * 100).toFixed(1)}%`.padStart(8)} ${Number(r.old_bpb).toFixed(3).padStart(8)} ${`+${Number(r.old_bpb_increase).toFixed(3)}`.padStart(11)} ${Number(r.old_bpb_increase_stderr).toFixed(3).padStart(7)} ${ratio(arm).toFixed(2).padStart(7)} ${String(r.trainable_params).padStart(10)} ${Number(r.step_ms).toFixed(0).padStart(8)}`,
    );
  }
  log(
    `ADE forgetting ${out.ade_forgetting_ratio}× FULL's (target ≤ 0.3); new-domain bits/byte ${(out.ade_new_bpb_vs_full * 100).toFixed(1)}% from FULL's (target within 5 %); ` +
      `ADE vs FULL_REPLAY (paired): forgetting ${adeOverReplay.forgetting_reduction >= 0 ? 'lower' : 'higher'} by ${Math.abs(adeOverReplay.forgetting_reduction)} ± ${adeOverReplay.forgetting_reduction_stderr}, new-domain ${adeOverReplay.new_bpb_gain >= 0 ? 'better' : 'worse'} by ${Math.abs(adeOverReplay.new_bpb_gain)} ± ${adeOverReplay.new_bpb_gain_stderr} → ${out.ade_over_full_replay.beats_on_both_axes ? 'beats it on both axes' : 'does not beat it on both axes'}`,
  );
  // The trade-off at a glance: forgetting against what was learned, one point per strategy.
  const plot = join(home, `ade-${slug(name)}.svg`);
  writeFileSync(
    plot,
    scatterSvg({
      title: `${pair.old} → ${pair.new}: ${ADAPT_STEPS} steps each`,
      xLabel: 'new-domain bits per byte (lower is better)',
      yLabel: 'forgetting: old-domain bits per byte increase (lower is better)',
      points: [
        { label: 'base', x: out.base.new_bpb, y: 0 },
        ...order.map((label) => ({
          label,
          x: Number(results[label]!.new_bpb),
          y: Number(results[label]!.old_bpb_increase),
          error: 2 * Number(results[label]!.old_bpb_increase_stderr),
        })),
      ],
    }),
  );
  log(`plot: ${plot}`);
  return { ...out, plot };
}

try {
  const t0 = performance.now();
  const pairs: Record<string, Awaited<ReturnType<typeof study>>> = {};
  for (const [name, pair] of selectedPairs) pairs[name] = await study(name, pair);
  const values = Object.values(pairs);
  const meanOf = (f: (p: (typeof values)[number]) => number) =>
    round(values.reduce((s, p) => s + f(p), 0) / values.length, 4);
  const mean = {
    pairs: values.length,
    forgetting_ratio: Object.fromEntries(
      ['FULL', 'FULL_REPLAY', 'FREEZE_REPLAY', 'EXPAND_REPLAY', 'ADE'].map((arm) => [
        arm,
        meanOf((p) => p.forgetting_ratio[arm]!),
      ]),
    ),
    ade_forgetting_ratio: meanOf((p) => p.ade_forgetting_ratio),
    ade_new_bpb_vs_full: meanOf((p) => p.ade_new_bpb_vs_full),
    ade_beats_full_replay_on_both_axes: values.filter((p) => p.ade_over_full_replay.beats_on_both_axes).length,
    ...(search
      ? (() => {
          const objective = (p: (typeof values)[number], k: 'rules' | 'search') =>
            (p.plan_search![k] as { objective: number }).objective;
          const rules = meanOf((p) => objective(p, 'rules'));
          const searched = meanOf((p) => objective(p, 'search'));
          return {
            plan_objective: { rules, search: searched },
            pilot_fraction: meanOf((p) => Number(p.plan_search!.pilot_fraction)),
            search_at_least_as_good: searched <= rules,
          };
        })()
      : {}),
  };
  log(`\n=== mean over ${values.length} pair(s)`);
  log(
    `forgetting × FULL: ${Object.entries(mean.forgetting_ratio)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}`,
  );
  log(
    `ADE: forgetting ${mean.ade_forgetting_ratio}× FULL's, new-domain bits/byte ${(mean.ade_new_bpb_vs_full * 100).toFixed(1)}% from FULL's; beats FULL_REPLAY on both axes on ${mean.ade_beats_full_replay_on_both_axes} of ${values.length}`,
  );
  if (mean.plan_objective)
    log(
      `plan objective (new bpb + ${PENALTY} × forgetting past ${BUDGET_RATIO} × FULL's), mean: RULES ${mean.plan_objective.rules}, SEARCH ${mean.plan_objective.search} with pilots ${mean.pilot_fraction} × a run → ${mean.search_at_least_as_good ? 'SEARCH at least as good' : 'SEARCH worse'}`,
    );
  const design = {
    model: 'transformer-lm small: byte-level, d_model 128, 4 blocks, 4 heads, context 128',
    pretrain: `the old corpus, ${PRETRAIN_STEPS} steps × ${BATCH} × ${SEQ} bytes`,
    adapt: `the new corpus, ${ADAPT_STEPS} steps × ${BATCH} × ${SEQ} bytes each`,
    optimizer: `AdamW lr ${LR} (replay arms: ADE's plan's), cosine with 6 % warm-up to 0.1×, clip 1.0, no weight decay, seed ${SEED}`,
    evaluation: `${EVAL_SEQUENCES} held-out sequences of ${SEQ} bytes per domain (test splits), bootstrap 1000`,
  };
  const result = JSON.stringify({ design, pairs, mean, total_s: round((performance.now() - t0) / 1000, 1) });
  writeFileSync(join(home, 'ade-results.json'), result + '\n');
  log(`results: ${join(home, 'ade-results.json')}`);
  if (json) console.log(result);
} finally {
  await stop();
}
