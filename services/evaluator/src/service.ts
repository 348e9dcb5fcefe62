// EvaluatorService handlers: suites (builtin, user YAML, inline), Evaluate with bootstrap errors,
// CompareModels (libs/metrics compareStages), DetectDoubleDescent. Model passes run in worker threads
// (evaluate-task.ts); the handlers validate, resolve models, and map results to the contract.
import { SERVICE_NAMES, commonV1, evaluatorV1 as ev } from '@floe/contracts';
import { FloeError, InvalidArgumentError, invalidArgument, type FieldViolation } from '@floe/errors';
import {
  Peers,
  checkDatasetRef,
  checkModelRef,
  checkPage,
  decodePageToken,
  defineService,
  encodePageToken,
  modelSource,
  pageSize,
  trainerRunResolver,
  validate,
  withEvents,
  withProgress,
  type HostedService,
  type ProgressReport,
  type ServiceContext,
  type Validator,
} from '@floe/service-kit';
import { computeEnv, resolveModelSource, runTask, taskWorkerOptions } from '@floe/training';
import { argmaxRows, compareStages, detectDoubleDescent, LOWER_IS_BETTER } from '@floe/metrics';
import { Attr, SpanName, instrument } from '@floe/telemetry';
import type { Split } from '@floe/data';
import type { SuiteOutcome } from './runner.js';
import { loadSuites, suiteFromRecord, type SuiteDef, type TaskKind } from './suites.js';
import type { EvaluateTaskInput, EvaluateTaskProgress } from './evaluate-task.js';
import type { PredictTaskInput, PredictTaskProgress, PredictedRows } from './predict-task.js';
import type { GenerateTaskInput, GenerateTaskOutput, GenerateTaskProgress } from './generate-task.js';

const EVALUATE_TASK = new URL('./evaluate-task.ts', import.meta.url);
const PREDICT_TASK = new URL('./predict-task.ts', import.meta.url);
const GENERATE_TASK = new URL('./generate-task.ts', import.meta.url);
/** Generate's bytes unless the request says. */
const DEFAULT_GENERATE_BYTES = 256;
/** Predict's rows per forward pass and per message, unless the request says. */
const DEFAULT_PREDICT_BATCH = 256;
const TASK: Record<TaskKind, ev.TaskKind> = {
  'language-model': ev.TaskKind.TASK_KIND_LANGUAGE_MODEL,
  classification: ev.TaskKind.TASK_KIND_CLASSIFICATION,
  regression: ev.TaskKind.TASK_KIND_REGRESSION,
};
const TASK_NAME: Partial<Record<ev.TaskKind, TaskKind>> = Object.fromEntries(
  Object.entries(TASK).map(([k, v]) => [v, k as TaskKind]),
);
const SPLIT = {
  train: commonV1.DatasetSplit.DATASET_SPLIT_TRAIN,
  validation: commonV1.DatasetSplit.DATASET_SPLIT_VALIDATION,
  test: commonV1.DatasetSplit.DATASET_SPLIT_TEST,
  all: commonV1.DatasetSplit.DATASET_SPLIT_ALL,
};
const SPLIT_NAME: Record<number, string | undefined> = Object.fromEntries(
  Object.entries(SPLIT).map(([k, v]) => [v, k]),
);

function suiteMessage(s: SuiteDef): ev.Suite {
  return {
    name: s.name,
    taskKind: TASK[s.task],
    dataset: {
      uri: s.dataset,
      split: SPLIT[s.split],
      maxExamples: 0,
      targetColumn: s.targetColumn,
      ignoreColumns: s.ignoreColumns,
    },
    metrics: s.metrics,
    sampleCount: s.samples,
    source: s.source,
    description: s.description,
    sequenceLength: s.sequenceLength,
    batchSize: s.batchSize,
  };
}

