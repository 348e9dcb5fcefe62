export { angularDistance, scoreBlocks, meanLoss, readableLoss, type BlockScore, type Scores } from './scores.js';
export { planAdaptation, type Plan, type PlanInput, type Decision, type Action, type DriftLevel } from './plan.js';
