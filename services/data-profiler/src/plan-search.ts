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
// A pilot winner other than the rules' plan must win again on longer runs (confirmFraction of the run,
// the schedule compressed to it) before it replaces the rules' plan: a short pilot's lead can reverse.
// Each study's request id derives from the request and its protocol, so asking again resumes the same
// search instead of starting over.
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
  type PlanFeatures,
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
    confirmFraction: options?.confirmFraction || SEARCH_DEFAULTS.confirmFraction,
    skipConfirmation: options?.skipConfirmation ?? false,
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
/** The same for the confirmation runs (their study's request id also names the challenger). */
const CONFIRM_PROTOCOL = 'confirmation-compressed-schedule-paired-batches-4';

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

/** A plan trained in a search: the rules' plan or a variant, with what the surrogate sees of it. */
interface SearchCandidate {
  label: string;
  plan: Plan;
  features: PlanFeatures;
}

/** How a study of the search trains its candidates. */
interface StudyShape {
  /** Steps of a full-length candidate: the run's schedule is compressed to them. */
  length: number;
  stepsPerFidelity: number;
  fidelitySteps: number;
  /** Fidelity steps of all candidates together. */
  totalBudget: number;
}

export async function searchPlan(input: PlanSearchInput): Promise<{ plan: Plan; report: dp.PlanSearchReport }> {
  const { request, rules, text } = input;
  const template = searchTemplate(request);
  const settings = searchSettings(request.search);
  const runBudget = Number(template.budgetSteps);
  const longestPilot = Math.max(settings.fidelitySteps, Math.round(settings.maxPilotFraction * runBudget));
  const stepsPerFidelity = Math.max(1, Math.round(longestPilot / settings.fidelitySteps));
  const candidates = planCandidates(rules, input.blocks, {
    maxCandidates: settings.maxCandidates,
    batchSize: template.batchSize,
  });
  const unit = text ? 'bits per byte' : 'loss';
  const confirming = !settings.skipConfirmation && candidates.length > 1;
  // Progress: the pilots, then (when a variant wins them) the confirmation runs.
  const pilotShare = confirming ? 0.75 : 1;

  const pilots = await runSearchStudy(input, template, {
    protocol: PILOT_PROTOCOL,
    name: `plan search: ${request.dataset!.uri} after ${reference(request).uri}`,
    candidates,
    shape: {
      length: stepsPerFidelity * settings.fidelitySteps,
      stepsPerFidelity,
      fidelitySteps: settings.fidelitySteps,
      totalBudget: Math.max(1, Math.floor((settings.pilotFraction * runBudget) / stepsPerFidelity)),
    },
    progress: (done, total) => ({
      phase: 'pilots',
      done,
      total,
      fraction: 0.3 + 0.7 * pilotShare * (total ? done / total : 0),
      message: `pilot fidelity steps ${done} of ${total} (${stepsPerFidelity} training steps each)`,
    }),
  });
  const pilotWinner = chooseWinner(
    pilots.reported.map((c, i) => ({ label: c.label, curve: pilots.curves[i]! })),
    request.forgettingBudget,
    unit,
  );
  let { winner, reason } = pilotWinner;
  let confirmation: dp.PlanConfirmation | undefined;
  let confirmationSteps = 0;
  if (confirming && winner !== 0) {
    // The pilots' winner and the rules' plan, each trained longer on the run's schedule compressed to that
    // length, compared by the same rule: the winner replaces the rules' plan only if it wins again.
    const steps = Math.max(1, Math.round(settings.confirmFraction * runBudget));
    const pair = [candidates[0]!, candidates[winner]!];
    const runs = await runSearchStudy(input, template, {
      protocol: `${CONFIRM_PROTOCOL}:${steps}:${pair[1]!.label}`,
      name: `plan confirmation: ${pair[1]!.label} against the rules on ${request.dataset!.uri}`,
      candidates: pair,
      shape: { length: steps, stepsPerFidelity: steps, fidelitySteps: 1, totalBudget: 2 },
      progress: (done, total) => ({
        phase: 'confirmation',
        done,
        total,
        fraction: 0.3 + 0.7 * (pilotShare + (1 - pilotShare) * (total ? done / total : 0)),
        message: `confirmation runs ${done} of ${total} (${steps} training steps each)`,
      }),
    });
    const verdict = chooseWinner(
      runs.reported.map((c, i) => ({ label: c.label, curve: runs.curves[i]! })),
      request.forgettingBudget,
      unit,
    );
    const confirmed = verdict.winner === 1;
    const challenger = pair[1]!.label;
    const why = confirmed
      ? `confirmed over ${steps} steps: ${verdict.reason}`
      : `not confirmed over ${steps} steps, so the rules' plan stands: ${verdict.reason}`;
    confirmation = { studyId: runs.studyId, steps, candidates: runs.reported, confirmed, reason: why };
    confirmationSteps = runs.trainedSteps;
    reason = `the pilots: ${reason}. The confirmation of "${challenger}": ${why}`;
    if (!confirmed) winner = 0;
  }
  const pilotSteps = pilots.trainedSteps + confirmationSteps;
  return {
    plan: candidates[winner]!.plan,
    report: {
      studyId: pilots.studyId,
      candidates: pilots.reported,
      winner,
      reason,
      pilotSteps,
      pilotFraction: pilotSteps / runBudget,
      forgettingBudget: request.forgettingBudget,
      comparedStep: pilotWinner.step,
      confirmation,
    },
  };
}

