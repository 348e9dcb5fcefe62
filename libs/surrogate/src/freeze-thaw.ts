// The freeze-thaw decision problem every optimiser of floe answers (docs/ALGORITHMS.md §4): trials are
// partial learning curves; each decision either thaws one trial for ONE more fidelity step or starts a new
// configuration at its first step. Values are "lower is better" here (a service negates an objective it
// maximises); the surrogate's [0, 1] scale comes from `CurveScale`.
import type { Rng } from '@floe/random';

export interface TrialCurve {
  /** Configuration encoded in [0, 1]^d. */
  config: number[];
  /** Observed values at fidelity steps 1, 2, …, lower is better. */
  values: number[];
  /** Being trained elsewhere right now (parallel studies): not a candidate; fantasised where it matters. */
  pending?: boolean;
  /**
   * Its run failed at the step after its last value (diverged to a non-finite loss, or crashed): the trial is
   * over and never thawed; what it observed before stays evidence.
   */
  failed?: boolean;
}

export interface DecisionContext {
  trials: TrialCurve[];
  /** Fidelity steps of a complete curve (b_max). */
  maxFidelity: number;
  /** Fidelity steps the study may still spend (≥ 1). */
  budgetLeft: number;
  /** Configurations that could start now (encoded); a decision to start one names its index. */
  newCandidates: number[][];
  /**
   * How many of `newCandidates`, from the first, are a uniform sample of what could start (the rest are
   * local ones around the incumbent, for the models to score). Rules without a model draw from these only, so
   * that their "random" configuration is random. All of them when absent.
   */
  randomCandidates?: number;
  /** Seeded per decision, so a decision is reproducible. */
  rng: Rng;
}

/** A model's prediction of the chosen candidate's value at its next target (lower is better scale). */
export interface PredictedValue {
  mean: number;
  q05: number;
  q95: number;
  /** P(better than the threshold the decision asked for), under the model's own distribution. */
  probabilityOfImprovement?: number;
}

export type Decision =
  | { kind: 'thaw'; trial: number; acquisition: number; predicted?: PredictedValue }
  | { kind: 'new'; candidate: number; acquisition: number; predicted?: PredictedValue };

/** One decision rule. Stateful rules (brackets) keep their bookkeeping and can be serialised. */
export interface FreezeThawOptimizer {
  readonly name: string;
  decide(ctx: DecisionContext): Decision;
  /** The bookkeeping a restarted study needs (JSON); undefined for rules that derive everything from trials. */
  saveState?(): unknown;
  loadState?(state: unknown): void;
}

/** A new configuration drawn uniformly: what the rules without a model start, and every rule's first. */
export function randomNewCandidate(ctx: DecisionContext): Decision {
  const uniform = Math.min(ctx.randomCandidates ?? ctx.newCandidates.length, ctx.newCandidates.length);
  return { kind: 'new', candidate: ctx.rng.int(uniform), acquisition: 0 };
}

/** Trials that can be thawed: not pending and below the maximum fidelity. */
export function thawable(ctx: Pick<DecisionContext, 'trials' | 'maxFidelity'>): number[] {
  const out: number[] = [];
  ctx.trials.forEach((t, i) => {
    if (isThawable(t, ctx.maxFidelity)) out.push(i);
  });
  return out;
}

/** Whether one more step of `t` may be decided: observed, short of its full curve, not pending, not failed. */
export const isThawable = (t: TrialCurve, maxFidelity: number) =>
  !t.pending && !t.failed && t.values.length > 0 && t.values.length < maxFidelity;

/** The best (lowest) value observed in any trial, or +∞. */
export function bestObserved(trials: readonly TrialCurve[]): number {
  let best = Infinity;
  for (const t of trials) for (const v of t.values) if (v < best) best = v;
  return best;
}

/**
 * Where a typical untrained value sits on the surrogate's scale: the FT-PFN prior starts each curve at
 * y0 = min(u1, u2), whose mean is 1/3. Mapping a typical start there keeps curves that stall at it (a
 * classifier at chance, the common fate of a bad configuration) inside the range the PFN was trained on,
 * instead of on the clipped floor where they looked like diverged runs that might still recover.
 */
export const TYPICAL_START_Y = 1 / 3;

/**
 * Maps "lower is better" values to the surrogate's y ∈ [0, 1], higher is better:
 * y = 1 − (v − lo)/(hi − lo), clipped. `start` is a typical untrained value — given, or the median of the
 * trials' first observations — and maps to TYPICAL_START_Y; lo is given, or 0 for non-negative values
 * (losses), or below the lowest value seen. Values worse than a typical start by half its distance to lo
 * clip to 0 (diverging runs do not stretch the scale).
 */
export class CurveScale {
  readonly hi: number;

  /** The scale on which `start`, a typical untrained value, maps to TYPICAL_START_Y. */
  constructor(
    readonly lo: number,
    readonly start: number,
  ) {
    this.hi = lo + (start - lo) / (1 - TYPICAL_START_Y);
  }

  static fit(trials: readonly TrialCurve[], anchors?: { lo?: number; start?: number }): CurveScale {
    const firsts = trials
      .filter((t) => t.values.length > 0)
      .map((t) => t.values[0]!)
      .filter(Number.isFinite);
    firsts.sort((a, b) => a - b);
    let min = Infinity;
    for (const t of trials) for (const v of t.values) if (Number.isFinite(v) && v < min) min = v;
    let start = anchors?.start ?? (firsts.length ? firsts[Math.floor((firsts.length - 1) / 2)]! : 1);
    let lo = anchors?.lo ?? (min >= 0 ? 0 : min - 0.1 * Math.max(1e-9, start - min));
    if (!Number.isFinite(min)) lo = anchors?.lo ?? 0;
    if (!(start > lo))
      start = lo + Math.max(1e-9, Math.abs(lo) * 1e-3, Number.isFinite(min) ? Math.abs(min - lo) * 2 : 1);
    return new CurveScale(lo, start);
  }

  toY(v: number): number {
    if (!Number.isFinite(v)) return 0;
    return Math.min(1, Math.max(0, 1 - (v - this.lo) / (this.hi - this.lo)));
  }

  fromY(y: number): number {
    return this.lo + (1 - y) * (this.hi - this.lo);
  }
}
