export { bootstrapStderr, mean, meanAt, meanWithStandardError } from './bootstrap.js';
export {
  languageModelMetrics,
  classificationMetrics,
  classificationOutcomes,
  argmaxRows,
  regressionMetrics,
  regressionErrors,
  rSquared,
  macroF1,
  balancedAccuracy,
  classifierAuc,
  CLASSIFICATION_METRICS,
  REGRESSION_METRICS,
  expectedCalibrationError,
  LOWER_IS_BETTER,
  type MetricValue,
  rocAuc,
  brierSkillScore,
} from './scores.js';
export { continualMetrics, type ContinualReport } from './continual.js';
export {
  detectDoubleDescent,
  smooth,
  noiseLevel,
  DEFAULT_NOISE_MULTIPLE,
  type DoubleDescent,
} from './double-descent.js';
export { compareStages, type CellOutcome, type StageComparison } from './compare.js';
