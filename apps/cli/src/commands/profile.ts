// floe profile | drift | plan — the data-profiler from a terminal: a progress bar on stderr, the result on
// stdout (one JSON object with --json).
import { commonV1, dataProfilerV1 as dp, trainerV1 } from '@floe/contracts';
import { createClient, loadConfig } from '@floe/service-kit';
import {
  ARCH,
  num,
  output,
  str,
  TABLE_OPTIONS,
  TABLE_USAGE,
  tableColumns,
  type Command,
  type ParsedArgs,
} from '../args.js';
import { follow } from '../progress.js';
import { padDisplay } from '../text-width.js';
import { summaryOf } from './summaries.js';

const SPLIT: Record<string, commonV1.DatasetSplit> = { train: 1, validation: 2, test: 3, all: 4 };

/** builtin:spam-assassin[@test] → a DatasetRef, with a table's columns as --target and --ignore name them. */
export function datasetRef(
  arg: string,
  flag: string,
  columns: Pick<commonV1.DatasetRef, 'targetColumn' | 'ignoreColumns'> = { targetColumn: '', ignoreColumns: [] },
): commonV1.DatasetRef {
  if (!arg) throw new Error(`${flag} is required`);
  const at = arg.lastIndexOf('@');
  const split = at > 0 ? arg.slice(at + 1) : '';
  if (split && !(split in SPLIT))
    throw new Error(`${flag}: unknown split ${JSON.stringify(split)} (train, validation, test, all)`);
  return { uri: split ? arg.slice(0, at) : arg, split: split ? SPLIT[split]! : 0, maxExamples: 0, ...columns };
}

/** run:RUN_ID[@step|@best] | artifact:ID | transformer-lm/tiny[:seed] → a ModelRef. */
export function modelRef(arg: string, flag = '--model'): commonV1.ModelRef {
  if (arg.startsWith('run:')) {
    const [runId, step] = arg.slice(4).split('@');
    const best = step === 'best';
    if (step !== undefined && !best && !/^\d+$/.test(step))
      throw new Error(`${flag}: the part after @ is a step or "best", not ${JSON.stringify(step)}`);
    return { source: { $case: 'run', value: { runId: runId!, step: best ? 0 : Number(step ?? 0), best } } };
  }
  if (arg.startsWith('artifact:')) return { source: { $case: 'artifactId', value: arg.slice(9) } };
  const m = /^([a-z0-9-]+)\/([a-z0-9-]+)(?::(\d+))?$/.exec(arg);
  if (!m || !(m[1]! in ARCH))
    throw new Error(
      `${flag}: expected run:RUN_ID[@step|@best], artifact:ID or ARCH/SIZE[:seed] with ARCH one of ${Object.keys(ARCH).join(', ')}`,
    );
  return { source: { $case: 'builtin', value: { architecture: ARCH[m[1]!]!, size: m[2]!, seed: Number(m[3] ?? 0) } } };
}

async function withClient(
  args: ParsedArgs,
  name: string,
  fn: (c: dp.DataProfilerServiceClient) => Promise<void>,
): Promise<number> {
  const client = createClient(
    dp.DataProfilerServiceClient,
    str(args, 'address') || loadConfig().address,
    {},
    loadConfig().security,
  );
  try {
    await fn(client);
    return 0;
  } catch (err) {
    const e = err as { details?: string; message: string };
    process.stderr.write(`floe ${name}: ${e.details ?? e.message}\n`);
    return 1;
  } finally {
    client.close();
  }
}

const round = (x: number, d = 4) => Number(x.toFixed(d));

/** A date column's values are days since 1970 (as models read them): printed as dates, they say something. */
const DAY_MS = 86_400_000;
const isoDay = (days: number) => new Date(Math.round(days) * DAY_MS).toISOString().slice(0, 10);

function describeValues(col: dp.ColumnProfile): string {
  if (col.inferredType === 'categorical') return commonest(col.histogram!);
  if (col.inferredType === 'identifier') return 'names each row: not a feature of a fresh model, not in drift verdicts';
  if (col.inferredType === 'datetime' && col.quantiles.length === 9)
    return `from ${isoDay(col.quantiles[0]!)} to ${isoDay(col.quantiles[8]!)}, median ${isoDay(col.quantiles[4]!)}`;
  return `mean ${round(col.mean, 3)}  std ${round(col.std, 3)}`;
}
const VERDICT = (v: dp.DriftVerdict) => dp.driftVerdictToJSON(v).replace('DRIFT_VERDICT_', '').toLowerCase();

