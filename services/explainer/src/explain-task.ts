// The explainer's model passes in a worker thread (the house rule: TF.js work never runs on the server's
// event loop): attributions of one model on seeded instances and background rows, and the hidden
// attention of a Mamba model on one input.
import { modelInput, openDataset, type Dataset, type TextDataset } from '@floe/data';
import { invalidArgument } from '@floe/errors';
import { initBackend } from '@floe/ml-runtime';
import type { BlockModel } from '@floe/models';
import { renderSvg } from '@floe/plots';
import { rngFor } from '@floe/random';
import { LocalArtifactStore } from '@floe/store';
import {
  alignInputs,
  noRunResolver,
  openByTarget,
  openModel,
  schemaOf,
  serveTask,
  type ComputeEnv,
  type ResolvedModelSource,
} from '@floe/training';
import {
  EXACT_MAX_FEATURES,
  attribute,
  batchModel,
  gradientColumnWeights,
  mambaOutputGradients,
  imagePatches,
  imageValue,
  layerAttention,
  meanRow,
  minKernelBudget,
  rollout,
  scanLayers,
  tabularValue,
  textValue,
  byteSpans,
  attentionHeatmapSpec,
  barSpec,
  beeswarmSpec,
  compareAttributions,
  imageOverlaySpec,
  shiftSpec,
  waterfallSpec,
  type Attribution,
  type AttributionShift,
  type ExplainOptions,
  type AttributionMethod,
  type BatchModel,
  type ValueFunction,
} from '@floe/xai';

/** A dataset the explainer reads; `field` names it in errors. */
export interface ExplainDataRef {
  uri: string;
  field: string;
  /** A table's target column; empty: "label" or "target", else the last. */
  targetColumn: string;
  /** A table's columns to leave out (DatasetRef.ignore_columns). */
  ignoreColumns: string[];
}

export interface AttributionSettings {
  method: AttributionMethod;
  instances: number;
  background: number;
  /** 0: the method's default. */
  budget: number;
  outputIndex: number;
  /** 0: the method's default. */
  steps: number;
  seed: number;
  patchSize: number;
  /** Byte spans of a text window. */
  spans: number;
  /** Render plots into the result. */
  plots: boolean;
}

export interface RenderedPlot {
  name: string;
  svg: string;
}

export interface ExplainJob {
  kind: 'explain';
  env: ComputeEnv;
  /** The request's field of the model, for errors ("model", "adapted_model"). */
  field: string;
  model: ResolvedModelSource;
  dataset: ExplainDataRef;
  background: ExplainDataRef;
  settings: AttributionSettings;
}

export interface CompareJob {
  kind: 'compare';
  env: ComputeEnv;
  base: ResolvedModelSource;
  adapted: ResolvedModelSource;
  dataset: ExplainDataRef;
  background: ExplainDataRef;
  settings: AttributionSettings;
}

export interface CompareResult {
  before: ExplainResult;
  after: ExplainResult;
  shift: AttributionShift;
  plots: RenderedPlot[];
}

export interface ExplainResult {
  featureNames: string[];
  values: number[][];
  standardErrors?: number[][];
  baseValues: number[];
  outputs: number[];
  deltas: number[];
  evaluations: number;
  wallMs: number;
  plots: RenderedPlot[];
}

export type Aggregation = 'mean' | 'rollout' | 'attr';

export interface AttentionJob {
  kind: 'attention';
  env: ComputeEnv;
  model: ResolvedModelSource;
  input: Uint8Array;
  layers: number[];
  aggregation: Aggregation;
  plots: boolean;
}

export interface AttentionResult {
  steps: number;
  /** One steps × steps map per reported layer, or one rollout map. */
  maps: number[][];
  layers: number[];
  reconstructionError: number;
  plots: RenderedPlot[];
}

export type ExplainerJob = ExplainJob | CompareJob | AttentionJob;
export type ExplainerProgress = { done: number; total: number; message: string };

