// floe train start|watch|pause|resume|cancel|delete|list|get|export|release|checkpoints — the trainer's runs from a terminal.
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { commonV1, trainerV1 } from '@floe/contracts';
import { call, createClient, loadConfig } from '@floe/service-kit';
import { ARCH, bar, list, num, output, str, TABLE_OPTIONS, tableColumns, type Command } from '../args.js';
import { LiveLine } from '../progress.js';
import { everyPage } from '../paging.js';
import { modelRef } from './profile.js';
import { summaryOf } from './summaries.js';

const STRATEGY: Record<string, trainerV1.Strategy> = {
  full: trainerV1.Strategy.STRATEGY_FULL,
  freeze: trainerV1.Strategy.STRATEGY_FREEZE,
  expand: trainerV1.Strategy.STRATEGY_EXPAND,
  ade: trainerV1.Strategy.STRATEGY_ADE,
  freezenet: trainerV1.Strategy.STRATEGY_FREEZENET,
  prune: trainerV1.Strategy.STRATEGY_PRUNE_AT_INIT,
  rigl: trainerV1.Strategy.STRATEGY_RIGL,
  bcd: trainerV1.Strategy.STRATEGY_BCD,
};

const MASK_METHOD: Record<string, trainerV1.MaskMethod> = {
  snip: trainerV1.MaskMethod.MASK_METHOD_SNIP,
  grasp: trainerV1.MaskMethod.MASK_METHOD_GRASP,
  synflow: trainerV1.MaskMethod.MASK_METHOD_SYNFLOW,
  magnitude: trainerV1.MaskMethod.MASK_METHOD_MAGNITUDE,
};

const BCD_RULE: Record<string, trainerV1.BcdRule> = {
  cyclic: trainerV1.BcdRule.BCD_RULE_CYCLIC,
  random: trainerV1.BcdRule.BCD_RULE_RANDOM,
  'random-lipschitz': trainerV1.BcdRule.BCD_RULE_RANDOM_LIPSCHITZ,
  gs: trainerV1.BcdRule.BCD_RULE_GS,
  gsl: trainerV1.BcdRule.BCD_RULE_GSL,
  'gs-quadratic': trainerV1.BcdRule.BCD_RULE_GS_QUADRATIC,
};

const EXPORT_FORMAT: Record<string, trainerV1.ExportFormat> = {
  auto: trainerV1.ExportFormat.EXPORT_FORMAT_UNSPECIFIED,
  checkpoint: trainerV1.ExportFormat.EXPORT_FORMAT_CHECKPOINT,
  sparse: trainerV1.ExportFormat.EXPORT_FORMAT_SPARSE,
};

/** Why a checkpoint is kept, as the CLI prints it ("recent", "base_of_run"). */
const keptReason = (k: trainerV1.CheckpointKeptReason) =>
  trainerV1.checkpointKeptReasonToJSON(k).replace('CHECKPOINT_KEPT_REASON_', '').toLowerCase();

/** The value of a flag that names one of `choices` (undefined when absent). */
function choice<T>(
  args: Parameters<Command['run']>[0],
  flag: string,
  choices: Record<string, T>,
  fallback = '',
): T | undefined {
  const v = str(args, flag, fallback);
  if (!v) return undefined;
  if (!(v in choices)) throw new Error(`--${flag} must be one of ${Object.keys(choices).join(', ')}`);
  return choices[v];
}

function summary(r: trainerV1.Run): Record<string, unknown> {
  return {
    run_id: r.runId,
    state: commonV1.runStateToJSON(r.state),
    step: r.step,
    budget_steps: r.spec?.budgetSteps,
    model: r.spec?.baseModel && modelText(r.spec.baseModel),
    dataset: r.spec?.dataset && datasetText(r.spec.dataset),
    strategy: r.spec && strategyText(r.spec.strategy),
    learning_rate: r.spec?.optimizer?.learningRate || undefined,
    train_loss: r.lastMetrics?.trainLoss,
    validation_loss: r.lastMetrics?.validationLoss,
    trainable_params: r.trainableParams,
    total_params: r.totalParams,
    checkpoint_step: r.checkpointStep,
    best_checkpoint_step: r.bestCheckpointStep || undefined,
    early_stopped_step: r.earlyStoppedStep || undefined,
    created: r.createTime?.toISOString(),
    updated: r.updateTime?.toISOString(),
    error: r.error || undefined,
  };
}