export const profile: Command = {
  name: 'profile',
  summary: summaryOf('profile'),
  usage:
    'floe profile DATASET [--bins 20] [--target COLUMN] [--ignore A,B]   e.g. floe profile builtin:spam-assassin, floe profile file:notes.txt@test\n' +
    TABLE_USAGE,
  options: { bins: { type: 'string' }, ...TABLE_OPTIONS },
  run: (args) =>
    withClient(args, 'profile', async (c) => {
      const p = await follow<dp.DatasetProfile>(
        c.profileDataset({
          dataset: datasetRef(args.positionals[0] ?? '', 'DATASET', tableColumns(args)),
          bins: num(args, 'bins', 0),
        }),
        'profile',
        args.json,
      );
      output(args, dp.DatasetProfile.toJSON(p), () => {
        const lines = [
          // A table's byte_count is its values as float32, not its file: the columns say more.
          `${p.dataset?.uri}: ${dp.dataKindToJSON(p.kind).replace('DATA_KIND_', '').toLowerCase()}, ${p.exampleCount} examples, ${p.detail?.$case === 'tabular' ? `${p.detail.value.columns.length} feature columns` : `${p.byteCount} bytes`}`,
        ];
        const d = p.detail;
        if (d?.$case === 'text') {
          const t = d.value;
          lines.push(
            `byte entropy ${round(t.byteEntropyBits, 3)} bits, char entropy ${round(t.charEntropyBits, 3)} bits, ${t.distinctChars} distinct chars`,
          );
          lines.push(
            `vocabulary ${t.vocabularySize} words, bigram coverage ${round(t.bigramCoverage)}, duplicates ${round(t.duplicateRate)}, invalid UTF-8 ${round(t.invalidUtf8Rate, 6)}`,
          );
          lines.push(
            `length quantiles (0,1,5,25,50,75,95,99,100 %): ${t.lengthQuantiles.map((q) => Math.round(q)).join(' ')}`,
          );
        } else if (d?.$case === 'tabular') {
          for (const col of d.value.columns)
            lines.push(
              `${padDisplay(col.name, 24)} ${col.inferredType.padEnd(11)} missing ${col.missing}${col.infinite ? `  infinite ${col.infinite}` : ''}  distinct ${col.distinct}  ${describeValues(col)}`,
            );
          for (const target of d.value.targets)
            lines.push(
              target.inferredType === 'categorical'
                ? `target ${target.name}: ${target.histogram!.labels.map((label, i) => `${label}:${target.histogram!.counts[i]}`).join(' ')}`
                : `target ${target.name}: mean ${round(target.mean, 3)}  std ${round(target.std, 3)}`,
            );
          if (d.value.rowsWithoutTarget > 0)
            lines.push(
              `${d.value.rowsWithoutTarget} ${d.value.rowsWithoutTarget === 1 ? 'row has' : 'rows have'} no target and ${d.value.rowsWithoutTarget === 1 ? 'is' : 'are'} left out of training and evaluation`,
            );
        } else if (d?.$case === 'image') {
          const im = d.value;
          lines.push(
            `${im.height}×${im.width}×${im.channels}, channel means ${im.channelMeans.map((m) => round(m, 3)).join(', ')}, stds ${im.channelStds.map((m) => round(m, 3)).join(', ')}`,
          );
          lines.push(
            `classes: ${Object.entries(im.classCounts)
              .map(([k, v]) => `${k}:${v}`)
              .join(' ')}`,
          );
          if (im.resizedImages > 0)
            lines.push(
              `${im.resizedImages} ${im.resizedImages === 1 ? 'image was' : 'images were'} resized to the folder's most common size, ${im.height}×${im.width}`,
            );
        }
        return lines.join('\n');
      });
    }),
};

