export { sum, meanStandardError, type Attribution, type BatchModel, type ValueFunction } from './types.js';
export { EXACT_MAX_FEATURES, exactShapley, shapleyWeights, allCoalitionValues, shapleyFromValues } from './shapley.js';
export { kernelShap, kernelCoalitions, defaultKernelBudget, minKernelBudget, type KernelOptions } from './kernel.js';
export { permutationShap, type PermutationOptions } from './permutation.js';
export {
  integratedGradients,
  gradientShap,
  gaussLegendre,
  type IntegratedGradientsOptions,
  type GradientShapOptions,
} from './gradients.js';
export {
  tabularValue,
  imageValue,
  imagePatches,
  boxBlur,
  textValue,
  byteSpans,
  type ImageGeometry,
} from './maskers.js';
export {
  channelAttention,
  reconstructScan,
  layerAttention,
  rollout,
  gradientColumnWeights,
  type ScanLayer,
} from './hidden-attention.js';
export { batchModel, scanLayers, mambaOutputGradients, type OutputChoice } from './tf-model.js';
export {
  attribute,
  explainRows,
  meanRow,
  type AttributionMethod,
  type ExplainOptions,
  type Instance,
} from './explain.js';
export { compareAttributions, spearman, ranks, type AttributionShift, type FeatureShift } from './compare.js';
export { waterfallSpec, barSpec, beeswarmSpec, imageOverlaySpec, attentionHeatmapSpec, shiftSpec } from './plots.js';
