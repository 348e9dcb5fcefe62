// ExplainerService handlers: validate, run the attribution or the hidden attention in a worker thread
// (explain-task.ts), stream progress, and turn the result into the contract's messages. What changed
// between two models is libs/xai's compareAttributions.
import { SERVICE_NAMES, commonV1, explainerV1 as ex } from '@floe/contracts';
import {
  Peers,
  checkDatasetRef,
  checkModelRef,
  defineService,
  modelSource,
  trainerRunResolver,
  validate,
  withProgress,
  type HostedService,
  type ProgressReport,
  type ServiceContext,
  type Validator,
} from '@floe/service-kit';
import { Attr, SpanName, instrument } from '@floe/telemetry';
import { computeEnv, resolveModelSource, runTask, taskWorkerOptions } from '@floe/training';
import type { AttributionMethod } from '@floe/xai';
import type {
  Aggregation,
  AttentionResult,
  AttributionSettings,
  CompareResult,
  ExplainResult,
  ExplainerJob,
  ExplainerProgress,
} from './explain-task.js';

const EXPLAIN_TASK = new URL('./explain-task.ts', import.meta.url);

const METHODS: Record<number, AttributionMethod> = {
  [ex.Method.METHOD_EXACT]: 'exact',
  [ex.Method.METHOD_KERNEL]: 'kernel',
  [ex.Method.METHOD_GRADIENT]: 'gradient-shap',
  [ex.Method.METHOD_INTEGRATED_GRADIENTS]: 'integrated-gradients',
  [ex.Method.METHOD_PERMUTATION]: 'permutation',
};

/** Defaults of ExplainOptions' zero values, as the contract states them. */
export const EXPLAIN_DEFAULTS = { instances: 16, background: 64, patchSize: 7, spans: 12 } as const;

function checkOptions(v: Validator, field: string, o: ex.ExplainOptions | undefined): void {
  if (!o) {
    v.add(field, 'is required (at least a method)');
    return;
  }
  v.enumValue(`${field}.method`, o.method, ex.Method);
  v.number(`${field}.instances`, o.instances, { min: 0, max: 10_000, integer: true });
  v.number(`${field}.background`, o.background, { min: 0, max: 10_000, integer: true });
  v.number(`${field}.budget`, o.budget, { min: 0, max: 10_000_000, integer: true });
  v.number(`${field}.output_index`, o.outputIndex, { min: 0, integer: true });
  v.number(`${field}.steps`, o.steps, { min: 0, max: 10_000, integer: true });
  v.number(`${field}.patch_size`, o.patchSize, { min: 0, max: 1024, integer: true });
  v.number(`${field}.spans`, o.spans, { min: 0, max: 64, integer: true });
}

function settingsOf(o: ex.ExplainOptions, plots: boolean): AttributionSettings {
  return {
    plots,
    method: METHODS[o.method]!,
    instances: o.instances || EXPLAIN_DEFAULTS.instances,
    background: o.background || EXPLAIN_DEFAULTS.background,
    budget: o.budget,
    outputIndex: o.outputIndex,
    steps: o.steps,
    seed: Number(o.seed),
    patchSize: o.patchSize || EXPLAIN_DEFAULTS.patchSize,
    spans: o.spans || EXPLAIN_DEFAULTS.spans,
  };
}

function matrix(rows: number[][], colLabels: string[] = []): commonV1.Matrix {
  return { rows: rows.length, cols: rows[0]?.length ?? 0, values: rows.flat(), rowLabels: [], colLabels };
}

function explanation(r: ExplainResult, method: number): ex.Explanation {
  return {
    featureNames: r.featureNames,
    values: matrix(r.values, r.featureNames),
    baseValue: r.baseValues.reduce((s, b) => s + b, 0) / Math.max(1, r.baseValues.length),
    outputs: r.outputs,
    efficiencyGap: Math.max(0, ...r.deltas.map(Math.abs)),
    standardErrors: r.standardErrors ? matrix(r.standardErrors, r.featureNames) : undefined,
    deltas: r.deltas,
    evaluations: r.evaluations,
    wallMs: r.wallMs,
    method,
    baseValues: r.baseValues,
    plots: r.plots,
  };
}