/** How a run stopped, in words: its state and step, and early stopping's pause when it was the last. */
function stoppedText(r: trainerV1.Run): string {
  const early =
    r.state === commonV1.RunState.RUN_STATE_PAUSED && r.earlyStoppedStep > 0 && r.earlyStoppedStep === r.step
      ? ` (early stopping: no better validation loss in ${r.spec!.earlyStopping!.patience} evaluations)`
      : '';
  return `${r.runId} ${commonV1.runStateToJSON(r.state)} at step ${r.step}${early}`;
}

/** With --svg FILE: the run's recorded steps as a plot of its losses, written to FILE. */
async function plotIfAsked(
  args: Parameters<Command['run']>[0],
  client: trainerV1.TrainerServiceClient,
  run: trainerV1.Run,
): Promise<void> {
  const file = str(args, 'svg');
  if (!file) return;
  writeFileSync(file, await lossPlot(run, await recordedSteps(client, run)));
  if (!args.json) process.stderr.write(`wrote ${file}\n`);
}

/** The steps a run has recorded up to `run.step` (WatchRun's replay, left once it reaches them). */
function recordedSteps(client: trainerV1.TrainerServiceClient, run: trainerV1.Run): Promise<trainerV1.StepMetrics[]> {
  // A run that has not trained a step yet has nothing to plot (and a live stream would wait for its first step).
  if (run.step === 0) return Promise.resolve([]);
  return new Promise((resolve, reject) => {
    const steps: trainerV1.StepMetrics[] = [];
    const stream = client.watchRun({ runId: run.runId, fromStep: 0 });
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      stream.cancel();
      resolve(steps);
    };
    stream.on('data', (m: trainerV1.WatchRunResponse) => {
      if (m.event?.$case === 'step') steps.push(m.event.value);
      // A stopped run's stream ends by itself; a running one's goes on live, so it is left at the step asked for.
      if (m.event?.$case === 'run' || (steps.at(-1)?.step ?? 0) >= run.step) finish();
    });
    stream.on('end', finish);
    stream.on('error', (err: Error & { code?: number }) => (done ? undefined : reject(err)));
  });
}

/** Training loss at every step, validation (and old-domain) loss where evaluated, against the step. */
export async function lossPlot(run: trainerV1.Run, steps: trainerV1.StepMetrics[]): Promise<string> {
  const values = steps.flatMap((m) => [
    { step: m.step, loss: m.trainLoss, series: 'training' },
    ...(m.validationLoss !== undefined ? [{ step: m.step, loss: m.validationLoss, series: 'validation' }] : []),
    ...(m.referenceValidationLoss !== undefined
      ? [{ step: m.step, loss: m.referenceValidationLoss, series: 'old domain (validation)' }]
      : []),
  ]);
  const spec = run.spec;
  // Vega loads only when a plot is asked for (it adds ~0.3 s to every call that imports it).
  const { renderSvg } = await import('@floe/plots');
  return renderSvg({
    title: {
      text: run.runId,
      subtitle: `${spec?.baseModel ? modelText(spec.baseModel) : ''} on ${spec?.dataset ? datasetText(spec.dataset) : ''}, ${spec ? strategyText(spec.strategy) : ''}`,
    },
    width: 560,
    height: 260,
    data: { values },
    encoding: {
      x: { field: 'step', type: 'quantitative', title: 'step' },
      y: { field: 'loss', type: 'quantitative', title: 'loss', scale: { zero: false } },
      color: { field: 'series', type: 'nominal', sort: ['training', 'validation', 'old domain (validation)'] },
    },
    // Lines for every series, points where the run evaluated (a single evaluation is still seen).
    layer: [
      {
        mark: { type: 'line' },
        encoding: { strokeWidth: { condition: { test: "datum.series === 'training'", value: 1 }, value: 2 } },
      },
      { mark: { type: 'point', filled: true }, transform: [{ filter: "datum.series !== 'training'" }] },
    ],
  });
}

