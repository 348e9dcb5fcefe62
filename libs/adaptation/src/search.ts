// The candidates of a plan search (PlanAdaptation in SEARCH mode): the rules' plan and its variants along
// the axes the ablations measure — replay fraction, expansion sites, frozen blocks, learning rate — each
// described by numbers the freeze-thaw surrogate can compare. Pure and deterministic.
import type { Action, Decision, Plan } from './plan.js';
import type { BlockScore } from './scores.js';

/** Defaults of a plan search; a request can override each (zero means the default). */
export const SEARCH_DEFAULTS = {
  /** Pilot steps of all candidates together, as a fraction of the run's budget: one more run's worth. */
  pilotFraction: 1,
  /** The longest pilot as a fraction of the run's budget. */
  maxPilotFraction: 0.25,
  /** Candidates, the rules' plan included. */
  maxCandidates: 8,
  /** Thaws that bring a pilot to its full length. */
  fidelitySteps: 5,
  /** New-domain loss one unit of forgetting past the budget costs where the pilots are compared. */
  forgettingPenalty: 10,
  /**
   * Another plan replaces the rules' only when its pilot leads by more than this many paired standard
   * errors of the new-domain loss (over the fixed validation batches both pilots were scored on).
   */
  significance: 2,
  /**
   * Steps of each confirmation run, as a fraction of the run's budget: a pilot winner other than the rules'
   * plan is trained this long beside the rules' plan and replaces it only if it wins again (e-mails →
   * prose: a lead of 4 paired standard errors at pilot step 100 reversed over the 400-step run).
   */
  confirmFraction: 0.5,
} as const;

/**
 * What a search minimises at the compared step: new-domain loss plus the penalty for forgetting past the
 * budget (a budget of 0 means none). Only there: mid-pilot, at the schedule's peak rate, every plan
 * forgets far more than it ends with, and a penalty on those points steers the search away from plans
 * that end well within the budget.
 */
export function pilotObjective(newLoss: number, forgetting: number, budget: number): number {
  return budget > 0 ? newLoss + SEARCH_DEFAULTS.forgettingPenalty * Math.max(0, forgetting - budget) : newLoss;
}

/** The numbers that describe a candidate to the surrogate (its configuration). */
export interface PlanFeatures {
  replayFraction: number;
  learningRate: number;
  /** Expansion copies. */
  expansions: number;
  /** Blocks left as they are. */
  frozen: number;
}

/** The search space of those features, as the hpo-surrogate's parameters describe it; `of` reads a feature. */
export function featureSpace(blockCount: number) {
  return [
    {
      name: 'replay_fraction',
      kind: 'float',
      min: 0,
      max: 0.99,
      log: false,
      of: (f: PlanFeatures) => f.replayFraction,
    },
    { name: 'learning_rate', kind: 'float', min: 1e-6, max: 1, log: true, of: (f: PlanFeatures) => f.learningRate },
    {
      name: 'expansions',
      kind: 'int',
      min: 0,
      max: Math.max(1, blockCount * 4),
      log: false,
      of: (f: PlanFeatures) => f.expansions,
    },
    {
      name: 'frozen',
      kind: 'int',
      min: 0,
      max: Math.max(1, blockCount),
      log: false,
      of: (f: PlanFeatures) => f.frozen,
    },
  ] as const;
}

export interface PlanCandidate {
  /** What distinguishes it from the rules' plan ("rules" for that one). */
  label: string;
  plan: Plan;
  features: PlanFeatures;
}

export interface CandidateOptions {
  /** Candidates at most, the rules' plan first. */
  maxCandidates: number;
  /** Sequences per batch of the run: replay fractions are realised in whole sequences, so two fractions
   * that round alike are one candidate. */
  batchSize?: number;
}

const featuresOf = (p: Plan): PlanFeatures => ({
  replayFraction: p.replayFraction,
  learningRate: p.learningRate,
  expansions: p.expansions.reduce((n, e) => n + Math.max(1, e.copies), 0),
  frozen: p.freeze.length,
});

/** The variant's decisions: the rules' reason where the action is the same, the variant's where not. */
function decisionsFor(rules: Plan, label: string, action: (blockId: string) => Action): Decision[] {
  return rules.decisions.map((d) => {
    const a = action(d.blockId);
    return a === d.action
      ? d
      : { ...d, action: a, reason: `search variant "${label}": ${a} (the rules said ${d.action}: ${d.reason})` };
  });
}

/** A variant with the given blocks frozen, tuned and expanded; every other setting as `rules`. */
function structural(rules: Plan, label: string, freeze: Set<string>, expandAfter: string[]): Plan {
  const expand = new Set(expandAfter);
  const ids = rules.decisions.map((d) => d.blockId);
  const actionOf = (id: string): Action => (expand.has(id) ? 'expand' : freeze.has(id) ? 'freeze' : 'tune');
  return {
    ...rules,
    freeze: ids.filter((id) => freeze.has(id) && !expand.has(id)),
    // An expanded block's original trains unless frozen (as the rules do under a shift).
    tune: ids.filter((id) => !freeze.has(id)),
    expansions: expandAfter.map((afterBlockId) => ({ afterBlockId, copies: 1 })),
    decisions: decisionsFor(rules, label, actionOf),
  };
}

