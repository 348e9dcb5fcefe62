// EvaluatorService handlers: suites (builtin and user YAML), Evaluate with bootstrap errors, CompareModels
// (R matrix, ACC, BWT, FWT, forgetting, gains with paired errors), DetectDoubleDescent.
import { SERVICE_NAMES, commonV1, evaluatorV1 as ev } from '@floe/contracts';
import { FloeError, invalidArgument } from '@floe/errors';
import {
  checkModelRef,
  checkPage,
  decodePageToken,
  defineService,
  encodePageToken,
  modelSource,
  pageSize,
  trainerRunResolver,
  validate,
  withProgress,
  yieldToEventLoop,
  type FloeConfig,
  type HostedService,
  type Logger,
  type ProgressReport,
} from '@floe/service-kit';
import { openDataset, type Dataset } from '@floe/data';
import { initBackend } from '@floe/ml-runtime';
import type { BlockModel } from '@floe/models';
import { LocalArtifactStore, floeDirs } from '@floe/store';
import { mismatch, openInitialModel, openModel } from '@floe/training';
import { bootstrapStderr, continualMetrics, detectDoubleDescent, LOWER_IS_BETTER, meanAt } from '@floe/metrics';
import { Attr, SpanName, instrument } from '@floe/telemetry';
import { evaluateSuite, type SuiteOutcome } from './runner.js';
import { loadSuites, type SuiteDef, type TaskKind } from './suites.js';

const TASK: Record<TaskKind, ev.TaskKind> = {
  'language-model': ev.TaskKind.TASK_KIND_LANGUAGE_MODEL,
  classification: ev.TaskKind.TASK_KIND_CLASSIFICATION,
  regression: ev.TaskKind.TASK_KIND_REGRESSION,
};
const SPLIT = {
  train: commonV1.DatasetSplit.DATASET_SPLIT_TRAIN,
  validation: commonV1.DatasetSplit.DATASET_SPLIT_VALIDATION,
  test: commonV1.DatasetSplit.DATASET_SPLIT_TEST,
  all: commonV1.DatasetSplit.DATASET_SPLIT_ALL,
};

function suiteMessage(s: SuiteDef): ev.Suite {
  return {
    name: s.name,
    taskKind: TASK[s.task],
    dataset: { uri: s.dataset, split: SPLIT[s.split], maxExamples: 0 },
    metrics: s.metrics,
    sampleCount: s.samples,
    source: s.source,
    description: s.description,
  };
}

function matrix(rows: number[][], rowLabels: string[], colLabels: string[]): commonV1.Matrix {
  return { rows: rows.length, cols: rows[0]?.length ?? 0, values: rows.flat(), rowLabels, colLabels };
}