/** A model reference as `floe` takes it: ARCH/SIZE:seed, run:ID[@step|@best] or artifact:ID. */
function modelText(m: commonV1.ModelRef): string | undefined {
  const s = m.source;
  if (s?.$case === 'builtin') {
    const arch = Object.entries(ARCH).find(([, v]) => v === s.value.architecture)?.[0] ?? '?';
    return `${arch}/${s.value.size}:${s.value.seed}`;
  }
  if (s?.$case === 'run')
    return `run:${s.value.runId}${s.value.best ? '@best' : s.value.step ? `@${s.value.step}` : ''}`;
  if (s?.$case === 'artifactId') return `artifact:${s.value}`;
  return undefined;
}

/** A strategy's name, lower-case: full, freeze, …, prune_at_init. */
const strategyText = (strategy: trainerV1.Strategy): string =>
  trainerV1.strategyToJSON(strategy).replace('STRATEGY_', '').toLowerCase();

/** A dataset reference as `floe` takes it: URI[@split], and the columns named as target or left out. */
function datasetText(d: commonV1.DatasetRef): string {
  const split = d.split ? commonV1.datasetSplitToJSON(d.split).replace('DATASET_SPLIT_', '').toLowerCase() : '';
  const columns = [
    ...(d.targetColumn ? [`target ${d.targetColumn}`] : []),
    ...(d.ignoreColumns.length ? [`ignoring ${d.ignoreColumns.join(', ')}`] : []),
  ];
  return `${split ? `${d.uri}@${split}` : d.uri}${columns.length ? ` (${columns.join('; ')})` : ''}`;
}

async function watch(client: trainerV1.TrainerServiceClient, runId: string, json: boolean): Promise<trainerV1.Run> {
  const budget = (await call(client.getRun.bind(client), { runId })).run!.spec!.budgetSteps;
  return new Promise((resolve, reject) => {
    let last: trainerV1.Run | undefined;
    const stream = client.watchRun({ runId, fromStep: 0 });
    const line = new LiveLine();
    stream.on('data', (m: trainerV1.WatchRunResponse) => {
      const e = m.event;
      if (!e) return;
      if (json) process.stdout.write(JSON.stringify({ [e.$case]: e.value as object }) + '\n');
      else if (e.$case === 'step') {
        const s = e.value;
        const val = s.validationLoss !== undefined ? ` val ${s.validationLoss.toFixed(4)}` : '';
        line.update(
          `${bar(s.step, budget)} step ${s.step}/${budget} loss ${s.trainLoss.toFixed(4)}${val} lr ${s.learningRate.toExponential(2)} ${Math.round(s.throughput)}/s`,
          // A log gets every step that was evaluated, and the last one.
          s.validationLoss !== undefined || s.step === budget ? `step ${s.step}` : '',
        );
      } else if (e.$case === 'checkpoint') line.print(`  checkpoint at step ${e.value.step}: ${e.value.artifactId}`);
      if (e.$case === 'run') last = e.value;
    });
    stream.on('error', reject);
    stream.on('end', () => {
      if (!json) line.end();
      if (last) resolve(last);
      else reject(new Error('the stream ended without the run'));
    });
  });
}