/** `count` distinct row indices of `rows`, drawn with `seed`. */
function draw(rows: number, count: number, seed: number, name: string): number[] {
  const order = rngFor(seed, name).shuffle(Array.from({ length: rows }, (_, i) => i));
  return order.slice(0, Math.min(count, rows)).sort((a, b) => a - b);
}

/** Flat model rows (and feature names) of a dataset the model can read; INVALID_ARGUMENT otherwise. */
function rowsOf(
  model: BlockModel,
  data: Dataset,
  field: string,
  modelField: string,
): { inputs: number; x: Float32Array; rows: number } {
  const cfg = model.spec.config;
  if (data.kind === 'tabular') {
    if (model.spec.architecture !== 'mlp')
      throw invalidArgument(
        field,
        `is tabular; ${modelField} is a ${model.spec.architecture}, which does not read table rows`,
      );
    const inputs = Number(cfg.inputs);
    if (data.features.length !== inputs)
      throw invalidArgument(field, `has ${data.features.length} features per row; ${modelField} takes ${inputs}`);
    // A missing value enters as training does (the column's mean, or no category; 0 for models that record none).
    const fill = schemaOf(model).featureFill;
    return { inputs, x: data.x.map((v, i) => modelInput(v, fill?.[i % inputs])), rows: data.rows };
  }
  if (data.kind === 'image') {
    if (model.spec.architecture !== 'lenet5')
      throw invalidArgument(
        field,
        `holds images; ${modelField} is a ${model.spec.architecture}, which does not read images`,
      );
    // The images come in the model's shape (alignInputs).
    return { inputs: data.height * data.width * data.channels, x: data.pixels, rows: data.labels.length };
  }
  throw invalidArgument(
    field,
    `is a text dataset; ${modelField} is a ${model.spec.architecture}, which does not read bytes`,
  );
}

/**
 * What a Shapley method can take on `features` features: INVALID_ARGUMENT naming `featureField` when exact
 * enumeration is too large, and options.budget when the budget is below 2M + 2.
 */
function checkFeatureCount(s: AttributionSettings, features: number, featureField: string, hint: string): void {
  if (s.method === 'exact' && features > EXACT_MAX_FEATURES)
    throw invalidArgument(
      featureField,
      `exact Shapley takes at most ${EXACT_MAX_FEATURES} features; this input has ${features} (${hint})`,
    );
  if ((s.method === 'kernel' || s.method === 'permutation') && s.budget && s.budget < minKernelBudget(features))
    throw invalidArgument(
      'options.budget',
      `is ${s.budget}; ${features} features need at least 2M + 2 = ${minKernelBudget(features)}`,
    );
}

/** The method's options in libs/xai's terms (0 in the contract: the method's default). */
function methodOptions(s: AttributionSettings): ExplainOptions {
  return { method: s.method, budget: s.budget || undefined, steps: s.steps || undefined, seed: s.seed };
}

/** The longest text window explained: each coalition is one forward pass over it. */
const TEXT_WINDOW = 64;

