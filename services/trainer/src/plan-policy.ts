// How a fetched ADE plan changes a run's spec (RunSpec.plan_policy says which request fields win), and
// the record of each change that the run keeps (Run.plan_changes).
import { commonV1, trainerV1 } from '@floe/contracts';

const text = (v: unknown) => (v === undefined ? '' : String(v));

export function applyPlan(
  spec: trainerV1.RunSpec,
  plan: commonV1.AdaptationPlan,
): { spec: trainerV1.RunSpec; changes: trainerV1.PlanChange[] } {
  const policy = spec.planPolicy ?? trainerV1.PlanPolicy.fromPartial({});
  const changes: trainerV1.PlanChange[] = [];
  const change = (field: string, before: unknown, after: unknown) => {
    if (text(before) !== text(after)) changes.push({ field, before: text(before), after: text(after) });
  };
  const reference = spec.mixture!.replayDataset!;
  let mixture = spec.mixture;
  if (!policy.keepMixture) {
    mixture = {
      replayDataset: plan.replayFraction > 0 ? (plan.replayDataset ?? reference) : reference,
      replayFraction: plan.replayFraction,
    };
    change('mixture.replay_fraction', spec.mixture?.replayFraction ?? 0, mixture.replayFraction);
    change('mixture.replay_dataset.uri', reference.uri, mixture.replayDataset?.uri);
  }
  const optimizer = spec.optimizer ?? trainerV1.OptimizerConfig.fromPartial({});
  let learningRate = optimizer.learningRate;
  if (plan.learningRate > 0 && !(policy.keepLearningRate && optimizer.learningRate > 0))
    learningRate = plan.learningRate;
  change('optimizer.learning_rate', optimizer.learningRate, learningRate);
  let budgetSteps = spec.budgetSteps;
  if (policy.usePlanBudget && plan.budgetSteps > 0) budgetSteps = plan.budgetSteps;
  change('budget_steps', spec.budgetSteps, budgetSteps);
  return { spec: { ...spec, plan, mixture, optimizer: { ...optimizer, learningRate }, budgetSteps }, changes };
}