/**
 * The rules' plan first, then variants one factor at a time (more and less replay, no expansion or
 * fewer copies or one copy, the less-moved half frozen, half and double the learning rate), then one
 * combination; duplicates (as realised) dropped, at most `maxCandidates`.
 */
export function planCandidates(rules: Plan, blocks: BlockScore[], options: CandidateOptions): PlanCandidate[] {
  const realise = (f: number) =>
    options.batchSize ? Math.round(f * options.batchSize) / options.batchSize : Math.round(f * 1000) / 1000;
  const withReplay = (p: Plan, f: number): Plan => ({ ...p, replayFraction: Math.min(0.99, realise(f)) });
  const withLr = (p: Plan, lr: number): Plan => ({ ...p, learningRate: lr });
  const r = rules.replayFraction;
  const moreReplay = r > 0 ? r * 1.5 : 0.1;
  // Residual blocks by how much the new data moves them, most first (the earlier block wins ties).
  const ranked = blocks.filter((b) => b.residual).sort((a, b) => b.angularDistanceAll - a.angularDistanceAll);
  const frozenNow = new Set(rules.freeze);
  const sites = rules.expansions.map((e) => e.afterBlockId);
  const rankOf = (id: string) => ranked.findIndex((b) => b.blockId === id);
  const topSites = [...sites].sort((a, b) => rankOf(a) - rankOf(b)).slice(0, Math.ceil(sites.length / 2));
  const lessMoved = new Set(ranked.slice(Math.ceil(ranked.length / 2)).map((b) => b.blockId));

  // Every variant starts from the rules' plan as realised, so a structural variant differs in structure only.
  const base = withReplay(rules, r);
  const variants: [string, Plan][] = [['rules', base]];
  variants.push([`replay ${realise(moreReplay)}`, withReplay(base, moreReplay)]);
  if (r > 0) variants.push([`replay ${realise(r / 2)}`, withReplay(base, r / 2)]);
  if (sites.length) variants.push(['no expansion', structural(base, 'no expansion', frozenNow, [])]);
  if (sites.length > 1)
    variants.push([
      `copies after ${topSites.join(', ')} only`,
      structural(base, `copies after ${topSites.join(', ')} only`, frozenNow, topSites),
    ]);
  if (!sites.length && ranked.length)
    variants.push([
      `one copy after ${ranked[0]!.blockId}`,
      structural(base, `one copy after ${ranked[0]!.blockId}`, frozenNow, [ranked[0]!.blockId]),
    ]);
  if (lessMoved.size)
    variants.push([
      'the less-moved half frozen',
      structural(base, 'the less-moved half frozen', new Set([...frozenNow, ...lessMoved]), sites),
    ]);
  variants.push([`learning rate ${rules.learningRate / 2}`, withLr(base, rules.learningRate / 2)]);
  variants.push([`learning rate ${rules.learningRate * 2}`, withLr(base, rules.learningRate * 2)]);
  variants.push([
    `replay ${realise(moreReplay)}, learning rate ${rules.learningRate / 2}`,
    withLr(withReplay(base, moreReplay), rules.learningRate / 2),
  ]);

  const seen = new Set<string>();
  const out: PlanCandidate[] = [];
  for (const [label, plan] of variants) {
    const key = JSON.stringify([plan.freeze, plan.tune, plan.expansions, plan.replayFraction, plan.learningRate]);
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ label, plan, features: featuresOf(plan) });
    if (out.length >= Math.max(1, options.maxCandidates)) break;
  }
  return out;
}

/** One point of a pilot: new-domain loss, forgetting (the old-domain rise) and what the search minimises. */
export interface PilotPoint {
  step: number;
  newLoss: number;
  forgetting: number;
  objective: number;
  /** The new-domain loss of each fixed validation batch (newLoss is their mean), when the trainer reported them. */
  newBatchLosses?: number[];
}

/**
 * The paired standard error of a − b over batches both were scored on; undefined when they were not
 * scored on the same number (≥ 2) of batches.
 */
export function pairedStandardError(a: readonly number[] | undefined, b: readonly number[] | undefined) {
  if (!a || !b || a.length !== b.length || a.length < 2) return undefined;
  const d = a.map((x, i) => x - b[i]!);
  const mean = d.reduce((s, x) => s + x, 0) / d.length;
  const variance = d.reduce((s, x) => s + (x - mean) ** 2, 0) / (d.length - 1);
  return Math.sqrt(variance / d.length);
}