/** Text: byte spans of a window of each drawn document, the output log p(the byte after the window). */
async function explainText(
  job: Omit<ExplainJob, 'kind' | 'model'>,
  model: BlockModel,
  data: TextDataset,
  progress: (p: ExplainerProgress) => void,
): Promise<ExplainResult> {
  const s = job.settings;
  if (s.method === 'integrated-gradients' || s.method === 'gradient-shap')
    throw invalidArgument(
      'options.method',
      'gradients do not reach bytes; explain text with exact, kernel or permutation',
    );
  const window = Math.min(TEXT_WINDOW, Number(model.spec.config.context));
  const spans = Math.min(s.spans, window);
  checkFeatureCount(s, spans, 'options.spans', 'use fewer spans, or kernel or permutation');
  const long = data.documents.flatMap((d, i) => (d.length > window ? [i] : []));
  if (!long.length) throw invalidArgument(job.dataset.field, `has no document longer than the ${window}-byte window`);
  const rng = rngFor(s.seed, 'explain-text');
  const picked = draw(long.length, s.instances, s.seed, 'explain-instances').map((k) => {
    const doc = data.documents[long[k]!]!;
    const start = rng.int(doc.length - window);
    return { text: doc.subarray(start, start + window), target: doc[start + window]! };
  });
  const spanOf = byteSpans(window, spans);
  const results: Attribution[] = [];
  const examples: string[][] = [];
  for (const [k, { text, target }] of picked.entries()) {
    const value = () => textValue(batchModel(model, window, { index: target }), text, spanOf, spans);
    results.push(attribute({ features: spans, value }, methodOptions(s)));
    examples.push(
      Array.from({ length: spans }, (_, f) =>
        JSON.stringify(new TextDecoder().decode(text.filter((_, i) => spanOf[i] === f))),
      ),
    );
    progress({ done: k + 1, total: picked.length, message: `text ${k + 1} of ${picked.length}` });
  }
  // Spans are places in the window; the first instance's bytes name them by example.
  const featureNames = examples[0]!.map((example, f) => `span ${f} ${example}`);
  const plots: RenderedPlot[] = [];
  if (s.plots) {
    const first = results[0]!;
    plots.push({
      name: 'waterfall',
      svg: await renderSvg(waterfallSpec(examples[0]!, first.values, first.baseValue, first.output)),
    });
    plots.push({
      name: 'bar',
      svg: await renderSvg(
        barSpec(
          featureNames,
          results.map((r) => r.values),
        ),
      ),
    });
  }
  return summarise(featureNames, results, plots);
}

function summarise(featureNames: string[], results: Attribution[], plots: RenderedPlot[]): ExplainResult {
  const sampled = results.every((r) => r.standardErrors);
  return {
    featureNames,
    values: results.map((r) => Array.from(r.values)),
    standardErrors: sampled ? results.map((r) => Array.from(r.standardErrors!)) : undefined,
    baseValues: results.map((r) => r.baseValue),
    outputs: results.map((r) => r.output),
    deltas: results.map((r) => r.delta),
    evaluations: results.reduce((n, r) => n + r.evaluations, 0),
    wallMs: results.reduce((n, r) => n + r.wallMs, 0),
    plots,
  };
}

function outputsOf(model: BlockModel): number {
  const cfg = model.spec.config;
  return Number(model.spec.architecture === 'lenet5' ? cfg.classes : cfg.outputs);
}