export const drift: Command = {
  name: 'drift',
  summary: summaryOf('drift'),
  usage:
    'floe drift REFERENCE CURRENT [--bins 10] [--psi-moderate 0.1] [--psi-shifted 0.25] [--target COLUMN] [--ignore A,B]\n  e.g. floe drift builtin:spam-assassin@train builtin:typescript-lib\n' +
    TABLE_USAGE,
  options: {
    bins: { type: 'string' },
    'psi-moderate': { type: 'string' },
    'psi-shifted': { type: 'string' },
    ...TABLE_OPTIONS,
  },
  run: (args) =>
    withClient(args, 'drift', async (c) => {
      const [reference, current] = args.positionals;
      const r = await follow<dp.DriftReport>(
        c.compareDatasets({
          reference: datasetRef(reference ?? '', 'REFERENCE', tableColumns(args)),
          current: datasetRef(current ?? '', 'CURRENT', tableColumns(args)),
          bins: num(args, 'bins', 0),
          thresholds: {
            psiModerate: num(args, 'psi-moderate', 0),
            psiShifted: num(args, 'psi-shifted', 0),
            ksPValue: 0,
            jsDistance: 0,
          },
        }),
        'report',
        args.json,
      );
      // The missing shares get a column only when some feature has missing values.
      const anyMissing = r.features.some((f) => f.missingShareReference > 0 || f.missingShareCurrent > 0);
      const percent = (share: number) => `${(100 * share).toFixed(share && share < 0.01 ? 2 : 0)}%`;
      const missing = (f: dp.FeatureDrift) =>
        anyMissing ? ` ${`${percent(f.missingShareReference)}→${percent(f.missingShareCurrent)}`.padStart(13)}` : '';
      output(args, dp.DriftReport.toJSON(r), () =>
        [
          `verdict ${VERDICT(r.verdict)} (overall PSI ${round(r.overallPsi)})`,
          `${'feature'.padEnd(20)} ${'PSI'.padStart(8)} ${'KS'.padStart(7)} ${'KS p'.padStart(9)} ${'W1'.padStart(9)} ${'W1/σ'.padStart(7)} ${'JS div'.padStart(7)} ${'JS dist'.padStart(7)} ${'L∞'.padStart(6)} ${'V'.padStart(6)}${anyMissing ? ` ${'missing'.padStart(13)}` : ''}  verdict`,
          ...r.features.map(
            (f) =>
              `${padDisplay(f.feature, 20)} ${round(f.psi).toFixed(4).padStart(8)} ${f.ksStatistic.toFixed(4).padStart(7)} ${f.ksPValue.toExponential(1).padStart(9)} ${f.wasserstein.toPrecision(4).padStart(9)} ${f.wassersteinNormalized.toFixed(3).padStart(7)} ${f.jsDivergence.toFixed(4).padStart(7)} ${f.jsDistance.toFixed(4).padStart(7)} ${f.linf.toFixed(3).padStart(6)} ${f.cramersV.toFixed(3).padStart(6)}${missing(f)}  ${VERDICT(f.verdict)}${f.datetime ? ' (datetime: not in the verdict)' : ''}${f.identifier ? ' (identifier: not in the verdict)' : ''}`,
          ),
          ...(r.onlyInReference.length ? [`only in the reference: ${r.onlyInReference.join(', ')}`] : []),
          ...(r.onlyInCurrent.length ? [`only in the current data: ${r.onlyInCurrent.join(', ')}`] : []),
        ].join('\n'),
      );
    }),
};

/** The SEARCH fields of a plan request: the run the plan is for (as `floe train start` would run it) and the pilots. */
function searchOptions(args: ParsedArgs): Partial<dp.PlanAdaptationRequest> {
  const steps = num(args, 'steps', 400);
  const template = trainerV1.RunSpec.fromPartial({
    optimizer: {
      kind: trainerV1.OptimizerKind.OPTIMIZER_KIND_ADAMW,
      learningRate: num(args, 'lr', 1e-3),
      gradClipNorm: 1,
    },
    schedule: {
      kind: trainerV1.ScheduleKind.SCHEDULE_KIND_COSINE,
      warmupSteps: Math.round(0.06 * steps),
      minLrRatio: 0.1,
    },
    batchSize: num(args, 'batch-size', 16),
    sequenceLength: num(args, 'sequence-length', 128),
    budgetSteps: steps,
    seed: num(args, 'seed', 0),
  });
  return {
    mode: dp.PlanMode.PLAN_MODE_SEARCH,
    forgettingBudget: num(args, 'forgetting-budget', 0),
    search: {
      runTemplate: Buffer.from(trainerV1.RunSpec.encode(template).finish()),
      pilotFraction: num(args, 'pilot-fraction', 0),
      maxPilotFraction: 0,
      maxCandidates: num(args, 'candidates', 0),
      fidelitySteps: 0,
      confirmFraction: num(args, 'confirm-fraction', 0),
      skipConfirmation: args.values['no-confirmation'] === true,
    },
  };
}

