// floe eval suites | run | compare | double-descent — the evaluator from a terminal.
import { readFileSync } from 'node:fs';
import { commonV1, evaluatorV1 as ev, trainerV1 } from '@floe/contracts';
import { call, collect, createClient, loadConfig } from '@floe/service-kit';
import { list, num, output, str, TABLE_OPTIONS, tableColumns, type Command, type ParsedArgs } from '../args.js';
import { everyPage } from '../paging.js';
import { follow } from '../progress.js';
import { datasetRef, modelRef } from './profile.js';
import { summaryOf } from './summaries.js';

/** The points of a curve: from a trainer run's validation losses, or a file of "x,y" lines. */
async function curve(args: ParsedArgs, address: string): Promise<ev.CurvePoint[]> {
  const runId = str(args, 'run');
  if (runId) {
    const trainer = createClient(trainerV1.TrainerServiceClient, address, {}, loadConfig().security);
    try {
      const events = await collect(trainer.watchRun({ runId, fromStep: 0 }));
      return events.flatMap((e) =>
        e.event?.$case === 'step' && e.event.value.validationLoss !== undefined
          ? [{ x: e.event.value.step, y: e.event.value.validationLoss }]
          : [],
      );
    } finally {
      trainer.close();
    }
  }
  const file = str(args, 'file');
  if (!file) throw new Error('give --run RUN_ID (its validation losses) or --file FILE (lines "x,y")');
  return readFileSync(file, 'utf8')
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l && !/^[a-z#]/i.test(l))
    .map((l, i) => {
      const [x, y] = l.split(/[,\s]+/).map(Number);
      if (!Number.isFinite(x) || !Number.isFinite(y)) throw new Error(`${file}:${i + 1}: expected "x,y"`);
      return { x: x!, y: y! };
    });
}

const fmt = (m: commonV1.Metric) => `${m.name} ${m.value.toFixed(4)} ± ${m.stderr.toFixed(4)}`;

export const evaluate: Command = {
  name: 'eval',
  summary: summaryOf('eval'),
  usage: [
    'floe eval suites',
    'floe eval run --model MODEL --suites spam-assassin,typescript-lib [--bootstrap 200] [--seed 0]',
    'floe eval compare --stages MODEL,MODEL[,…] --suites a,b [--metric bits_per_byte]',
    'floe eval double-descent --run RUN_ID | --file curve.csv [--window 0] [--noise-multiple 0]',
    '',
    'MODEL is run:RUN_ID[@step], artifact:ID or ARCH/SIZE[:seed].',
    'run and compare also take your own data as suites: --data file:new.csv[@test],… --task',
    'classification|regression|language-model (each a suite named after its file; split test unless given)',
    "[--target COLUMN] (a table's column to predict; default: the one named label or target, else the last)",
    '[--ignore A,B] (columns to leave out)',
    '[--metrics f1_macro,auc,…]: classification accuracy, ece, loss, f1_macro, balanced_accuracy, auc;',
    'regression mse, rmse, mae, r2; language models bits_per_byte, perplexity (default: the first few).',
  ].join('\n'),
  options: {
    model: { type: 'string' },
    suites: { type: 'string' },
    stages: { type: 'string' },
    metric: { type: 'string' },
    metrics: { type: 'string' },
    bootstrap: { type: 'string' },
    seed: { type: 'string' },
    run: { type: 'string' },
    file: { type: 'string' },
    window: { type: 'string' },
    'noise-multiple': { type: 'string' },
    data: { type: 'string' },
    task: { type: 'string' },
    ...TABLE_OPTIONS,
  },
  async run(args) {
    const [sub] = args.positionals;
    const address = str(args, 'address') || loadConfig().address;
    const client = createClient(ev.EvaluatorServiceClient, address, {}, loadConfig().security);
    try {
      switch (sub) {
        case 'suites': {
          const suites = await everyPage(
            (page) => call(client.listSuites.bind(client), { page }),
            (r) => r.suites,
          );
          output(
            args,
            suites.map((s) => ev.Suite.toJSON(s)),
            () =>
              suites
                .map(
                  (s) =>
                    `${s.name.padEnd(18)} ${ev.taskKindToJSON(s.taskKind).replace('TASK_KIND_', '').toLowerCase().padEnd(15)} ${(s.dataset?.uri ?? '').padEnd(26)} ${s.metrics.join(',').padEnd(28)} ${s.description}`,
                )
                .join('\n'),
          );
          return 0;
        }
        case 'run': {
          const e = await follow<ev.Evaluation>(
            client.evaluate(
              ev.EvaluateRequest.fromPartial({
                model: modelRef(str(args, 'model')),
                suites: list(args, 'suites'),
                inlineSuites: dataSuites(args),
                bootstrapSamples: num(args, 'bootstrap', 0),
                seed: num(args, 'seed', 0),
              }),
            ),
            'evaluation',
            args.json,
          );
          output(args, ev.Evaluation.toJSON(e), () =>
            e.results
              .map((r) => `${r.suite.padEnd(18)} n=${r.sampleCount}  ${r.metrics.map(fmt).join('  ')}`)
              .join('\n'),
          );
          return 0;
        }
        case 'compare': {
          const stages = list(args, 'stages').map((s) => modelRef(s, '--stages'));
          const r = await follow<ev.ForgettingReport>(
            client.compareModels(
              ev.CompareModelsRequest.fromPartial({
                stages,
                suites: list(args, 'suites'),
                inlineSuites: dataSuites(args),
                metric: str(args, 'metric'),
                bootstrapSamples: num(args, 'bootstrap', 0),
                seed: num(args, 'seed', 0),
              }),
            ),
            'report',
            args.json,
          );
          output(args, ev.ForgettingReport.toJSON(r), () => {
            const cols = r.rMatrix!.colLabels;
            const row = (m: commonV1.Matrix, i: number) =>
              cols.map((_, j) => m.values[i * m.cols + j]!.toFixed(4).padStart(14)).join('');
            return [
              `${r.metric} (${r.higherIsBetter ? 'higher' : 'lower'} is better)`,
              `${'R'.padEnd(10)}${cols.map((c) => c.padStart(14)).join('')}`,
              ...r.rMatrix!.rowLabels.map((l, i) => `${l.padEnd(10)}${row(r.rMatrix!, i)}`),
              `${'gain'.padEnd(10)}${cols.map((c) => c.padStart(14)).join('')}`,
              ...r.gains!.rowLabels.map((l, i) => `${l.padEnd(10)}${row(r.gains!, i)}`),
              `ACC ${r.acc.toFixed(4)}  BWT ${r.bwt.toFixed(4)}  FWT ${r.fwt.toFixed(4)}  forgetting ${Object.entries(
                r.forgetting,
              )
                .map(([k, v]) => `${k} ${v.toFixed(4)}`)
                .join(', ')}`,
            ].join('\n');
          });
          return 0;
        }
        case 'double-descent': {
          const points = await curve(args, address);
          const d = await call(client.detectDoubleDescent.bind(client), {
            points,
            smoothingWindow: num(args, 'window', 0),
            noiseMultiple: num(args, 'noise-multiple', 0),
          });
          output(args, ev.DetectDoubleDescentResponse.toJSON(d), () =>
            d.hasDoubleDescent
              ? `double descent: minimum at ${d.t1}, peak at ${d.t2}, second minimum at ${d.t3}; the second descent ${d.secondDescentBelowFirst ? 'goes below' : 'stays above'} the first minimum (noise σ ${d.noise.toPrecision(3)})`
              : `no double descent in ${points.length} points (noise σ ${d.noise.toPrecision(3)})`,
          );
          return 0;
        }
        default:
          process.stderr.write(`floe eval: unknown subcommand ${JSON.stringify(sub ?? '')}\n\n${evaluate.usage}\n`);
          return 2;
      }
    } catch (err) {
      const e = err as { details?: string; message: string };
      process.stderr.write(`floe eval ${sub}: ${e.details ?? e.message}\n`);
      return 1;
    } finally {
      client.close();
    }
  },
};

const TASKS: Record<string, ev.TaskKind> = {
  classification: ev.TaskKind.TASK_KIND_CLASSIFICATION,
  regression: ev.TaskKind.TASK_KIND_REGRESSION,
  'language-model': ev.TaskKind.TASK_KIND_LANGUAGE_MODEL,
};

/**
 * --data URI[@split],… with --task: one inline suite per dataset, named after its file (the evaluator applies the
 * same rules as to a suite file: --metrics or the task's default ones, the test split unless one is given).
 */
function dataSuites(args: ParsedArgs): ev.Suite[] {
  const uris = list(args, 'data');
  if (!uris.length) return [];
  const task = str(args, 'task');
  if (!(task in TASKS)) throw new Error(`--data needs --task ${Object.keys(TASKS).join('|')}`);
  const names = new Set<string>();
  return uris.map((uri) => {
    const dataset = datasetRef(uri, '--data', tableColumns(args));
    const base =
      dataset.uri
        .replace(/^[a-z]+:/, '')
        .split('/')
        .filter(Boolean)
        .at(-1) ?? dataset.uri;
    // A suite name is lower-case letters, digits, ".", "_" and "-"; two files of one name are told apart.
    const stem =
      base
        .toLowerCase()
        .replace(/[^a-z0-9._-]+/g, '-')
        .replace(/^[^a-z0-9]+/, '')
        .slice(0, 60) || 'data';
    let name = stem;
    for (let k = 2; names.has(name); k++) name = `${stem}-${k}`;
    names.add(name);
    return ev.Suite.fromPartial({
      name,
      taskKind: TASKS[task],
      dataset: { ...dataset, split: dataset.split || commonV1.DatasetSplit.DATASET_SPLIT_TEST },
      metrics: list(args, 'metrics'),
    });
  });
}
