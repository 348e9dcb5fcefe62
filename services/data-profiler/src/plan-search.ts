// PlanAdaptation in SEARCH mode: the rules' plan and its variants (libs/adaptation's planCandidates) become
// a finite study of the hpo-surrogate, each candidate an ADE run of the caller's spec with its plan. The
// rules' plan is the baseline and gets its full pilot first; the study's freeze-thaw search then decides
// which other pilots to start and which to thaw, one fidelity step at a time. A pilot follows the run's
// whole schedule compressed to the longest pilot (warm-up, peak, decay to the final rate), so a pilot
// that reaches full length is scored after its rate came down, as the run will be: scored at the run's
// peak rate (an exact prefix), every pilot overstated the forgetting the run ends with and the search
// chose plans too cautious (README, the adaptation study). For the same reason the freeze-thaw search
// follows new-domain loss alone and the forgetting budget is applied only where the pilots are compared:
// at the deepest step two of them reached, the best new-domain validation loss within the budget wins.
// The study's request id derives from the request and the pilot protocol, so asking again resumes the
// same search instead of starting over.
import { createHash } from 'node:crypto';
import { commonV1, dataProfilerV1 as dp, hpoSurrogateV1 as hpo, trainerV1 } from '@floe/contracts';
import { FloeError, invalidArgument } from '@floe/errors';
import { call, fromPeerError, type Peers, type ProgressReport } from '@floe/service-kit';
import {
  SEARCH_DEFAULTS,
  chooseWinner,
  featureSpace,
  pilotObjective,
  planCandidates,
  type BlockScore,
  type PilotPoint,
  type Plan,
} from '@floe/adaptation';

export interface PlanSearchInput {
  request: dp.PlanAdaptationRequest;
  rules: Plan;
  blocks: BlockScore[];
  /** Language models: losses are read in bits per byte (the trainer's are nats per byte). */
  text: boolean;
  /** The plan as the contract carries it (block actions, the replay dataset). */
  toContract: (plan: Plan) => commonV1.AdaptationPlan;
  peers: Peers;
  report: (p: ProgressReport) => void;
  signal: AbortSignal;
}

/** The search's settings, the request's with zeros replaced by the defaults. */
export function searchSettings(options: dp.PlanSearchOptions | undefined) {
  return {
    pilotFraction: options?.pilotFraction || SEARCH_DEFAULTS.pilotFraction,
    maxPilotFraction: options?.maxPilotFraction || SEARCH_DEFAULTS.maxPilotFraction,
    maxCandidates: options?.maxCandidates || SEARCH_DEFAULTS.maxCandidates,
    fidelitySteps: options?.fidelitySteps || SEARCH_DEFAULTS.fidelitySteps,
  };
}

/** The run template of a SEARCH request; INVALID_ARGUMENT naming search.run_template when unusable. */
export function searchTemplate(request: dp.PlanAdaptationRequest): trainerV1.RunSpec {
  const bytes = request.search?.runTemplate;
  if (!bytes?.length) throw invalidArgument('search.run_template', 'is required in SEARCH mode');
  let spec: trainerV1.RunSpec;
  try {
    spec = trainerV1.RunSpec.decode(bytes);
  } catch (err) {
    throw invalidArgument(
      'search.run_template',
      `is not a serialized floe.trainer.v1.RunSpec (${(err as Error).message})`,
    );
  }
  if (!(spec.budgetSteps > 0))
    throw invalidArgument('search.run_template', 'needs budget_steps > 0: the pilots are fractions of it');
  return spec;
}

/** Bumped when what a pilot trains or records changes, so a search asked again after that starts a new study. */
const PILOT_PROTOCOL = 'compressed-schedule-budget-at-comparison-rules-baseline-paired-batches-4';

/** The run's schedule compressed to `pilotSteps`: the same shape (warm-up as the same share, the same
 * final rate) over the pilot's length. */
export function pilotSchedule(
  schedule: trainerV1.LrSchedule | undefined,
  runBudget: number,
  pilotSteps: number,
): trainerV1.LrSchedule {
  const s = schedule ?? trainerV1.LrSchedule.fromPartial({});
  return {
    ...s,
    warmupSteps: s.warmupSteps > 0 ? Math.max(1, Math.round((Number(s.warmupSteps) * pilotSteps) / runBudget)) : 0,
    horizonSteps: pilotSteps,
  };
}