export function createExplainerService(opts: ServiceContext): HostedService {
  const { config } = opts;
  const peers = opts.peers ?? new Peers(config);
  const env = computeEnv(config);

  /** The job in a worker thread, in one span, its progress reported over [offset, offset + span). */
  const run = <R>(
    job: ExplainerJob,
    o: { signal: AbortSignal; report: (p: ProgressReport) => void; phase: string },
  ): Promise<R> =>
    instrument(
      {
        name: SpanName.explain,
        attributes:
          job.kind === 'attention'
            ? { [Attr.method]: `hidden-attention/${job.aggregation}` }
            : { [Attr.method]: job.settings.method, [Attr.dataset]: job.dataset.uri },
      },
      () =>
        runTask<ExplainerJob, R, ExplainerProgress>(EXPLAIN_TASK, job, {
          signal: o.signal,
          ...taskWorkerOptions(env),
          onProgress: ({ done, total, message }) =>
            o.report({ phase: o.phase, done, total, fraction: done / total, message }),
        }),
    );

  const sources = (req: { dataset?: commonV1.DatasetRef; backgroundDataset?: commonV1.DatasetRef }) => {
    const d = req.dataset!;
    const dataset = { uri: d.uri, field: 'dataset', targetColumn: d.targetColumn, ignoreColumns: d.ignoreColumns };
    const b = req.backgroundDataset;
    return {
      dataset,
      // A model shaped by the dataset records the columns it left out, so the background may carry them unnamed.
      background: b?.uri
        ? {
            uri: b.uri,
            field: 'background_dataset',
            targetColumn: b.targetColumn || d.targetColumn,
            ignoreColumns: b.ignoreColumns,
          }
        : dataset,
    };
  };
  const resolve = (field: string, ref: commonV1.ModelRef) =>
    resolveModelSource(modelSource(ref), trainerRunResolver(peers, `${field}.run`));

  return defineService(
    SERVICE_NAMES.explainer,
    ex.ExplainerServiceService,
    {
      async *explain(req, ctx) {
        validate((v) => {
          checkModelRef(v, 'model', req.model);
          checkDatasetRef(v, 'dataset', req.dataset);
          if (req.backgroundDataset) checkDatasetRef(v, 'background_dataset', req.backgroundDataset);
          checkOptions(v, 'options', req.options);
        });
        const model = await resolve('model', req.model!);
        const settings = settingsOf(req.options!, req.includePlots);
        for await (const e of withProgress((report) =>
          run<ExplainResult>(
            { kind: 'explain', env, field: 'model', model, ...sources(req), settings },
            { signal: ctx.signal, report, phase: 'explain' },
          ),
        ))
          yield 'progress' in e
            ? { event: { $case: 'progress', value: e.progress } }
            : { event: { $case: 'explanation', value: explanation(e.result, req.options!.method) } };
      },
      async *compareExplanations(req, ctx) {
        validate((v) => {
          checkModelRef(v, 'base_model', req.baseModel);
          checkModelRef(v, 'adapted_model', req.adaptedModel);
          checkDatasetRef(v, 'dataset', req.dataset);
          if (req.backgroundDataset) checkDatasetRef(v, 'background_dataset', req.backgroundDataset);
          checkOptions(v, 'options', req.options);
        });
        const base = await resolve('base_model', req.baseModel!);
        const adapted = await resolve('adapted_model', req.adaptedModel!);
        const settings = settingsOf(req.options!, req.includePlots);
        for await (const e of withProgress((report) =>
          run<CompareResult>(
            { kind: 'compare', env, base, adapted, ...sources(req), settings },
            { signal: ctx.signal, report, phase: 'compare explanations' },
          ),
        ))
          yield 'progress' in e
            ? { event: { $case: 'progress', value: e.progress } }
            : {
                event: {
                  $case: 'comparison',
                  value: {
                    before: explanation(e.result.before, req.options!.method),
                    after: explanation(e.result.after, req.options!.method),
                    shifts: e.result.shift.shifts,
                    rankCorrelation: e.result.shift.rankCorrelation,
                    gained: e.result.shift.gained,
                    lost: e.result.shift.lost,
                    plots: e.result.plots,
                  },
                },
              };
      },
      async *implicitAttention(req, ctx) {
        validate((v) => {
          checkModelRef(v, 'model', req.model);
          v.check(req.input.length > 0, 'input', 'is required');
          v.check(req.input.length <= 512, 'input', 'is longer than 512 bytes');
          v.count('layers', req.layers, 256);
          req.layers.forEach((l, i) => v.number(`layers[${i}]`, l, { min: 0, integer: true }));
          v.enumValue('aggregation', req.aggregation, ex.Aggregation, { allowUnspecified: true });
        });
        const model = await resolve('model', req.model!);
        const aggregation: Aggregation =
          req.aggregation === ex.Aggregation.AGGREGATION_ROLLOUT
            ? 'rollout'
            : req.aggregation === ex.Aggregation.AGGREGATION_ATTR
              ? 'attr'
              : 'mean';
        for await (const e of withProgress((report) =>
          run<AttentionResult>(
            {
              kind: 'attention',
              env,
              model,
              input: Uint8Array.from(req.input),
              layers: req.layers,
              aggregation,
              plots: req.includePlots,
            },
            { signal: ctx.signal, report, phase: 'hidden attention' },
          ),
        ))
          yield 'progress' in e
            ? { event: { $case: 'progress', value: e.progress } }
            : {
                event: {
                  $case: 'maps',
                  value: {
                    maps: e.result.maps.map((m) => ({
                      rows: e.result.steps,
                      cols: e.result.steps,
                      values: m,
                      rowLabels: [],
                      colLabels: [],
                    })),
                    layers: e.result.layers,
                    reconstructionError: e.result.reconstructionError,
                    plots: e.result.plots,
                  },
                },
              };
      },
    },
    { log: opts.log, peers },
  );
}