export const train: Command = {
  name: 'train',
  summary: summaryOf('train'),
  usage: [
    'floe train start --dataset builtin:spam-assassin [--arch transformer-lm] [--size tiny] [--base run:ID[@step|@best]|artifact:ID]',
    '                 [--strategy full|freeze|expand|ade|freezenet|prune|rigl|bcd] [--freeze block.0,block.1]',
    '                 [--expand-after block.1] [--expand-count 2] [--freezing-rate 0.99] [--sparsity 0.9]',
    '                 [--mask-method snip|grasp|synflow|magnitude] [--bcd-rule cyclic|random|random-lipschitz|gs|gsl|gs-quadratic]',
    '                 [--steps 100] [--batch 8]',
    '                 [--seq 64] [--lr 1e-3] [--seed 0] [--eval-every 0] [--checkpoint-every 0] [--replay builtin:… --replay-fraction 0.25] [--watch]',
    '                 [--keep-checkpoints N] [--keep-best] [--patience N [--min-delta 0]] [--balance-classes] [--svg FILE]',
    '                 [--target COLUMN] [--ignore A,B]',
    "  --target: a table's column to predict (default: the one named label or target, else the last), in the",
    '  dataset and the replay; --ignore: columns to leave out (the model records them: later tables may carry them).',
    '  --keep-checkpoints keeps the newest N checkpoints (and the latest, exported ones and bases of other runs);',
    '  --keep-best also the one with the lowest validation loss at its step (needs --eval-every).',
    '  --patience N pauses the run when N evaluations in a row bring no validation loss below the best by more',
    '  than --min-delta (early stopping; needs --eval-every; resume continues it, patience afresh).',
    '  --balance-classes: a classifier sees every class as often (the rarer classes repeated in each epoch).',
    '  --strategy ade without a plan asks the data-profiler for one: --replay names the old domain (the plan',
    '  sets the replay fraction and the learning rate).',
    'floe train watch|get RUN_ID [--svg FILE]   --svg: the loss curves (training, validation, old domain) as a plot',
    'floe train pause|cancel RUN_ID',
    'floe train resume RUN_ID [--steps N]',
    'floe train export RUN_ID [--step N | --best] [--format auto|checkpoint|sparse]   (sparse: seed + indices + values)',
    "floe train release ARTIFACT_ID  (an export is kept for good until released: then its run's retention decides)",
    'floe train checkpoints RUN_ID   (the checkpoints it holds: step, size, validation loss, why kept)',
    'floe train delete RUN_ID        (a stopped run, its metrics and checkpoints; exported ones and bases of other runs stay)',
    'floe train list [--state RUNNING]',
    '',
    'Every subcommand takes --address and --json; watch shows a progress bar (JSON lines with --json).',
  ].join('\n'),
  options: {
    dataset: { type: 'string' },
    ...TABLE_OPTIONS,
    arch: { type: 'string' },
    size: { type: 'string' },
    strategy: { type: 'string' },
    freeze: { type: 'string' },
    'expand-after': { type: 'string' },
    'expand-count': { type: 'string' },
    'freezing-rate': { type: 'string' },
    sparsity: { type: 'string' },
    'mask-method': { type: 'string' },
    'bcd-rule': { type: 'string' },
    base: { type: 'string' },
    step: { type: 'string' },
    format: { type: 'string' },
    steps: { type: 'string' },
    batch: { type: 'string' },
    seq: { type: 'string' },
    lr: { type: 'string' },
    seed: { type: 'string' },
    'eval-every': { type: 'string' },
    'checkpoint-every': { type: 'string' },
    replay: { type: 'string' },
    'replay-fraction': { type: 'string' },
    state: { type: 'string' },
    watch: { type: 'boolean', default: false },
    'keep-checkpoints': { type: 'string' },
    'keep-best': { type: 'boolean', default: false },
    'balance-classes': { type: 'boolean', default: false },
    patience: { type: 'string' },
    'min-delta': { type: 'string' },
    best: { type: 'boolean', default: false },
    svg: { type: 'string' },
  },
  async run(args) {
    const [sub, runId] = args.positionals;
    const address = str(args, 'address') || loadConfig().address;
    const client = createClient(trainerV1.TrainerServiceClient, address, {}, loadConfig().security);
    try {
      const need = () => {
        if (!runId) throw new Error(`floe train ${sub} needs a RUN_ID`);
        return runId;
      };
      switch (sub) {
        case 'start': {
          const arch = str(args, 'arch', 'transformer-lm');
          if (!(arch in ARCH)) throw new Error(`--arch must be one of ${Object.keys(ARCH).join(', ')}`);
          const strategy = str(args, 'strategy', 'full');
          if (!(strategy in STRATEGY)) throw new Error(`--strategy must be one of ${Object.keys(STRATEGY).join(', ')}`);
          if (strategy === 'ade' && !str(args, 'replay'))
            throw new Error('--strategy ade needs --replay OLD: the old domain the plan is made against');
          const spec = trainerV1.RunSpec.fromPartial({
            baseModel: str(args, 'base')
              ? modelRef(str(args, 'base'), '--base')
              : {
                  source: {
                    $case: 'builtin',
                    value: { architecture: ARCH[arch], size: str(args, 'size', 'tiny'), seed: num(args, 'seed', 0) },
                  },
                },
            dataset: { uri: str(args, 'dataset'), ...tableColumns(args) },
            strategy: STRATEGY[strategy],
            freezeBlockIds: list(args, 'freeze'),
            expansion: { afterBlockIds: list(args, 'expand-after'), count: num(args, 'expand-count', 0) },
            sparse: {
              freezingRate: num(args, 'freezing-rate', 0),
              sparsity: num(args, 'sparsity', 0),
              method: choice(args, 'mask-method', MASK_METHOD),
            },
            bcd: { rule: choice(args, 'bcd-rule', BCD_RULE) },
            optimizer: { learningRate: num(args, 'lr', 1e-3) },
            batchSize: num(args, 'batch', 8),
            sequenceLength: num(args, 'seq', 64),
            budgetSteps: num(args, 'steps', 100),
            evalIntervalSteps: num(args, 'eval-every', 0),
            checkpointIntervalSteps: num(args, 'checkpoint-every', 0),
            earlyStopping: str(args, 'patience')
              ? { patience: num(args, 'patience', 0), minDelta: num(args, 'min-delta', 0) }
              : undefined,
            checkpointRetention:
              str(args, 'keep-checkpoints') || args.values['keep-best']
                ? { keepLast: num(args, 'keep-checkpoints', 0), keepBest: args.values['keep-best'] === true }
                : undefined,
            seed: num(args, 'seed', 0),
            balanceClasses: args.values['balance-classes'] === true,
            mixture: str(args, 'replay')
              ? {
                  replayDataset: { uri: str(args, 'replay'), ...tableColumns(args) },
                  // ADE's plan sets the fraction; elsewhere a quarter of each batch unless told.
                  replayFraction: num(args, 'replay-fraction', strategy === 'ade' ? 0 : 0.25),
                }
              : undefined,
          });
          const { run } = await call(client.startRun.bind(client), { requestId: randomUUID(), spec });
          if (args.values.watch) {
            const done = await watch(client, run!.runId, args.json);
            output(args, summary(done), () => stoppedText(done));
            await plotIfAsked(args, client, done);
          } else output(args, summary(run!), () => `started ${run!.runId}`);
          return 0;
        }
        case 'watch': {
          const done = await watch(client, need(), args.json);
          output(args, summary(done), () => stoppedText(done));
          await plotIfAsked(args, client, done);
          return 0;
        }
        case 'get': {
          const { run } = await call(client.getRun.bind(client), { runId: need() });
          output(args, summary(run!), () =>
            Object.entries(summary(run!))
              .filter(([, v]) => v !== undefined)
              .map(([k, v]) => `${k}: ${v}`)
              .join('\n'),
          );
          await plotIfAsked(args, client, run!);
          return 0;
        }
        case 'pause':
        case 'cancel': {
          const fn = sub === 'pause' ? client.pauseRun.bind(client) : client.cancelRun.bind(client);
          // A request id per command: a retried call (same id) changes nothing twice.
          const { run } = await call(fn as typeof client.pauseRun, { runId: need(), requestId: randomUUID() });
          output(args, summary(run!), () => `${run!.runId}: ${commonV1.runStateToJSON(run!.state)}`);
          return 0;
        }
        case 'resume': {
          const { run } = await call(client.resumeRun.bind(client), {
            runId: need(),
            additionalSteps: num(args, 'steps', 0),
            requestId: randomUUID(),
          });
          output(
            args,
            summary(run!),
            () => `${run!.runId}: ${commonV1.runStateToJSON(run!.state)}, budget ${run!.spec?.budgetSteps}`,
          );
          return 0;
        }
        case 'export': {
          const r = await call(client.exportModel.bind(client), {
            runId: need(),
            step: num(args, 'step', 0),
            format: choice(args, 'format', EXPORT_FORMAT, 'auto')!,
            best: args.values.best === true,
            transient: false,
          });
          output(
            args,
            {
              artifact_id: r.artifact!.artifactId,
              format: trainerV1.exportFormatToJSON(r.format),
              size_bytes: r.artifact!.sizeBytes,
              stored_params: r.storedParams,
              total_params: r.totalParams,
              compression: r.compression,
            },
            () =>
              `${r.artifact!.artifactId} (${trainerV1.exportFormatToJSON(r.format).replace('EXPORT_FORMAT_', '').toLowerCase()}, ${r.artifact!.sizeBytes} bytes, compression ${r.compression.toFixed(1)}x)`,
          );
          return 0;
        }
        case 'delete': {
          const r = await call(client.deleteRun.bind(client), { runId: need(), requestId: randomUUID() });
          output(
            args,
            {
              run_id: r.run!.runId,
              deleted_checkpoints: r.deletedCheckpoints,
              kept_artifact_ids: r.keptArtifactIds,
            },
            () =>
              `deleted ${r.run!.runId} and ${r.deletedCheckpoints} checkpoint(s)` +
              (r.keptArtifactIds.length
                ? `; kept ${r.keptArtifactIds.join(', ')} (exported or another run's base)`
                : ''),
          );
          return 0;
        }
        case 'release': {
          const r = await call(client.releaseExport.bind(client), { artifactId: need(), requestId: randomUUID() });
          output(
            args,
            { artifact_id: r.artifactId, deleted: r.deleted, kept_because: r.keptBecause.map(keptReason) },
            () =>
              r.deleted
                ? `released ${r.artifactId}: deleted`
                : `released ${r.artifactId}: kept (${r.keptBecause.map(keptReason).join(', ') || 'its run applies its retention at its next checkpoint'})`,
          );
          return 0;
        }
        case 'checkpoints': {
          const r = await call(client.listCheckpoints.bind(client), { runId: need() });
          output(
            args,
            {
              best_step: r.bestStep || undefined,
              checkpoints: r.checkpoints.map((c) => ({
                step: c.step,
                artifact_id: c.artifactId,
                size_bytes: c.sizeBytes,
                validation_loss: c.validationLoss,
                kept_because: c.keptBecause.map(keptReason),
              })),
            },
            () =>
              r.checkpoints
                .map(
                  (c) =>
                    `step ${String(c.step).padStart(7)}  ${c.artifactId}  ${(c.sizeBytes / 1e6).toFixed(2).padStart(8)} MB  ` +
                    `val ${c.validationLoss === undefined ? '   —  ' : c.validationLoss.toFixed(4)}  ` +
                    `${c.step === r.bestStep ? 'best  ' : ''}kept: ${c.keptBecause.map(keptReason).join(', ')}`,
                )
                .join('\n') || 'no checkpoints',
          );
          return 0;
        }
        case 'list': {
          const state = str(args, 'state');
          const states = state ? [commonV1.runStateFromJSON(`RUN_STATE_${state.toUpperCase()}`)] : [];
          const runs = await everyPage(
            (page) => call(client.listRuns.bind(client), { page, states, labels: {} }),
            (r) => r.runs,
          );
          output(
            args,
            runs.map(summary),
            () =>
              runs
                .map((r) => {
                  const d = summary(r);
                  return `${r.runId}  ${commonV1.runStateToJSON(r.state).replace('RUN_STATE_', '').padEnd(11)} ${`step ${r.step}/${r.spec?.budgetSteps}`.padEnd(16)} ${String(d.model ?? '').padEnd(24)} ${String(d.dataset ?? '')}`;
                })
                .join('\n') || 'no runs',
          );
          return 0;
        }
        default:
          process.stderr.write(`floe train: unknown subcommand ${JSON.stringify(sub ?? '')}\n\n${train.usage}\n`);
          return 2;
      }
    } catch (err) {
      const e = err as { details?: string; message: string };
      process.stderr.write(`floe train ${sub}: ${e.details ?? e.message}\n`);
      return 1;
    } finally {
      client.close();
    }
  },
};
