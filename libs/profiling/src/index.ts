export { TextProfiler, type TextProfile, type Histogram } from './text.js';
export {
  profileTabular,
  profileTabularSteps,
  profileImages,
  profileImageSteps,
  compareDatasets,
  compareSteps,
  MAX_LISTED_CATEGORIES,
  type TabularProfile,
  type ColumnProfile,
  type ImageProfile,
  type DriftReport,
} from './tabular.js';
export {
  psi,
  jsDivergence,
  linf,
  cramersV,
  ksTwoSample,
  wasserstein1,
  numericDrift,
  categoricalDrift,
  verdictOf,
  worstVerdict,
  DEFAULT_THRESHOLDS,
  PSI_EPSILON,
  type DriftThresholds,
  type FeatureDrift,
  type Verdict,
} from './drift.js';
export { sortedFinite, quantileSorted, meanStd, entropyBits } from './stats.js';
export { valueCounts, valueCountSteps, runLengths, type ValueCounts } from './value-counts.js';