/** An inline suite through the same rules as a suite file; errors name `field`.<key>. */
function inlineSuite(s: ev.Suite, field: string): SuiteDef {
  const raw: Record<string, unknown> = {
    name: s.name,
    task: TASK_NAME[s.taskKind] ?? '',
    dataset: s.dataset?.uri,
    split: s.dataset && s.dataset.split ? SPLIT_NAME[s.dataset.split] : undefined,
    target_column: s.dataset?.targetColumn || undefined,
    ignore_columns: s.dataset?.ignoreColumns.length ? s.dataset.ignoreColumns : undefined,
    metrics: s.metrics.length ? s.metrics : undefined,
    samples: s.sampleCount ? Number(s.sampleCount) : undefined,
    sequence_length: s.sequenceLength || undefined,
    batch_size: s.batchSize || undefined,
    description: s.description || undefined,
  };
  const keys: Record<string, string> = {
    task: 'task_kind',
    dataset: 'dataset.uri',
    split: 'dataset.split',
    target_column: 'dataset.target_column',
    ignore_columns: 'dataset.ignore_columns',
    samples: 'sample_count',
  };
  return suiteFromRecord(raw, 'inline', (key, why) => invalidArgument(`${field}.${keys[key] ?? key}`, why));
}

function matrix(rows: number[][], rowLabels: string[], colLabels: string[]): commonV1.Matrix {
  return { rows: rows.length, cols: rows[0]?.length ?? 0, values: rows.flat(), rowLabels, colLabels };
}

/** A model reference as a row label: builtin:transformer-lm/small#3, run:RUN@step, artifact:ID. */
function modelLabel(ref: commonV1.ModelRef): string {
  const s = modelSource(ref);
  if (s.kind === 'builtin') return `builtin:${s.architecture}/${s.size}#${s.seed}`;
  if (s.kind === 'run') return s.step ? `run:${s.runId}@${s.step}` : `run:${s.runId}`;
  return `artifact:${s.artifactId}`;
}

/** A batch of the predict task as the contract's messages; the predicted class as Evaluate's accuracy takes it. */
function predictionBatch(b: PredictedRows, classNames: string[], classification: boolean): ev.PredictionBatch {
  const best = classification ? argmaxRows(b.values, b.width, b.rows.length) : undefined;
  return {
    predictions: b.rows.map((row, i) => {
      const values = Array.from(b.values.subarray(i * b.width, (i + 1) * b.width));
      return {
        row,
        id: b.ids?.[i] ?? '',
        predictedClass: best ? (classNames[best[i]!] ?? String(best[i])) : '',
        probabilities: best ? values : [],
        values: best ? [] : values,
      };
    }),
  };
}

function checkSuiteRequest(v: Validator, names: string[], inline: ev.Suite[]): void {
  v.count('suites', names, 256);
  v.count('inline_suites', inline, 64);
  v.check(names.length + inline.length > 0, 'suites', 'name at least one suite (or send inline_suites)');
  names.forEach((s, i) => v.string(`suites[${i}]`, s, { required: true, max: 128 }));
  inline.forEach((s, i) => checkDatasetRef(v, `inline_suites[${i}].dataset`, s.dataset));
}