export function createEvaluatorService(opts: {
  config: FloeConfig;
  log: Logger;
  backend?: 'auto' | 'native' | 'wasm' | 'cpu';
}): HostedService {
  const artifacts = new LocalArtifactStore(floeDirs(opts.config.home).artifacts);
  let selfAddress = opts.config.address;
  const resolveRun = trainerRunResolver(() => opts.config.peers.trainer ?? selfAddress);
  let backend: Promise<unknown> | undefined;
  const ready = () => (backend ??= initBackend(opts.backend));
  const suites = () => loadSuites(opts.config.suitesDir, (message) => opts.log.warn('suite skipped', { message }));

  /** The named suites, in order; an unknown name is NOT_FOUND naming the field. */
  const pick = (names: string[], field = 'suites'): SuiteDef[] => {
    const all = suites();
    return names.map((n, i) => {
      const s = all.find((x) => x.name === n);
      if (!s)
        throw new FloeError(
          'not_found',
          `${field}[${i}]: no suite ${JSON.stringify(n)}; suites: ${all.map((x) => x.name).join(', ')}`,
        );
      return s;
    });
  };

  const dataCache = new Map<string, Dataset>();
  const dataOf = (s: SuiteDef): Dataset => {
    const key = `${s.dataset}@${s.split}`;
    let d = dataCache.get(key);
    if (!d) {
      d = openDataset(
        { uri: s.dataset, split: s.split },
        { dataRoots: opts.config.dataRoots, maxBytes: opts.config.maxDatasetBytes },
      );
      // Builtins never change; a file might, so only builtins are kept.
      if (s.dataset.startsWith('builtin:')) dataCache.set(key, d);
    }
    return d;
  };

  /** Evaluates `model` on every suite, reporting progress over `span` of the whole work from `offset`. */
  const evaluateAll = async (
    field: string,
    model: BlockModel,
    list: SuiteDef[],
    bootstrap: number,
    seed: number,
    report: (p: ProgressReport) => void,
    offset: number,
    span: number,
  ): Promise<SuiteOutcome[]> => {
    const out: SuiteOutcome[] = [];
    for (const [i, suite] of list.entries()) {
      if (model.task !== suite.task)
        throw invalidArgument(field, `is a ${model.task} model; suite ${suite.name} is a ${suite.task} task`);
      const data = dataOf(suite);
      const why = mismatch(model, data);
      if (why) throw invalidArgument(field, `cannot be evaluated on suite ${suite.name}: ${why}`);
      out.push(
        await instrument(
          { name: SpanName.evaluate, attributes: { [Attr.dataset]: suite.dataset, 'floe.suite': suite.name } },
          () =>
            evaluateSuite(model, suite, data, {
              bootstrap,
              seed,
              onBatch: async (done, total) => {
                report({
                  phase: 'evaluate',
                  done,
                  total,
                  fraction: offset + (span * (i + done / total)) / list.length,
                  message: `${suite.name}: batch ${done} of ${total}`,
                });
                await yieldToEventLoop();
              },
            }),
        ),
      );
    }
    return out;
  };

  const validateSuites = (v: import('@floe/service-kit').Validator, names: string[]) => {
    v.count('suites', names, 256, 1);
    names.forEach((s, i) => v.string(`suites[${i}]`, s, { required: true, max: 128 }));
  };

  return defineService(
    SERVICE_NAMES.evaluator,
    ev.EvaluatorServiceService,
    {
      async listSuites(req) {
        validate((v) => checkPage(v, 'page', req.page));
        const all = suites();
        const size = pageSize(req.page?.pageSize);
        const offset = decodePageToken('suites', req.page?.pageToken);
        return {
          suites: all.slice(offset, offset + size).map(suiteMessage),
          page: { nextPageToken: offset + size < all.length ? encodePageToken('suites', offset + size) : '' },
        };
      },
      async *evaluate(req) {
        validate((v) => {
          checkModelRef(v, 'model', req.model);
          validateSuites(v, req.suites);
          v.number('bootstrap_samples', req.bootstrapSamples, { min: 0, max: 100_000, integer: true });
        });
        const list = pick(req.suites);
        for await (const e of withProgress(async (report) => {
          await ready();
          const model = await openModel('model', modelSource(req.model!), artifacts, resolveRun);
          try {
            const outcomes = await evaluateAll(
              'model',
              model,
              list,
              req.bootstrapSamples || 200,
              Number(req.seed),
              report,
              0,
              1,
            );
            return {
              model: req.model,
              results: outcomes.map((o, i) => ({ suite: list[i]!.name, metrics: o.metrics, sampleCount: o.count })),
            };
          } finally {
            model.dispose();
          }
        })) {
          yield 'progress' in e
            ? { event: { $case: 'progress', value: e.progress } }
            : { event: { $case: 'evaluation', value: e.result } };
        }
      },
      async *compareModels(req) {
        validate((v) => {
          v.count('stages', req.stages, 64, 2);
          req.stages.forEach((m, i) => checkModelRef(v, `stages[${i}]`, m));
          validateSuites(v, req.suites);
          v.string('metric', req.metric, { max: 128 });
          v.number('bootstrap_samples', req.bootstrapSamples, { min: 0, max: 100_000, integer: true });
        });
        const list = pick(req.suites);
        const metric = req.metric || list[0]!.metrics[0]!;
        list.forEach((s, i) => {
          if (!s.metrics.includes(metric))
            throw invalidArgument(
              'metric',
              `suite ${s.name} (suites[${i}]) has no ${metric}; it has ${s.metrics.join(', ')}`,
            );
        });
        const bootstrap = req.bootstrapSamples || 200;
        const seed = Number(req.seed);
        for await (const e of withProgress(async (report) => {
          await ready();
          const stages = req.stages.length;
          // Each stage and the base's fresh initialisation (for FWT), every suite on the same examples.
          const outcomes: SuiteOutcome[][] = [];
          for (let i = 0; i <= stages; i++) {
            const field = i < stages ? `stages[${i}]` : 'stages[0]';
            const model =
              i < stages
                ? await openModel(field, modelSource(req.stages[i]!), artifacts, resolveRun)
                : await openInitialModel(field, modelSource(req.stages[0]!), artifacts, resolveRun);
            try {
              outcomes.push(
                await evaluateAll(field, model, list, bootstrap, seed, report, i / (stages + 1), 1 / (stages + 1)),
              );
            } finally {
              model.dispose();
            }
          }
          const value = (o: SuiteOutcome) => o.metrics.find((m) => m.name === metric)!;
          const R = outcomes.slice(0, stages).map((row) => row.map((o) => value(o).value));
          const Rse = outcomes.slice(0, stages).map((row) => row.map((o) => value(o).stderr));
          const randomInit = outcomes[stages]!.map((o) => value(o).value);
          const higherIsBetter = !LOWER_IS_BETTER.has(metric);
          const m = continualMetrics(R, { higherIsBetter, randomInit });
          const sign = higherIsBetter ? 1 : -1;
          // Gains are paired: the same examples under stage i and the base, so their errors shrink together.
          const gainsStderr = R.map((row, i) =>
            row.map((_, j) => {
              const a = outcomes[i]![j]!.perExample[metric];
              const b = outcomes[0]![j]!.perExample[metric];
              if (i === 0) return 0;
              if (!a || !b) return Math.hypot(Rse[i]![j]!, Rse[0]![j]!);
              const diff = a.map((x, k) => sign * (x - b[k]!));
              return bootstrapStderr(diff.length, (idx) => meanAt(diff, idx), bootstrap, seed + 1);
            }),
          );
          const stageLabels = req.stages.map((_, i) => (i === 0 ? 'base' : `stage ${i}`));
          const names = list.map((s) => s.name);
          const result: ev.ForgettingReport = {
            rMatrix: matrix(R, stageLabels, names),
            acc: m.acc,
            bwt: m.bwt,
            fwt: m.fwt,
            forgetting: Object.fromEntries(m.forgetting.map((f, j) => [names[j]!, f])),
            gains: matrix(m.gains, stageLabels, names),
            gainsStderr: matrix(gainsStderr, stageLabels, names),
            rStderr: matrix(Rse, stageLabels, names),
            metric,
            higherIsBetter,
            randomInit,
          };
          return result;
        })) {
          yield 'progress' in e
            ? { event: { $case: 'progress', value: e.progress } }
            : { event: { $case: 'report', value: e.result } };
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
    { log: opts.log, onListening: (address) => (selfAddress = address) },
  );
}
