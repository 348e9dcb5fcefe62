export { angularDistance, scoreBlocks, meanLoss, readableLoss, type BlockScore, type Scores } from './scores.js';
export { planAdaptation, type Plan, type PlanInput, type Decision, type Action, type DriftLevel } from './plan.js';
export {
  SCORING_DEFAULTS,
  PLANNING_DEFAULTS,
  resolveScoring,
  unitsPerStep,
  driftLevel,
  type ScoringOptions,
} from './defaults.js';
export {
  SEARCH_DEFAULTS,
  featureSpace,
  planCandidates,
  chooseWinner,
  pairedStandardError,
  pilotObjective,
  type PlanCandidate,
  type PlanFeatures,
  type PilotPoint,
  type CandidateOptions,
} from './search.js';