export function createEvaluatorService(opts: ServiceContext): HostedService {
  const { config } = opts;
  const peers = opts.peers ?? new Peers(config);
  const resolveRun = trainerRunResolver(peers);
  const env = computeEnv(config);
  const suites = () => loadSuites(config.suitesDir);

  /** The named suites, then the inline ones, with the request field of each; NOT_FOUND for an unknown name. */
  const pick = (names: string[], inline: ev.Suite[]): { list: SuiteDef[]; fields: string[] } => {
    const { suites: all } = suites();
    const list = names.map((n, i) => {
      const s = all.find((x) => x.name === n);
      if (!s)
        throw new FloeError(
          'not_found',
          `suites[${i}]: no suite ${JSON.stringify(n)}; suites: ${all.map((x) => x.name).join(', ')}`,
        );
      return s;
    });
    const violations: FieldViolation[] = [];
    inline.forEach((s, i) => {
      try {
        const def = inlineSuite(s, `inline_suites[${i}]`);
        if (list.some((x) => x.name === def.name))
          violations.push({
            field: `inline_suites[${i}].name`,
            description: `${JSON.stringify(def.name)} is already a suite of this request`,
          });
        else list.push(def);
      } catch (err) {
        if (err instanceof InvalidArgumentError) violations.push(...err.violations);
        else throw err;
      }
    });
    if (violations.length) throw new InvalidArgumentError(violations);
    return { list, fields: [...names.map((_, i) => `suites[${i}]`), ...inline.map((_, i) => `inline_suites[${i}]`)] };
  };

  /** One model (or its fresh initialisation) on every suite, in a worker; progress over [offset, offset + span). */
  const evaluateModel = async (
    field: string,
    ref: commonV1.ModelRef,
    initial: boolean,
    picked: { list: SuiteDef[]; fields: string[] },
    o: {
      bootstrap: number;
      seed: number;
      signal: AbortSignal;
      report: (p: ProgressReport) => void;
      offset: number;
      span: number;
    },
  ): Promise<SuiteOutcome[]> => {
    const model = await resolveModelSource(modelSource(ref), resolveRun);
    const n = picked.list.length;
    return instrument({ name: SpanName.evaluate, attributes: { [Attr.model]: modelLabel(ref) } }, () =>
      runTask<EvaluateTaskInput, SuiteOutcome[], EvaluateTaskProgress>(
        EVALUATE_TASK,
        {
          env,
          field,
          model,
          initial,
          suites: picked.list,
          suiteFields: picked.fields,
          bootstrap: o.bootstrap,
          seed: o.seed,
        },
        {
          signal: o.signal,
          ...taskWorkerOptions(env),
          onProgress: ({ suite, done, total }) =>
            o.report({
              phase: 'evaluate',
              done,
              total,
              fraction: o.offset + (o.span * (suite + done / total)) / n,
              message: `${picked.list[suite]!.name}: batch ${done} of ${total}`,
            }),
        },
      ),
    );
  };

  return defineService(
    SERVICE_NAMES.evaluator,
    ev.EvaluatorServiceService,
    {
      async listSuites(req) {
        validate((v) => checkPage(v, 'page', req.page));
        const { suites: all, refused } = suites();
        const size = pageSize(req.page?.pageSize);
        // Suites are files, not rows: the cursor is a position in the (sorted) list.
        const offset = decodePageToken('suites', req.page?.pageToken) ?? 0;
        return {
          suites: all.slice(offset, offset + size).map(suiteMessage),
          page: { nextPageToken: encodePageToken('suites', offset + size < all.length ? offset + size : undefined) },
          refused,
        };
      },
      async *evaluate(req, ctx) {
        validate((v) => {
          checkModelRef(v, 'model', req.model);
          checkSuiteRequest(v, req.suites, req.inlineSuites);
          v.number('bootstrap_samples', req.bootstrapSamples, { min: 0, max: 100_000, integer: true });
        });
        const picked = pick(req.suites, req.inlineSuites);
        for await (const e of withProgress(async (report) => {
          const outcomes = await evaluateModel('model', req.model!, false, picked, {
            bootstrap: req.bootstrapSamples || 200,
            seed: Number(req.seed),
            signal: ctx.signal,
            report,
            offset: 0,
            span: 1,
          });
          return {
            model: req.model,
            results: outcomes.map((o, i) => ({
              suite: picked.list[i]!.name,
              metrics: o.metrics,
              sampleCount: o.count,
            })),
          };
        })) {
          yield 'progress' in e
            ? { event: { $case: 'progress', value: e.progress } }
            : { event: { $case: 'evaluation', value: e.result } };
        }
      },
      async *compareModels(req, ctx) {
        validate((v) => {
          v.count('stages', req.stages, 64, 2);
          req.stages.forEach((m, i) => checkModelRef(v, `stages[${i}]`, m));
          checkSuiteRequest(v, req.suites, req.inlineSuites);
          v.string('metric', req.metric, { max: 128 });
          v.number('bootstrap_samples', req.bootstrapSamples, { min: 0, max: 100_000, integer: true });
          if (req.stageLabels.length)
            v.check(req.stageLabels.length === req.stages.length, 'stage_labels', 'needs one label per stage');
          req.stageLabels.forEach((l, i) => v.string(`stage_labels[${i}]`, l, { required: true, max: 256 }));
        });
        const picked = pick(req.suites, req.inlineSuites);
        const metric = req.metric || picked.list[0]!.metrics[0]!;
        picked.list.forEach((s, i) => {
          if (!s.metrics.includes(metric))
            throw invalidArgument(
              'metric',
              `suite ${s.name} (${picked.fields[i]}) has no ${metric}; it has ${s.metrics.join(', ')}`,
            );
        });
        const bootstrap = req.bootstrapSamples || 200;
        const seed = Number(req.seed);
        for await (const e of withProgress(async (report) => {
          const passes = req.stages.length + (req.skipRandomInit ? 0 : 1);
          // Each stage, then (unless skipped) the base's architecture freshly initialised, on the same examples.
          const outcomes: SuiteOutcome[][] = [];
          for (let i = 0; i < passes; i++) {
            const initial = i === req.stages.length;
            outcomes.push(
              await evaluateModel(
                initial ? 'stages[0]' : `stages[${i}]`,
                req.stages[initial ? 0 : i]!,
                initial,
                picked,
                {
                  bootstrap,
                  seed,
                  signal: ctx.signal,
                  report,
                  offset: i / passes,
                  span: 1 / passes,
                },
              ),
            );
          }
          const cell = (o: SuiteOutcome) => {
            const m = o.metrics.find((x) => x.name === metric)!;
            return { value: m.value, stderr: m.stderr, perExample: o.perExample[metric] };
          };
          const higherIsBetter = !LOWER_IS_BETTER.has(metric);
          const randomInit = req.skipRandomInit ? undefined : outcomes[req.stages.length]!.map((o) => cell(o).value);
          const c = compareStages(
            outcomes.slice(0, req.stages.length).map((row) => row.map(cell)),
            {
              higherIsBetter,
              randomInit,
              bootstrap,
              seed,
            },
          );
          const rows = req.stageLabels.length ? req.stageLabels : req.stages.map(modelLabel);
          const names = picked.list.map((s) => s.name);
          const result: ev.ForgettingReport = {
            rMatrix: matrix(c.R, rows, names),
            acc: c.acc ?? 0,
            bwt: c.bwt ?? 0,
            fwt: c.fwt ?? 0,
            forgetting: Object.fromEntries(c.forgetting.map((f, j) => [names[j]!, f])),
            gains: matrix(c.gains, rows, names),
            gainsStderr: matrix(c.gainsStderr, rows, names),
            rStderr: matrix(c.Rse, rows, names),
            metric,
            higherIsBetter,
            randomInit: randomInit ?? [],
            sequenceMetricsApply: c.sequenceMetricsApply,
            notes: c.notes,
          };
          return result;
        })) {
          yield 'progress' in e
            ? { event: { $case: 'progress', value: e.progress } }
            : { event: { $case: 'report', value: e.result } };
        }
      },
      async *predict(req, ctx) {
        validate((v) => {
          checkModelRef(v, 'model', req.model);
          if (req.model?.source?.$case === 'builtin')
            v.check(
              false,
              'model',
              'is a builtin model, freshly initialised; predict with a trainer run (run_id) or an artifact',
            );
          if (req.rows.length === 0) checkDatasetRef(v, 'dataset', req.dataset);
          else v.check(!req.dataset, 'rows', 'send rows or a dataset, not both');
          v.count('rows', req.rows, 10_000);
          v.string('id_column', req.idColumn, { max: 256 });
          v.number('batch_size', req.batchSize, { min: 0, max: 65_536, integer: true });
        });
        const model = await resolveModelSource(modelSource(req.model!), resolveRun);
        let classNames: string[] = [];
        let classification = false;
        for await (const e of withEvents<ev.PredictResponse['event'], { rows: number }>((emit, report, caughtUp) =>
          instrument({ name: SpanName.predict, attributes: { [Attr.model]: modelLabel(req.model!) } }, () =>
            runTask<PredictTaskInput, { rows: number }, PredictTaskProgress>(
              PREDICT_TASK,
              {
                env,
                model,
                data: req.dataset
                  ? {
                      dataset: {
                        uri: req.dataset.uri,
                        split: SPLIT_NAME[req.dataset.split] as Split,
                        maxExamples: Number(req.dataset.maxExamples),
                      },
                    }
                  : { rows: req.rows },
                idColumn: req.idColumn || undefined,
                batchSize: req.batchSize || DEFAULT_PREDICT_BATCH,
              },
              {
                signal: ctx.signal,
                ...taskWorkerOptions(env),
                onProgress: (p) => {
                  if ('header' in p) {
                    const h = p.header;
                    classification = h.task === 'classification';
                    classNames = h.classNames;
                    const { task, ...fields } = h;
                    emit({ $case: 'header', value: { ...fields, taskKind: TASK[task] } });
                    return;
                  }
                  emit({ $case: 'batch', value: predictionBatch(p.batch, classNames, classification) });
                  report({
                    phase: 'predict',
                    done: p.batch.done,
                    total: p.batch.total,
                    fraction: p.batch.total ? p.batch.done / p.batch.total : 1,
                    message: `row ${p.batch.done} of ${p.batch.total}`,
                  });
                  // The worker makes the next batches once the client has taken these.
                  return caughtUp();
                },
              },
            ),
          ),
        )) {
          if ('event' in e) yield { event: e.event };
          else if ('progress' in e) yield { event: { $case: 'progress', value: e.progress } };
        }
      },
      async *generate(req, ctx) {
        const prompt = new TextEncoder().encode(req.prompt);
        const stops = req.stopSequences.map((s) => new TextEncoder().encode(s));
        validate((v) => {
          checkModelRef(v, 'model', req.model);
          v.check(prompt.length <= 65_536, 'prompt', `is ${prompt.length} bytes; at most 65536`);
          v.number('max_bytes', req.maxBytes, { min: 0, max: 65_536, integer: true });
          v.number('temperature', req.temperature, { min: 0, max: 10 });
          v.number('top_k', req.topK, { min: 0, max: 256, integer: true });
          v.count('stop_sequences', req.stopSequences, 8);
          v.number('window_bytes', req.windowBytes, { min: 0, max: 65_536, integer: true });
          stops.forEach((s, i) =>
            v.check(s.length >= 1 && s.length <= 256, `stop_sequences[${i}]`, 'must be 1 to 256 bytes'),
          );
        });
        const model = await resolveModelSource(modelSource(req.model!), resolveRun);
        const decoder = new TextDecoder();
        for await (const e of withEvents<Uint8Array, GenerateTaskOutput>((emit) =>
          instrument({ name: SpanName.generate, attributes: { [Attr.model]: modelLabel(req.model!) } }, () =>
            runTask<GenerateTaskInput, GenerateTaskOutput, GenerateTaskProgress>(
              GENERATE_TASK,
              {
                env,
                model,
                prompt,
                maxBytes: req.maxBytes || DEFAULT_GENERATE_BYTES,
                windowBytes: req.windowBytes,
                sampling: req.greedy
                  ? undefined
                  : { temperature: req.temperature || 1, topK: req.topK, seed: Number(req.seed) },
                stopSequences: stops,
              },
              { signal: ctx.signal, ...taskWorkerOptions(env), onProgress: (p) => emit(p.raw) },
            ),
          ),
        )) {
          if ('event' in e) {
            const raw = Buffer.from(e.event);
            yield { event: { $case: 'text', value: { text: decoder.decode(raw, { stream: true }), raw } } };
          } else if ('result' in e) {
            // A character cut at the very end comes as U+FFFD, as in the whole text.
            const rest = decoder.decode();
            if (rest) yield { event: { $case: 'text', value: { text: rest, raw: Buffer.alloc(0) } } };
            const r = e.result;
            yield {
              event: {
                $case: 'generation',
                value: {
                  text: new TextDecoder().decode(r.raw),
                  raw: Buffer.from(r.raw),
                  stopReason:
                    r.stoppedBy === 'stop_sequence'
                      ? ev.StopReason.STOP_REASON_STOP_SEQUENCE
                      : ev.StopReason.STOP_REASON_MAX_BYTES,
                  meanLogProb: r.meanLogProb,
                  contextBytes: r.contextBytes,
                },
              },
            };
          }
        }
      },
      async detectDoubleDescent(req) {
        validate((v) => {
          v.count('points', req.points, 1_000_000, 5);
          req.points.forEach((p, i) => {
            v.number(`points[${i}].x`, p.x);
            v.number(`points[${i}].y`, p.y);
            if (i > 0) v.check(p.x > req.points[i - 1]!.x, `points[${i}].x`, 'must increase');
          });
          v.number('smoothing_window', req.smoothingWindow, { min: 0, max: 10_000, integer: true });
          v.number('noise_multiple', req.noiseMultiple, { min: 0, max: 1000 });
        });
        const d = detectDoubleDescent(req.points, { window: req.smoothingWindow, noiseMultiple: req.noiseMultiple });
        return {
          hasDoubleDescent: d.hasDoubleDescent,
          t1: d.hasDoubleDescent ? d.t1 : 0,
          t2: d.hasDoubleDescent ? d.t2 : 0,
          t3: d.hasDoubleDescent ? d.t3 : 0,
          secondDescentBelowFirst: d.secondDescentBelowFirst,
          noise: d.noise,
        };
      },
    },
    { log: opts.log, peers },
  );
}