async function explain(
  job: Omit<ExplainJob, 'kind' | 'model'>,
  model: BlockModel,
  progress: (p: ExplainerProgress) => void,
): Promise<ExplainResult> {
  const { env, settings: s } = job;
  // A table's columns meet the model by name, in its order (a model shaped by a table records them), its target
  // the one the model learned unless the reference names another; images come in the shape the model reads.
  const open = async (ref: ExplainDataRef, split: 'test' | 'train') => {
    const { data: d } = await openByTarget(model, ref.targetColumn, (targetColumn) =>
      openDataset(
        { uri: ref.uri, split, targetColumn, ignoreColumns: ref.ignoreColumns },
        { dataRoots: env.dataRoots, maxBytes: env.maxDatasetBytes },
        ref.field,
      ),
    );
    return alignInputs(d, schemaOf(model), ref.field);
  };
  const data = await open(job.dataset, 'test');
  if (data.kind === 'text' && model.task === 'language-model') return explainText(job, model, data, progress);
  const { inputs, x } = rowsOf(model, data, job.dataset.field, job.field);
  const backgroundData = await open(job.background, 'train');
  const bg = rowsOf(model, backgroundData, job.background.field, job.field);
  if (s.outputIndex >= outputsOf(model))
    throw invalidArgument('options.output_index', `is ${s.outputIndex}; ${job.field} has ${outputsOf(model)} outputs`);

  const image = data.kind === 'image' ? data : undefined;
  const geometry = image && { height: image.height, width: image.width, channels: image.channels };
  const patches = geometry && imagePatches(geometry, s.patchSize);
  const gradientMethod = s.method === 'integrated-gradients' || s.method === 'gradient-shap';
  const features = image && !gradientMethod ? patches!.patches : inputs;
  const featureNames =
    data.kind === 'tabular'
      ? data.features
      : gradientMethod
        ? Array.from(
            { length: inputs },
            (_, i) =>
              `pixel(${Math.floor(i / geometry!.width / geometry!.channels)},${Math.floor(i / geometry!.channels) % geometry!.width})`,
          )
        : Array.from({ length: features }, (_, i) => `patch ${i}`);

  checkFeatureCount(
    s,
    features,
    'options.method',
    `use kernel or permutation${image ? ', or a larger patch_size' : ''}`,
  );

  const pick = (from: Float32Array, rowsIdx: number[]) => {
    const out = new Float32Array(rowsIdx.length * inputs);
    rowsIdx.forEach((r, k) => out.set(from.subarray(r * inputs, (r + 1) * inputs), k * inputs));
    return out;
  };
  const instanceRows = draw(x.length / inputs, s.instances, s.seed, 'explain-instances');
  const instances = pick(x, instanceRows);
  const background = pick(bg.x, draw(bg.x.length / inputs, s.background, s.seed, 'explain-background'));
  const f: BatchModel = batchModel(model, inputs, {
    index: s.outputIndex,
    rowShape: geometry ? [geometry.height, geometry.width, geometry.channels] : undefined,
  });
  const baseline = meanRow(background, inputs);

  const results: Attribution[] = [];
  for (let k = 0; k < instanceRows.length; k++) {
    const xi = instances.subarray(k * inputs, (k + 1) * inputs);
    const value = (): ValueFunction =>
      image
        ? imageValue(f, xi, baseline, geometry!, patches!.pixelPatch, patches!.patches)
        : tabularValue(f, xi, background);
    results.push(attribute({ features, value, gradient: { model: f, x: xi, baseline, background } }, methodOptions(s)));
    progress({ done: k + 1, total: instanceRows.length, message: `instance ${k + 1} of ${instanceRows.length}` });
  }
  const plots: RenderedPlot[] = [];
  if (s.plots) {
    const values = results.map((r) => r.values);
    const first = results[0]!;
    plots.push({
      name: 'waterfall',
      svg: await renderSvg(waterfallSpec(featureNames, first.values, first.baseValue, first.output)),
    });
    plots.push({ name: 'bar', svg: await renderSvg(barSpec(featureNames, values)) });
    if (!image) {
      const inputsOf = instanceRows.map((_, k) => instances.subarray(k * inputs, (k + 1) * inputs));
      plots.push({ name: 'beeswarm', svg: await renderSvg(beeswarmSpec(featureNames, values, inputsOf)) });
    } else {
      const { height, width, channels } = geometry!;
      const grey = new Float32Array(height * width);
      const phi = new Float64Array(height * width);
      for (let p = 0; p < height * width; p++) {
        for (let c = 0; c < channels; c++) {
          grey[p]! += instances[p * channels + c]! / channels;
          phi[p]! += gradientMethod ? first.values[p * channels + c]! : 0;
        }
        if (!gradientMethod) phi[p] = first.values[patches!.pixelPatch[p]!]!;
      }
      plots.push({ name: 'image', svg: await renderSvg(imageOverlaySpec(height, width, grey, phi)) });
    }
  }
  return summarise(featureNames, results, plots);
}