/**
 * The winner of a search: the candidates are compared at one step — the deepest that at least two of them
 * reached (the freeze-thaw rule trains further the ones it believes in), so every pilot compared has had
 * the same training — by the objective there (new-domain loss plus the penalty past the forgetting
 * budget). A candidate's best point is not used: forgetting grows with training, so early points flatter
 * every plan. Ties go to the earlier candidate (the rules' plan first). The rules' plan (the first
 * candidate) stands
 * - when every candidate compared is over the budget: a short pilot forgets more than the run it stands
 *   for ends with (the run's replay keeps repairing the old domain: 0.79 bits per byte at the end of the
 *   TypeScript → e-mails pilot against 0.42 after the 400-step run), so such pilots cannot show which plan
 *   ends within the budget, and the penalty would pick the one that merely fits the new data more slowly;
 * - when both are within the budget and the leader's new-domain lead is not larger than
 *   SEARCH_DEFAULTS.significance paired standard errors over the validation batches both were scored on:
 *   a lead inside the evaluation's noise does not carry to the full run (e-mails → prose: a pilot lead of
 *   0.0024 bits per byte became a 0.008 loss after the run).
 * Answers its index, the step, and a sentence saying why.
 */
export function chooseWinner(
  candidates: { label: string; curve: PilotPoint[] }[],
  forgettingBudget: number,
  unit: string,
): { winner: number; step: number; reason: string } {
  const depths = candidates.map((c) => c.curve.at(-1)?.step ?? 0).sort((a, b) => b - a);
  const step = depths.length > 1 && depths[1]! > 0 ? depths[1]! : depths[0]!;
  if (!step) return { winner: 0, step: 0, reason: 'no pilot recorded a point: the rules plan stands' };
  const at = (c: { curve: PilotPoint[] }) => c.curve.find((p) => p.step === step);
  const ranked = candidates
    .map((c, i) => ({ i, p: at(c) }))
    .filter((x): x is { i: number; p: PilotPoint } => x.p !== undefined)
    .sort((a, b) => a.p.objective - b.p.objective || a.i - b.i);
  const overBudget = (p: PilotPoint) => forgettingBudget > 0 && p.forgetting > forgettingBudget;
  const allOver = ranked.every((x) => overBudget(x.p));
  const rulesCompared = ranked.find((x) => x.i === 0);
  const leader = ranked[0]!;
  const fmt = (x: number) => x.toFixed(4);
  const budget = forgettingBudget > 0 ? ` (budget ${fmt(forgettingBudget)})` : '';
  const where = `at pilot step ${step}, which ${ranked.length} of ${candidates.length} candidates reached`;
  // The leader against the rules' plan when both are within the budget: is its lead beyond the noise?
  const contest =
    rulesCompared && leader.i !== 0 && !overBudget(rulesCompared.p) && !overBudget(leader.p)
      ? {
          lead: rulesCompared.p.newLoss - leader.p.newLoss,
          se: pairedStandardError(leader.p.newBatchLosses, rulesCompared.p.newBatchLosses),
        }
      : undefined;
  const withinNoise = contest?.se !== undefined && contest.lead <= SEARCH_DEFAULTS.significance * contest.se;
  let winner: number;
  let reason: string;
  if (allOver && rulesCompared) {
    winner = 0;
    reason =
      `${where}, every one forgot more than the budget${budget}: the pilots cannot show which plan ends ` +
      `within it, so the rules' plan stands (${fmt(rulesCompared.p.newLoss)} ${unit} on the new domain, forgetting ${fmt(rulesCompared.p.forgetting)})`;
  } else if (withinNoise) {
    winner = 0;
    reason =
      `${where}, "${candidates[leader.i]!.label}" led the rules' plan by ${fmt(contest!.lead)} ${unit} on the new ` +
      `domain (${fmt(leader.p.newLoss)} against ${fmt(rulesCompared!.p.newLoss)}${forgettingBudget > 0 ? `, both forgetting less than the budget ${fmt(forgettingBudget)}` : ''}), ` +
      `not more than ${SEARCH_DEFAULTS.significance} paired standard errors (${fmt(contest!.se!)} over ` +
      `${leader.p.newBatchLosses!.length} validation batches): the rules' plan stands`;
  } else {
    winner = leader.i;
    reason = `${where}, "${candidates[winner]!.label}" had the lowest objective: ${fmt(leader.p.newLoss)} ${unit} on the new domain, forgetting ${fmt(leader.p.forgetting)}${budget}`;
    if (contest)
      reason +=
        contest.se === undefined
          ? '; no per-batch losses to test its lead against the noise'
          : `; its lead over the rules' plan, ${fmt(contest.lead)}, is more than ${SEARCH_DEFAULTS.significance} paired standard errors (${fmt(contest.se)})`;
  }
  const best = ranked.find((x) => x.i === winner)!;
  const other = winner === 0 ? ranked.find((x) => x.i !== 0) : rulesCompared;
  if (other && !withinNoise)
    reason += `; ${other.i === 0 ? "the rules' plan" : `the runner-up "${candidates[other.i]!.label}"`} had ${fmt(other.p.newLoss)} with forgetting ${fmt(other.p.forgetting)} (objective ${fmt(other.p.objective)} against ${fmt(best.p.objective)})`;
  return { winner, step, reason };
}