const reference = (request: dp.PlanAdaptationRequest) => request.reference!;

/**
 * Trains `candidates` as one finite study of the hpo-surrogate (the first is the baseline, trained to full
 * length first) and answers their curves as the search compares them. The study's request id derives from
 * the request, `protocol` and the candidates, so asking again resumes the same study instead of starting
 * over.
 */
async function runSearchStudy(
  input: PlanSearchInput,
  template: trainerV1.RunSpec,
  study: {
    protocol: string;
    name: string;
    candidates: SearchCandidate[];
    shape: StudyShape;
    progress: (done: number, total: number) => ProgressReport;
  },
): Promise<{ studyId: string; reported: dp.PlanCandidate[]; curves: PilotPoint[][]; trainedSteps: number }> {
  const { request, rules, text } = input;
  const { shape, candidates } = study;
  const runBudget = Number(template.budgetSteps);
  // Losses: the trainer's are nats; a language model's budget and report are bits per byte.
  const toReported = (nats: number) => (text ? nats / Math.LN2 : nats);
  const ref = reference(request);
  const split = (r: commonV1.DatasetRef, s: commonV1.DatasetSplit): commonV1.DatasetRef => ({ ...r, split: s });
  const S = commonV1.DatasetSplit;
  const specOf = (plan: Plan, label: string): trainerV1.RunSpec => ({
    ...template,
    baseModel: request.model,
    dataset: split(request.dataset!, S.DATASET_SPLIT_TRAIN),
    // Held-out slices of both domains: what the pilots are scored on (the caller's test splits stay unseen).
    validationDataset: split(request.dataset!, S.DATASET_SPLIT_VALIDATION),
    referenceValidationDataset: split(ref, S.DATASET_SPLIT_VALIDATION),
    strategy: trainerV1.Strategy.STRATEGY_ADE,
    plan: input.toContract(plan),
    mixture: { replayDataset: split(ref, S.DATASET_SPLIT_TRAIN), replayFraction: plan.replayFraction },
    optimizer: {
      ...(template.optimizer ?? trainerV1.OptimizerConfig.fromPartial({})),
      learningRate: plan.learningRate,
    },
    schedule: pilotSchedule(template.schedule, runBudget, shape.length),
    evalIntervalSteps: shape.stepsPerFidelity,
    labels: { ...template.labels, plan_search: label.slice(0, 256) },
  });
  const space = featureSpace(rules.decisions.length);
  const studySpec = hpo.StudySpec.fromPartial({
    name: study.name.slice(0, 256),
    // The budget is applied where the candidates are compared, not on the way there.
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
    stepsPerFidelity: shape.stepsPerFidelity,
    maxFidelity: shape.fidelitySteps,
    totalBudget: shape.totalBudget,
    seed: request.seed,
    candidates: candidates.map((c, i) => ({
      // The rules' plan is the baseline: trained to full length first, so the others are compared with it there.
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
  // The confirmation's settings do not change what the pilots train: asking with other ones reuses them.
  const trained = {
    ...request,
    search: request.search && { ...request.search, confirmFraction: 0, skipConfirmation: false },
  };
  const requestId = `plan-search-${createHash('sha256')
    .update(study.protocol)
    .update(dp.PlanAdaptationRequest.encode(trained).finish())
    .digest('hex')
    .slice(0, 40)}`;
  let result: hpo.Study;
  try {
    result = (await call(client.createStudy.bind(client), { requestId, spec: studySpec })).study!;
    if (result.state === hpo.StudyState.STUDY_STATE_ACTIVE || result.state === hpo.StudyState.STUDY_STATE_RUNNING) {
      const stream = client.runStudy({ studyId: result.studyId, parallelism: 1 });
      const abort = () => stream.cancel();
      input.signal.addEventListener('abort', abort, { once: true });
      try {
        for await (const e of stream as AsyncIterable<hpo.RunStudyResponse>) {
          const ev = e.event;
          if (ev?.$case === 'progress') input.report(study.progress(ev.value.done, ev.value.total));
          if (ev?.$case === 'study') result = ev.value;
        }
      } finally {
        input.signal.removeEventListener('abort', abort);
      }
    }
    result = (await call(client.getStudy.bind(client), { studyId: result.studyId })).study!;
  } catch (err) {
    throw fromPeerError(err, 'mode');
  }
  if (result.state !== hpo.StudyState.STUDY_STATE_COMPLETED)
    throw new FloeError(
      'failed_precondition',
      `mode: the plan search's study ${result.studyId} ended ${hpo.studyStateToJSON(result.state)}; its runs say why`,
    );

  // Each run's per-batch validation losses, for the paired test of a lead against the rules' plan.
  const batchLosses = new Map<string, Map<number, number[]>>();
  for (const trial of result.trials)
    if (trial.runId && trial.observations.length)
      batchLosses.set(
        trial.runId,
        await recordedBatchLosses(input.peers, trial.runId, trial.observations.at(-1)!.step),
      );
  const trials = candidates.map((_, i) => result.trials.find((t) => t.candidate === i));
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
  const trainedSteps = result.trials.reduce((n, t) => n + Number(t.observations.at(-1)?.step ?? 0), 0);
  return { studyId: result.studyId, reported, curves, trainedSteps };
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
