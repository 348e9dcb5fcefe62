// floe hpo create|suggest|report|predict|run|watch|get|list|stop — hyperparameter studies from a terminal.
// `run` and `watch` show a live table of the trials (state, steps, best value) and the incumbent; `get`, `run`
// and `watch` end with which hyperparameters matter and plot every trial's curve with --svg.
import { randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { commonV1, hpoSurrogateV1 as hpo, trainerV1 } from '@floe/contracts';
import { call, createClient, loadConfig } from '@floe/service-kit';
import { ARCH, bar, list, num, output, str, type Command, type ParsedArgs } from '../args.js';
import { csvField } from '../csv.js';
import { everyPage } from '../paging.js';
import { summaryOf } from './summaries.js';

const OPTIMIZER: Record<string, hpo.Optimizer> = {
  ifbo: hpo.Optimizer.OPTIMIZER_FREEZE_THAW,
  random: hpo.Optimizer.OPTIMIZER_RANDOM,
  asha: hpo.Optimizer.OPTIMIZER_ASHA,
  hyperband: hpo.Optimizer.OPTIMIZER_HYPERBAND,
  'successive-halving': hpo.Optimizer.OPTIMIZER_SUCCESSIVE_HALVING,
  'median-stopping': hpo.Optimizer.OPTIMIZER_MEDIAN_STOPPING,
  'power-law': hpo.Optimizer.OPTIMIZER_POWER_LAW,
};

/** --param NAME=float:MIN:MAX[:log|:log1m] | int:MIN:MAX[:log] | cat:A,B,C */
export function parseParameter(text: string): hpo.Parameter {
  const eq = text.indexOf('=');
  if (eq <= 0)
    throw new Error(
      `--param ${JSON.stringify(text)}: expected NAME=float:MIN:MAX[:log|:log1m], NAME=int:MIN:MAX[:log] or NAME=cat:A,B`,
    );
  const name = text.slice(0, eq);
  const [kind, ...rest] = text.slice(eq + 1).split(':');
  if (kind === 'cat') return { name, domain: { $case: 'categorical', value: { choices: rest.join(':').split(',') } } };
  if (kind !== 'float' && kind !== 'int') throw new Error(`--param ${name}: kind must be float, int or cat`);
  const [min, max, scale = ''] = rest;
  // log1m: log scale of 1 − x, for momentum-like parameters (Adam's β2 in 0.9 … 0.9999).
  const scales = kind === 'float' ? ['', 'log', 'log1m'] : ['', 'log'];
  if (!scales.includes(scale))
    throw new Error(
      `--param ${name}: the scale must be ${scales.filter(Boolean).join(' or ')}, not ${JSON.stringify(scale)}`,
    );
  // An int64 bound that is not a whole number within ±2^53 could not be sent as it was written.
  if (kind === 'int' && ![min, max].every((v) => v !== undefined && v.trim() !== '' && Number.isSafeInteger(Number(v))))
    throw new Error(`--param ${name}: MIN and MAX of an int range must be whole numbers within ±2^53`);
  const range = {
    min: Number(min),
    max: Number(max),
    logScale: scale === 'log',
    ...(scale === 'log1m' ? { logOneMinus: true } : {}),
  };
  return kind === 'float'
    ? { name, domain: { $case: 'floatRange', value: range } }
    : { name, domain: { $case: 'intRange', value: range } };
}

/**
 * NAME=VALUE[,NAME=VALUE…] as a configuration of `params`, each value typed by its parameter's domain (a number
 * for float and int ranges, the choice as written for categoricals — so a choice such as "1e-3" stays a
 * choice). `flag` names the option in errors; `known` says where the parameters come from.
 */
export function parseConfiguration(
  text: string,
  params: hpo.Parameter[],
  flag = '--initial',
  known = 'a --param',
): hpo.Configuration {
  const values = text.split(',').map((pair): hpo.ParameterValue => {
    const eq = pair.indexOf('=');
    const name = pair.slice(0, eq).trim();
    const raw = pair.slice(eq + 1).trim();
    const param = params.find((p) => p.name === name);
    if (eq <= 0 || !param)
      throw new Error(
        `${flag} ${JSON.stringify(text)}: ${JSON.stringify(name || pair)} is not ${known} (expected NAME=VALUE,…)`,
      );
    const domain = param.domain?.$case;
    if (domain === 'categorical') return { name, value: { $case: 'categoricalValue', value: raw } };
    const n = Number(raw);
    if (raw === '' || !Number.isFinite(n)) throw new Error(`${flag} ${name}: ${JSON.stringify(raw)} is not a number`);
    if (domain === 'intRange' && !Number.isSafeInteger(n))
      throw new Error(`${flag} ${name}: ${JSON.stringify(raw)} is not a whole number (${name} is an int parameter)`);
    return domain === 'intRange'
      ? { name, value: { $case: 'intValue', value: n } }
      : { name, value: { $case: 'floatValue', value: n } };
  });
  return { values };
}

/** The trainer RunSpec each trial fills: from --template FILE (RunSpec JSON) or the train-like flags. */
function runTemplate(args: ParsedArgs): Buffer {
  const file = str(args, 'template');
  const dataset = str(args, 'dataset');
  if (!file && !dataset) return Buffer.alloc(0);
  const spec = file
    ? trainerV1.RunSpec.fromJSON(JSON.parse(readFileSync(file, 'utf8')))
    : trainerV1.RunSpec.fromPartial({
        baseModel: {
          source: {
            $case: 'builtin',
            value: {
              architecture: ARCH[str(args, 'arch', 'transformer-lm')],
              size: str(args, 'size', 'tiny'),
              seed: num(args, 'seed', 0),
            },
          },
        },
        dataset: { uri: dataset },
        strategy: trainerV1.Strategy.STRATEGY_FULL,
        optimizer: { kind: trainerV1.OptimizerKind.OPTIMIZER_KIND_ADAMW, learningRate: 1e-3 },
        // A constant schedule: a thawed trial continues exactly the curve it would have followed.
        schedule: { kind: trainerV1.ScheduleKind.SCHEDULE_KIND_CONSTANT },
        batchSize: num(args, 'batch', 8),
        sequenceLength: num(args, 'seq', 64),
        seed: num(args, 'seed', 0),
      });
  return Buffer.from(trainerV1.RunSpec.encode(spec).finish());
}

const stateName = (s: commonV1.RunState) => commonV1.runStateToJSON(s).replace('RUN_STATE_', '');

function configText(c: hpo.ParameterValue[]): string {
  return c
    .map(
      (p) => `${p.name}=${typeof p.value?.value === 'number' ? Number(p.value.value.toPrecision(4)) : p.value?.value}`,
    )
    .join(' ');
}

function trialSummary(t: hpo.Trial): Record<string, unknown> {
  return {
    trial_id: t.trialId,
    configuration: Object.fromEntries(t.configuration.map((p) => [p.name, p.value?.value])),
    steps: t.observations.at(-1)?.step ?? 0,
    target_step: t.targetStep,
    best_value: t.observations.length ? t.bestValue : undefined,
    state: stateName(t.state),
    run_id: t.runId || undefined,
    error: t.error || undefined,
    curve: t.observations.map((o) => [o.step, o.value]),
  };
}

function importanceSummary(imp: hpo.ParameterImportances): Record<string, unknown> {
  return {
    trials: imp.trials,
    fit: imp.fit,
    parameters: imp.parameters.map((p) => ({
      name: p.name,
      importance: p.importance,
      correlation_alone: p.correlationAlone,
      selection_rank: p.selectionRank,
    })),
  };
}

/**
 * Which hyperparameters matter (GetStudy's parameter_importances) as a bar per parameter, the most important
 * first; below the trials it needs, a line that says so.
 */
export function importanceText(imp: hpo.ParameterImportances): string {
  if (imp.parameters.length === 0)
    return `parameter importance: needs 8 trials with observations (${imp.trials} so far)`;
  if (imp.fit <= 0)
    return `parameter importance: no hyperparameter predicts the trials' best values yet (${imp.trials} trials)`;
  const width = Math.max(...imp.parameters.map((p) => p.name.length));
  const rows = [...imp.parameters]
    .sort((a, b) => b.importance - a.importance || b.correlationAlone - a.correlationAlone)
    .map(
      (p) =>
        `  ${p.name.padEnd(width)} ${bar(Math.round(p.importance * 100), 100, 20)} ${p.importance.toFixed(2)}` +
        `  alone ρ ${p.correlationAlone.toFixed(2)}` +
        (p.selectionRank ? `  selected ${p.selectionRank}` : ''),
    );
  return [
    `parameter importance (${imp.trials} trials; the selected parameters predict each trial's best value at ρ ${imp.fit.toFixed(2)}):`,
    ...rows,
  ].join('\n');
}

function studySummary(s: hpo.Study, importances?: hpo.ParameterImportances): Record<string, unknown> {
  return {
    study_id: s.studyId,
    name: s.spec?.name,
    state: hpo.studyStateToJSON(s.state).replace('STUDY_STATE_', ''),
    optimizer: hpo.optimizerToJSON(s.spec!.optimizer).replace('OPTIMIZER_', ''),
    budget_used: s.budgetUsed,
    total_budget: s.spec?.totalBudget,
    best_trial_id: s.bestTrialId || undefined,
    best_value: s.bestTrialId ? s.bestValue : undefined,
    error: s.error || undefined,
    parameter_importance: importances ? importanceSummary(importances) : undefined,
    trials: s.trials.map(trialSummary),
  };
}

/** The table `run`, `watch` and `get` print: one row per trial, the incumbent marked. */
function table(s: hpo.Study): string {
  const rows = s.trials.map((t) => {
    const best = t.observations.length ? t.bestValue.toPrecision(5) : '—';
    const mark = t.trialId === s.bestTrialId ? '*' : ' ';
    return `${mark} ${t.trialId.padEnd(10)} ${stateName(t.state).padEnd(11)} ${String(t.observations.at(-1)?.step ?? 0).padStart(6)}/${String(t.targetStep).padEnd(6)} ${best.padStart(10)}  ${configText(t.configuration)}`;
  });
  const head = `${s.studyId} ${hpo.studyStateToJSON(s.state).replace('STUDY_STATE_', '')}  ${bar(s.budgetUsed, s.spec!.totalBudget)} ${s.budgetUsed}/${s.spec!.totalBudget} fidelity steps`;
  const inc = s.bestTrialId ? `incumbent ${s.bestTrialId}: ${s.bestValue.toPrecision(5)}` : 'no observations yet';
  const failed = s.trials.filter((t) => t.error).map((t) => `${t.trialId} failed: ${t.error}`);
  return [
    head,
    `  trial      state        steps/target     best  configuration`,
    ...rows,
    inc,
    ...failed,
    ...(s.error ? [`study failed: ${s.error}`] : []),
  ].join('\n');
}

/** Legends past this many trials would be taller than the plot; the lines stay coloured without one. */
const MAX_LEGEND_TRIALS = 16;

/** Every trial's curve of the objective against training steps, the incumbent thick: an SVG document. */
export async function studyPlot(s: hpo.Study): Promise<string> {
  const values = s.trials.flatMap((t) =>
    t.observations.map((o) => ({
      step: o.step,
      value: o.value,
      trial: `${t.trialId} ${configText(t.configuration)}`,
      incumbent: t.trialId === s.bestTrialId,
    })),
  );
  // Vega loads only when a plot is asked for (it adds ~0.3 s to every call that imports it).
  const { renderSvg } = await import('@floe/plots');
  return renderSvg({
    title: `${s.studyId}: ${s.trials.length} trials, ${s.budgetUsed}/${s.spec!.totalBudget} fidelity steps`,
    width: 560,
    height: 260,
    data: { values },
    mark: { type: 'line', point: true },
    encoding: {
      x: { field: 'step', type: 'quantitative', title: 'training step' },
      y: { field: 'value', type: 'quantitative', title: s.spec!.objective || 'objective', scale: { zero: false } },
      color: {
        field: 'trial',
        type: 'nominal',
        legend: s.trials.length > MAX_LEGEND_TRIALS ? null : { labelLimit: 320 },
      },
      strokeWidth: { condition: { test: 'datum.incumbent', value: 4 }, value: 1.5 },
    },
  });
}

/**
 * The study's trials as CSV, a row per trial (as Optuna's trials_dataframe): its id, state, one column per
 * hyperparameter, the steps reached and targeted, the best and last values, its run and error.
 */
export function trialsCsv(s: hpo.Study): string {
  const params = (s.spec?.searchSpace?.parameters ?? []).map((p) => p.name);
  const header = [
    'trial_id',
    'state',
    ...params,
    'steps',
    'target_step',
    'best_value',
    'last_value',
    'run_id',
    'error',
  ];
  const rows = s.trials.map((t) => {
    const value = (name: string) => t.configuration.find((p) => p.name === name)?.value?.value;
    return [
      t.trialId,
      stateName(t.state),
      ...params.map(value),
      t.observations.at(-1)?.step ?? 0,
      t.targetStep,
      t.observations.length ? t.bestValue : undefined,
      t.observations.at(-1)?.value,
      t.runId || undefined,
      t.error || undefined,
    ];
  });
  return [header, ...rows].map((r) => r.map(csvField).join(',')).join('\n') + '\n';
}

/**
 * Prints the study (JSON or its table, then which hyperparameters matter) and, with --svg FILE, writes its
 * plot there; with --csv FILE, its trials as CSV.
 */
async function showStudy(args: ParsedArgs, study: hpo.Study, importances: hpo.ParameterImportances): Promise<void> {
  output(args, studySummary(study, importances), () => `${table(study)}\n${importanceText(importances)}`);
  const csv = str(args, 'csv');
  if (csv) {
    writeFileSync(csv, trialsCsv(study));
    if (!args.json) process.stderr.write(`wrote ${csv}\n`);
  }
  const file = str(args, 'svg');
  if (!file) return;
  writeFileSync(file, await studyPlot(study));
  if (!args.json) process.stderr.write(`wrote ${file}\n`);
}

/**
 * Follows RunStudy, redrawing the table on each event; when not a terminal (a log), a line each time the budget
 * used or the incumbent changes.
 */
async function follow(
  client: hpo.HpoSurrogateServiceClient,
  studyId: string,
  parallelism: number,
  json: boolean,
): Promise<hpo.Study> {
  let printed = 0;
  let lastLine = '';
  const redraw = async () => {
    const { study } = await call(client.getStudy.bind(client), { studyId });
    const text = table(study!);
    if (process.stderr.isTTY) {
      if (printed) process.stderr.write(`\x1b[${printed}A\x1b[J`);
      process.stderr.write(text + '\n');
      printed = text.split('\n').length;
      return;
    }
    const line = `${study!.budgetUsed}/${study!.spec?.totalBudget} fidelity steps, ${text.split('\n').at(-1)!}`;
    if (line !== lastLine) process.stderr.write(line + '\n');
    lastLine = line;
  };
  return new Promise((resolve, reject) => {
    const stream = client.runStudy({ studyId, parallelism });
    let last: hpo.Study | undefined;
    let chain = Promise.resolve();
    stream.on('data', (m: hpo.RunStudyResponse) => {
      const e = m.event;
      if (!e) return;
      if (json)
        process.stdout.write(
          JSON.stringify({
            [e.$case]:
              e.$case === 'progress' ? e.value : e.$case === 'trial' ? trialSummary(e.value) : studySummary(e.value),
          }) + '\n',
        );
      else chain = chain.then(redraw, redraw);
      if (e.$case === 'study') last = e.value;
    });
    stream.on('error', reject);
    stream.on('end', () =>
      chain.then(() => (last ? resolve(last) : reject(new Error('the stream ended without the study')))),
    );
  });
}

export const hpoCommand: Command = {
  name: 'hpo',
  summary: summaryOf('hpo'),
  usage: [
    'floe hpo create --param NAME=float:MIN:MAX[:log|:log1m] [--param NAME=int:MIN:MAX[:log]] [--param NAME=cat:A,B]',
    '                [--optimizer ifbo|random|asha|hyperband|successive-halving|median-stopping|power-law]',
    '                [--steps-per-fidelity 10] [--max-fidelity 10] [--budget 50] [--objective validation_loss] [--maximize]',
    '                [--best-possible VALUE]   the best value the objective can reach (0 for a loss, 1 for accuracy)',
    '                [--seed 0] [--name NAME] [--template RUNSPEC.json | --dataset builtin:spam-assassin [--arch …] [--size tiny] [--batch 8] [--seq 64]]',
    '                [--initial NAME=VALUE,NAME=VALUE …]   configurations the first new trials take, in order (repeatable)',
    'floe hpo suggest STUDY',
    'floe hpo report STUDY TRIAL --points STEP:VALUE[,STEP:VALUE…] [--failure "WHY"]   --failure: its run failed (diverged) after them',
    'floe hpo predict STUDY (--trial TRIAL | --config NAME=VALUE,…) --steps 10,20,…',
    'floe hpo run STUDY [--parallelism 1] [--svg FILE]   drive trainer runs (needs a template); a live table',
    "floe hpo watch|get STUDY [--svg FILE] [--csv FILE]   the trials and which hyperparameters matter; --svg: every trial's",
    '                                     curve, the incumbent thick; --csv: a row per trial (id, state, parameters, steps, values)',
    'floe hpo stop STUDY',
    'floe hpo resume STUDY [--budget N]   N more fidelity steps (default 0); a stopped or completed study is active again',
    '                                     — `floe hpo run` then thaws its paused trials where they stopped',
    "floe hpo delete STUDY [--runs]   a study that is not running; --runs: its trials' trainer runs too",
    'floe hpo list',
    '',
    'Parameters named by a RunSpec field path (optimizer.learning_rate, optimizer.weight_decay, batch_size)',
    "set that field of each trial's run. Every subcommand takes --address and --json.",
  ].join('\n'),
  options: {
    param: { type: 'string', multiple: true },
    initial: { type: 'string', multiple: true },
    optimizer: { type: 'string' },
    'steps-per-fidelity': { type: 'string' },
    'max-fidelity': { type: 'string' },
    budget: { type: 'string' },
    objective: { type: 'string' },
    maximize: { type: 'boolean', default: false },
    'best-possible': { type: 'string' },
    seed: { type: 'string' },
    name: { type: 'string' },
    template: { type: 'string' },
    dataset: { type: 'string' },
    arch: { type: 'string' },
    size: { type: 'string' },
    batch: { type: 'string' },
    seq: { type: 'string' },
    points: { type: 'string' },
    failure: { type: 'string' },
    trial: { type: 'string' },
    config: { type: 'string' },
    steps: { type: 'string' },
    parallelism: { type: 'string' },
    svg: { type: 'string' },
    csv: { type: 'string' },
    runs: { type: 'boolean', default: false },
  },
  async run(args) {
    const [sub, studyId, trialId] = args.positionals;
    const address = str(args, 'address') || loadConfig().address;
    const client = createClient(hpo.HpoSurrogateServiceClient, address, {}, loadConfig().security);
    const need = () => {
      if (!studyId) throw new Error(`floe hpo ${sub} needs a STUDY id`);
      return studyId;
    };
    try {
      switch (sub) {
        case 'create': {
          const optimizer = str(args, 'optimizer', 'ifbo');
          if (!(optimizer in OPTIMIZER))
            throw new Error(`--optimizer must be one of ${Object.keys(OPTIMIZER).join(', ')}`);
          const params = ((args.values.param as string[] | undefined) ?? []).map(parseParameter);
          const spec = hpo.StudySpec.fromPartial({
            name: str(args, 'name'),
            searchSpace: { parameters: params },
            objective: str(args, 'objective', 'validation_loss'),
            direction: args.values.maximize ? hpo.Direction.DIRECTION_MAXIMIZE : hpo.Direction.DIRECTION_MINIMIZE,
            optimizer: OPTIMIZER[optimizer],
            stepsPerFidelity: num(args, 'steps-per-fidelity', 10),
            maxFidelity: num(args, 'max-fidelity', 10),
            totalBudget: num(args, 'budget', 50),
            seed: num(args, 'seed', 0),
            ...(str(args, 'best-possible') ? { bestPossibleValue: num(args, 'best-possible', 0) } : {}),
            runTemplate: runTemplate(args),
            initialConfigurations: ((args.values.initial as string[] | undefined) ?? []).map((c) =>
              parseConfiguration(c, params),
            ),
          });
          const { study } = await call(client.createStudy.bind(client), { requestId: randomUUID(), spec });
          output(args, studySummary(study!), () => `created ${study!.studyId}`);
          return 0;
        }
        case 'suggest': {
          const r = await call(client.suggest.bind(client), { studyId: need(), requestId: randomUUID() });
          const value = {
            ...trialSummary(r.trial!),
            is_new: r.isNew,
            target_step: r.targetStep,
            acquisition: r.acquisition,
            prediction: r.prediction,
            context_size: r.contextSize,
            candidates_scored: r.candidatesScored,
          };
          output(args, value, () => {
            const p = r.prediction
              ? `; predicted ${r.prediction.mean.toPrecision(4)} [${r.prediction.q05.toPrecision(4)}, ${r.prediction.q95.toPrecision(4)}]`
              : '';
            return `${r.isNew ? 'new' : 'thaw'} ${r.trial!.trialId} to step ${r.targetStep}: ${configText(r.trial!.configuration)} (acquisition ${r.acquisition.toPrecision(3)}${p})`;
          });
          return 0;
        }
        case 'report': {
          if (!trialId) throw new Error('floe hpo report needs STUDY and TRIAL');
          const failure = (args.values.failure as string | undefined) ?? '';
          const observations = list(args, 'points').map((p) => {
            const [step, value] = p.split(':');
            return { step: Number(step), value: Number(value) };
          });
          const { trial } = await call(client.reportObservations.bind(client), {
            studyId: need(),
            trialId,
            observations,
            requestId: randomUUID(),
            failure,
          });
          output(
            args,
            trialSummary(trial!),
            () =>
              `${trial!.trialId}: ${trial!.observations.length} observations, best ${trial!.bestValue}${trial!.error ? `; FAILED: ${trial!.error}` : ''}`,
          );
          return 0;
        }
        case 'predict': {
          const steps = list(args, 'steps').map(Number);
          // Typed by the study's own space: a categorical choice that looks like a number stays a choice.
          const config = str(args, 'config');
          let configuration: hpo.ParameterValue[] = [];
          if (config) {
            const { study } = await call(client.getStudy.bind(client), { studyId: need() });
            const space = study!.spec!.searchSpace!.parameters;
            configuration = parseConfiguration(config, space, '--config', `a parameter of study ${need()}`).values;
          }
          const r = await call(client.predictCurves.bind(client), {
            studyId: need(),
            queries: [{ trialId: str(args, 'trial'), configuration, observed: [], steps }],
          });
          output(args, { context_size: r.contextSize, points: r.predictions[0]?.points }, () =>
            [
              `context: ${r.contextSize} observed points`,
              ...(r.predictions[0]?.points ?? []).map(
                (p) =>
                  `step ${p.step}: mean ${p.mean.toPrecision(4)}  90 % [${p.q05.toPrecision(4)}, ${p.q95.toPrecision(4)}]  P(better than best) ${p.probabilityOfImprovement.toFixed(3)}`,
              ),
            ].join('\n'),
          );
          return 0;
        }
        case 'run':
        case 'watch': {
          const done = await follow(client, need(), num(args, 'parallelism', 1), args.json);
          const { parameterImportances } = await call(client.getStudy.bind(client), { studyId: done.studyId });
          await showStudy(args, done, parameterImportances!);
          return 0;
        }
        case 'get': {
          const { study, parameterImportances } = await call(client.getStudy.bind(client), { studyId: need() });
          await showStudy(args, study!, parameterImportances!);
          return 0;
        }
        case 'stop': {
          const { study } = await call(client.stopStudy.bind(client), { studyId: need(), requestId: randomUUID() });
          output(args, studySummary(study!), () => `${study!.studyId}: ${hpo.studyStateToJSON(study!.state)}`);
          return 0;
        }
        case 'resume': {
          const { study } = await call(client.resumeStudy.bind(client), {
            studyId: need(),
            requestId: randomUUID(),
            additionalBudget: num(args, 'budget', 0),
          });
          output(
            args,
            studySummary(study!),
            () =>
              `${study!.studyId}: ${hpo.studyStateToJSON(study!.state)}, ${study!.budgetUsed} of ${study!.spec!.totalBudget} fidelity steps spent`,
          );
          return 0;
        }
        case 'delete': {
          const r = await call(client.deleteStudy.bind(client), {
            studyId: need(),
            requestId: randomUUID(),
            deleteRuns: args.values.runs === true,
          });
          output(
            args,
            { study_id: r.study!.studyId, trials: r.study!.trials.length, deleted_runs: r.deletedRuns },
            () =>
              `deleted ${r.study!.studyId} (${r.study!.trials.length} trials)` +
              (args.values.runs === true ? ` and ${r.deletedRuns} trainer run(s)` : '; its runs stay'),
          );
          return 0;
        }
        case 'list': {
          const studies = await everyPage(
            (page) => call(client.listStudies.bind(client), { page, states: [] }),
            (r) => r.studies,
          );
          output(
            args,
            studies.map((s) => ({ ...studySummary(s), trials: s.trials.length })),
            () =>
              studies
                .map(
                  (s) =>
                    `${s.studyId}  ${hpo.studyStateToJSON(s.state).replace('STUDY_STATE_', '').padEnd(9)} ${s.budgetUsed}/${s.spec?.totalBudget}  ${s.trials.length} trials  best ${s.bestTrialId ? s.bestValue : '—'}`,
                )
                .join('\n') || 'no studies',
          );
          return 0;
        }
        default:
          process.stderr.write(`floe hpo: unknown subcommand ${JSON.stringify(sub ?? '')}\n\n${hpoCommand.usage}\n`);
          return 2;
      }
    } catch (err) {
      const e = err as { details?: string; message: string };
      process.stderr.write(`floe hpo ${sub}: ${e.details ?? e.message}\n`);
      return 1;
    } finally {
      client.close();
    }
  },
};