export async function searchPlan(input: PlanSearchInput): Promise<{ plan: Plan; report: dp.PlanSearchReport }> {
  const { request, rules, text } = input;
  const template = searchTemplate(request);
  const settings = searchSettings(request.search);
  const runBudget = Number(template.budgetSteps);
  const longestPilot = Math.max(settings.fidelitySteps, Math.round(settings.maxPilotFraction * runBudget));
  const stepsPerFidelity = Math.max(1, Math.round(longestPilot / settings.fidelitySteps));
  const totalBudget = Math.max(1, Math.floor((settings.pilotFraction * runBudget) / stepsPerFidelity));
  const candidates = planCandidates(rules, input.blocks, {
    maxCandidates: settings.maxCandidates,
    batchSize: template.batchSize,
  });
  // Losses: the trainer's are nats; a language model's budget and report are bits per byte.
  const toReported = (nats: number) => (text ? nats / Math.LN2 : nats);
  const reference = request.reference!;
  const split = (ref: commonV1.DatasetRef, s: commonV1.DatasetSplit): commonV1.DatasetRef => ({ ...ref, split: s });
  const S = commonV1.DatasetSplit;
  const specOf = (plan: Plan, label: string): trainerV1.RunSpec => ({
    ...template,
    baseModel: request.model,
    dataset: split(request.dataset!, S.DATASET_SPLIT_TRAIN),
    // Held-out slices of both domains: what the pilots are scored on (the caller's test splits stay unseen).
    validationDataset: split(request.dataset!, S.DATASET_SPLIT_VALIDATION),
    referenceValidationDataset: split(reference, S.DATASET_SPLIT_VALIDATION),
    strategy: trainerV1.Strategy.STRATEGY_ADE,
    plan: input.toContract(plan),
    mixture: { replayDataset: split(reference, S.DATASET_SPLIT_TRAIN), replayFraction: plan.replayFraction },
    optimizer: {
      ...(template.optimizer ?? trainerV1.OptimizerConfig.fromPartial({})),
      learningRate: plan.learningRate,
    },
    schedule: pilotSchedule(template.schedule, runBudget, stepsPerFidelity * settings.fidelitySteps),
    evalIntervalSteps: stepsPerFidelity,
    labels: { ...template.labels, plan_search: label.slice(0, 256) },
  });
  const space = featureSpace(rules.decisions.length);
  const studySpec = hpo.StudySpec.fromPartial({
    name: `plan search: ${request.dataset!.uri} after ${reference.uri}`.slice(0, 256),
    // The budget is applied where the pilots are compared, not on the way there.
    objective: text ? 'new-domain validation loss (nats per byte)' : 'new-domain validation loss',
    direction: hpo.Direction.DIRECTION_MINIMIZE,
    optimizer: hpo.Optimizer.OPTIMIZER_FREEZE_THAW,
    searchSpace: {
      parameters: space.map((p) => ({
        name: p.name,
        domain:
          p.kind === 'float'
            ? { $case: 'floatRange' as const, value: { min: p.min, max: p.max, logScale: p.log } }
            : { $case: 'intRange' as const, value: { min: p.min, max: p.max, logScale: p.log } },
      })),
    },
    stepsPerFidelity,
    maxFidelity: settings.fidelitySteps,
    totalBudget,
    seed: request.seed,
    candidates: candidates.map((c, i) => ({
      // The rules' plan is the baseline: piloted to full length first, so the winner is compared with it there.
      baseline: i === 0,
      label: c.label,
      // Each feature within its parameter's domain (a learning rate outside [1e-6, 1] is clamped).
      configuration: space.map((p) => {
        const value = Math.min(p.max, Math.max(p.min, p.of(c.features)));
        return {
          name: p.name,
          value: p.kind === 'float' ? { $case: 'floatValue' as const, value } : { $case: 'intValue' as const, value },
        };
      }),
      runSpec: Buffer.from(trainerV1.RunSpec.encode(specOf(c.plan, c.label)).finish()),
    })),
  });

  const client = input.peers.client('hpo-surrogate', hpo.HpoSurrogateServiceClient);
  const requestId = `plan-search-${createHash('sha256')
    .update(PILOT_PROTOCOL)
    .update(dp.PlanAdaptationRequest.encode(request).finish())
    .digest('hex')
    .slice(0, 40)}`;
  let study: hpo.Study;
  try {
    study = (await call(client.createStudy.bind(client), { requestId, spec: studySpec })).study!;
    if (study.state === hpo.StudyState.STUDY_STATE_ACTIVE || study.state === hpo.StudyState.STUDY_STATE_RUNNING) {
      const stream = client.runStudy({ studyId: study.studyId, parallelism: 1 });
      const abort = () => stream.cancel();
      input.signal.addEventListener('abort', abort, { once: true });
      try {
        for await (const e of stream as AsyncIterable<hpo.RunStudyResponse>) {
          const ev = e.event;
          if (ev?.$case === 'progress')
            input.report({
              phase: 'pilots',
              done: ev.value.done,
              total: ev.value.total,
              fraction: 0.3 + 0.7 * (ev.value.total ? ev.value.done / ev.value.total : 0),
              message: `pilot fidelity steps ${ev.value.done} of ${ev.value.total} (${stepsPerFidelity} training steps each)`,
            });
          if (ev?.$case === 'study') study = ev.value;
        }
      } finally {
        input.signal.removeEventListener('abort', abort);
      }
    }
    study = (await call(client.getStudy.bind(client), { studyId: study.studyId })).study!;
  } catch (err) {
    throw fromPeerError(err, 'mode');
  }
  if (study.state !== hpo.StudyState.STUDY_STATE_COMPLETED)
    throw new FloeError(
      'failed_precondition',
      `mode: the plan search's study ${study.studyId} ended ${hpo.studyStateToJSON(study.state)}; its pilots' runs say why`,
    );

  // Each pilot's per-batch validation losses, for the paired test of a lead against the rules' plan.
  const batchLosses = new Map<string, Map<number, number[]>>();
  for (const trial of study.trials)
    if (trial.runId && trial.observations.length)
      batchLosses.set(
        trial.runId,
        await recordedBatchLosses(input.peers, trial.runId, trial.observations.at(-1)!.step),
      );
  const trials = candidates.map((_, i) => study.trials.find((t) => t.candidate === i));
  const curves: PilotPoint[][] = trials.map((trial) =>
    (trial?.observations ?? []).map((o) => {
      const newLoss = toReported(o.unconstrainedValue ?? o.value);
      const forgetting = toReported(o.referenceIncrease ?? 0);
      const batches = batchLosses.get(trial!.runId)?.get(Number(o.step));
      return {
        step: o.step,
        newLoss,
        forgetting,
        objective: pilotObjective(newLoss, forgetting, request.forgettingBudget),
        ...(batches?.length && { newBatchLosses: batches.map(toReported) }),
      };
    }),
  );
  const reported: dp.PlanCandidate[] = candidates.map((c, i) => {
    const trial = trials[i];
    return {
      label: c.label,
      plan: input.toContract(c.plan),
      trialId: trial?.trialId ?? '',
      runId: trial?.runId ?? '',
      curve: curves[i]!.map(({ step, newLoss, forgetting, objective }) => ({ step, newLoss, forgetting, objective })),
    };
  });
  const { winner, step, reason } = chooseWinner(
    reported.map((c, i) => ({ label: c.label, curve: curves[i]! })),
    request.forgettingBudget,
    text ? 'bits per byte' : 'loss',
  );
  const pilotSteps = study.trials.reduce((n, t) => n + Number(t.observations.at(-1)?.step ?? 0), 0);
  return {
    plan: candidates[winner]!.plan,
    report: {
      studyId: study.studyId,
      candidates: reported,
      winner,
      reason,
      pilotSteps,
      pilotFraction: pilotSteps / runBudget,
      forgettingBudget: request.forgettingBudget,
      comparedStep: step,
    },
  };
}

/** A run's per-batch validation losses by step, read from its recorded steps up to `lastStep`. */
async function recordedBatchLosses(peers: Peers, runId: string, lastStep: number): Promise<Map<number, number[]>> {
  const trainer = peers.client('trainer', trainerV1.TrainerServiceClient);
  const byStep = new Map<number, number[]>();
  const stream = trainer.watchRun({ runId, fromStep: 0 });
  try {
    for await (const e of stream as AsyncIterable<trainerV1.WatchRunResponse>) {
      if (e.event?.$case !== 'step') continue;
      const m = e.event.value;
      if (m.validationBatchLosses.length) byStep.set(Number(m.step), m.validationBatchLosses);
      if (m.step >= lastStep) break;
    }
  } catch (err) {
    throw fromPeerError(err, 'mode');
  } finally {
    stream.cancel();
  }
  return byStep;
}