/** Each candidate's pilot at the step they were compared at (or its last, if short of it), the winner starred. */
function searchLines(s: dp.PlanSearchReport): string[] {
  const point = (c: dp.PlanCandidate) => c.curve.find((p) => p.step === s.comparedStep) ?? c.curve.at(-1);
  const cell = (x: number | undefined, w: number) => (x === undefined ? '-' : x.toFixed(4)).padStart(w);
  const row = (label: string, p: dp.PilotPoint | undefined) =>
    `${label.padEnd(46)} ${String(p?.step ?? 0).padStart(5)} ${cell(p?.newLoss, 7)} ${cell(p?.forgetting, 7)} ${cell(p?.objective, 9)}`;
  return [
    `search (study ${s.studyId}): pilots ${s.pilotSteps} steps, ${round(s.pilotFraction, 3)} × the run's; forgetting budget ${s.forgettingBudget || 'none'}; compared at step ${s.comparedStep}`,
    `  ${'candidate'.padEnd(46)} ${'steps'.padStart(5)} ${'new'.padStart(7)} ${'forgot'.padStart(7)} ${'objective'.padStart(9)}`,
    ...s.candidates.map((c, i) => `${i === s.winner ? '*' : ' '} ${row(c.label, point(c))}`),
    ...(s.confirmation
      ? [
          `confirmation (study ${s.confirmation.studyId}): ${s.confirmation.steps} steps each → ${s.confirmation.confirmed ? 'confirmed' : "not confirmed, the rules' plan stands"}`,
          ...s.confirmation.candidates.map((c) => `  ${row(c.label, c.curve.at(-1))}`),
        ]
      : []),
    `why: ${s.reason}`,
  ];
}

export const plan: Command = {
  name: 'plan',
  summary: summaryOf('plan'),
  usage:
    'floe plan --model run:RUN_ID|artifact:ID|transformer-lm/tiny --dataset NEW --reference OLD [--target COLUMN] [--ignore A,B] [--max-expansions 0] [--seed 0]\n' +
    '          [--search --forgetting-budget BITS --steps 400 --batch-size 16 --sequence-length 128 --lr 1e-3 --pilot-fraction 1 --candidates 8\n' +
    '           --confirm-fraction 0.5 | --no-confirmation]',
  options: {
    model: { type: 'string' },
    dataset: { type: 'string' },
    reference: { type: 'string' },
    ...TABLE_OPTIONS,
    'max-expansions': { type: 'string' },
    seed: { type: 'string' },
    // SEARCH: pilots of the rules plan and its variants for a run of these settings.
    search: { type: 'boolean', default: false },
    'forgetting-budget': { type: 'string' },
    steps: { type: 'string' },
    'batch-size': { type: 'string' },
    'sequence-length': { type: 'string' },
    lr: { type: 'string' },
    'pilot-fraction': { type: 'string' },
    candidates: { type: 'string' },
    'confirm-fraction': { type: 'string' },
    'no-confirmation': { type: 'boolean', default: false },
  },
  run: (args) =>
    withClient(args, 'plan', async (c) => {
      const r = await follow<dp.AdaptationPlanResult>(
        c.planAdaptation(
          dp.PlanAdaptationRequest.fromPartial({
            model: modelRef(str(args, 'model')),
            dataset: datasetRef(str(args, 'dataset'), '--dataset', tableColumns(args)),
            reference: datasetRef(str(args, 'reference'), '--reference', tableColumns(args)),
            maxExpansions: num(args, 'max-expansions', 0),
            seed: num(args, 'seed', 0),
            ...(args.values.search ? searchOptions(args) : {}),
          }),
        ),
        'result',
        args.json,
      );
      output(args, dp.AdaptationPlanResult.toJSON(r), () => {
        const p = r.plan!;
        return [
          `drift ${VERDICT(r.drift!.verdict)} (PSI ${round(r.drift!.overallPsi)}); loss ${round(r.scores!.loss)} on the new data${r.scores!.referenceLoss !== undefined ? `, ${round(r.scores!.referenceLoss)} on the reference` : ''}`,
          `expand after: ${p.expansions.map((e) => e.afterBlockId).join(', ') || 'none'}; tune: ${p.tuneBlockIds.join(', ') || 'none'}; freeze: ${p.freezeBlockIds.join(', ') || 'none'}`,
          `replay ${p.replayFraction} of ${p.replayDataset?.uri ?? '-'}; learning rate ${p.learningRate}; budget ${p.budgetSteps} steps`,
          ...p.decisions.map(
            (d) =>
              `  ${d.blockId.padEnd(14)} ${commonV1.blockActionToJSON(d.action).replace('BLOCK_ACTION_', '').toLowerCase().padEnd(7)} ${d.reason}`,
          ),
          ...(r.search ? searchLines(r.search) : []),
        ].join('\n');
      });
    }),
};

/** A categorical column's five commonest values with their counts, and how many other values it has. */
function commonest(h: dp.Histogram): string {
  const order = h.labels.map((_, i) => i).sort((a, b) => h.counts[b]! - h.counts[a]!);
  const shown = order.slice(0, 5).map((i) => `${h.labels[i]}:${h.counts[i]}`);
  const more = order.length - shown.length + Number(h.otherCategories);
  return `${shown.join(' ')}${more > 0 ? ` (+${more} more)` : ''}`;
}