async function attention(
  job: AttentionJob,
  model: BlockModel,
  progress: (p: ExplainerProgress) => void,
): Promise<AttentionResult> {
  if (model.spec.architecture !== 'mamba-lm')
    throw invalidArgument(
      'model',
      `is a ${model.spec.architecture}; implicit attention needs a model with Mamba (selective SSM) layers`,
    );
  const context = Number(model.spec.config.context);
  if (job.input.length > context)
    throw invalidArgument('input', `has ${job.input.length} bytes; the model's context is ${context}`);
  const all = scanLayers(model, job.input);
  job.layers.forEach((l, i) => {
    if (l >= all.length) throw invalidArgument(`layers[${i}]`, `is ${l}; the model has ${all.length} Mamba layers`);
  });
  const wanted =
    job.aggregation === 'rollout' ? all.map((_, i) => i) : job.layers.length ? job.layers : all.map((_, i) => i);
  const t = job.input.length;
  let reconstructionError = 0;
  const maps = wanted.map((l, k) => {
    const { map, reconstructionError: error } = layerAttention(all[l]!.layer, { selfCheck: true });
    reconstructionError = Math.max(reconstructionError, error!);
    progress({ done: k + 1, total: wanted.length, message: `layer ${l}` });
    return map;
  });
  // Mamba-Attr: each layer's map weighted by where the gradient of the predicted byte's log-probability
  // with respect to the layer's output is positive, before rollout.
  const weights =
    job.aggregation === 'attr'
      ? mambaOutputGradients(model, job.input).map(({ gradient }) =>
          gradientColumnWeights(gradient, t, gradient.length / t),
        )
      : undefined;
  const result =
    job.aggregation === 'mean'
      ? { maps: maps.map((m) => Array.from(m)), layers: wanted }
      : { maps: [Array.from(rollout(maps, t, weights))], layers: [all.length - 1] };
  const plots: RenderedPlot[] = [];
  if (job.plots)
    for (const [k, map] of result.maps.entries()) {
      const title =
        job.aggregation === 'rollout'
          ? 'Attention rollout over every layer'
          : `Hidden attention of layer ${result.layers[k]}`;
      plots.push({
        name: job.aggregation === 'mean' ? `attention-layer-${result.layers[k]}` : `attention-${job.aggregation}`,
        svg: await renderSvg(attentionHeatmapSpec(map, t, title)),
      });
    }
  return { steps: t, ...result, reconstructionError, plots };
}

async function compare(job: CompareJob, progress: (p: ExplainerProgress) => void): Promise<CompareResult> {
  const half = (offset: number, name: string) => (p: ExplainerProgress) =>
    progress({ done: offset + p.done, total: 2 * p.total, message: `${name}: ${p.message}` });
  // The same seed draws the same instances and background for both models: the comparison is paired.
  const run = (field: string, source: ResolvedModelSource, offset: number) =>
    withModel(job.env, field, source, (model) => explain({ ...job, field }, model, half(offset, field)), job.dataset);
  const before = await run('base_model', job.base, 0);
  const after = await run('adapted_model', job.adapted, before.values.length);
  const shift = compareAttributions(
    before.featureNames,
    before.values.map((r) => Float64Array.from(r)),
    after.values.map((r) => Float64Array.from(r)),
  );
  const plots = job.settings.plots
    ? [{ name: 'shift', svg: await renderSvg(shiftSpec(shift.shifts, ['base', 'adapted'])) }]
    : [];
  return { before, after, shift, plots };
}

/**
 * Opens the model, runs `use`, disposes of it. A builtin takes the shape of `shapeBy` (the explained data), as a
 * run on that data builds it: an MLP its table's columns and classes, LeNet its images' size and classes.
 */
async function withModel<R>(
  env: ComputeEnv,
  field: string,
  source: ResolvedModelSource,
  use: (m: BlockModel) => Promise<R>,
  shapeBy?: ExplainDataRef,
): Promise<R> {
  const shape =
    source.kind === 'builtin' && shapeBy
      ? {
          data: openDataset(
            // every class, not only the test split's
            {
              uri: shapeBy.uri,
              split: 'all',
              targetColumn: shapeBy.targetColumn,
              ignoreColumns: shapeBy.ignoreColumns,
            },
            { dataRoots: env.dataRoots, maxBytes: env.maxDatasetBytes },
            shapeBy.field,
          ),
        }
      : undefined;
  const model = await openModel(field, source, new LocalArtifactStore(env.artifactsDir), noRunResolver, shape);
  try {
    return await use(model);
  } finally {
    model.dispose();
  }
}

serveTask<ExplainerJob, ExplainResult | CompareResult | AttentionResult, ExplainerProgress>(async (job, progress) => {
  await initBackend(job.env.backend, { threads: job.env.threads });
  switch (job.kind) {
    case 'compare':
      return compare(job, progress);
    case 'explain':
      return withModel(job.env, job.field, job.model, (m) => explain(job, m, progress), job.dataset);
    case 'attention':
      return withModel(job.env, 'model', job.model, (m) => attention(job, m, progress));
  }
});
