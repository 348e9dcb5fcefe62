// The rules a platform team would otherwise pick (Optuna, Katib, Ray Tune), written as freeze-thaw
// decision rules so that they run side by side with ifBO on the same trials: one fidelity step per
// decision. Promotions resume a paused trial (the trainer pauses exactly), so no rule pays twice for
// steps it already trained — more than Optuna, Ray Tune or keras-tuner give their own versions.
import {
  isThawable,
  randomNewCandidate as newRandom,
  type Decision,
  type DecisionContext,
  type FreezeThawOptimizer,
} from '../freeze-thaw.js';

const thaw = (trial: number): Decision => ({ kind: 'thaw', trial, acquisition: 0 });

/** Random search: every configuration trains to the full budget, one after another. */
export class RandomSearch implements FreezeThawOptimizer {
  readonly name = 'random';
  decide(ctx: DecisionContext): Decision {
    const last = ctx.trials.length - 1;
    const t = ctx.trials[last];
    if (t && isThawable(t, ctx.maxFidelity)) return thaw(last);
    return newRandom(ctx);
  }
}

/**
 * The rungs every bracket climbs: r_min·η^k below the maximum, then the maximum — counted up from the
 * smallest resource as ASHA, Optuna's pruners and Ray Tune do (50 steps, η = 3: 1, 3, 9, 27, 50). Hyperband's
 * paper counts down from the maximum (50·3^−k, rounded: 2, 6, 17, 50), which starts a third as many
 * configurations and never screens at one step.
 */
function rungLadder(maxFidelity: number, eta: number, minFidelity = 1): number[] {
  const out: number[] = [];
  for (let r = minFidelity; r < maxFidelity; r *= eta) out.push(r);
  out.push(maxFidelity);
  return out;
}

interface BracketState {
  s: number;
  rung: number;
  /** Trials in the current rung, and how many configurations the bracket still has to start. */
  members: number[];
  toStart: number;
}

/**
 * Successive halving with η = 3 from the smallest rung (Hyperband's most aggressive bracket), repeated:
 * n = η^s_max configurations at one step, the best 1/η of them continued to the next rung, …, one to the full
 * budget. Hyperband cycles through brackets s = s_max … 0 (bracket s climbs the ladder's last s + 1 rungs
 * with ⌈(s_max + 1)/(s + 1)·η^s⌉ configurations) instead of always using s_max.
 */
export class SuccessiveHalving implements FreezeThawOptimizer {
  readonly name: string;
  private bracket: BracketState | undefined;
  private bracketIndex = 0;

  constructor(
    private readonly hyperband = false,
    private readonly eta = 3,
  ) {
    this.name = hyperband ? 'hyperband' : 'successive_halving';
  }

  private sMax(maxFidelity: number): number {
    return rungLadder(maxFidelity, this.eta).length - 1;
  }

  /** Bracket s's rungs: the ladder's last s + 1. */
  private rungs(maxFidelity: number, s: number): number[] {
    const ladder = rungLadder(maxFidelity, this.eta);
    return ladder.slice(ladder.length - 1 - s);
  }

  private newBracket(maxFidelity: number): BracketState {
    const sMax = this.sMax(maxFidelity);
    const s = this.hyperband ? sMax - (this.bracketIndex % (sMax + 1)) : sMax;
    this.bracketIndex++;
    const n = Math.ceil(((sMax + 1) / (s + 1)) * Math.pow(this.eta, s));
    return { s, rung: 0, members: [], toStart: n };
  }

  decide(ctx: DecisionContext): Decision {
    for (let guard = 0; guard < 100; guard++) {
      this.bracket ??= this.newBracket(ctx.maxFidelity);
      const b = this.bracket;
      const target = this.rungs(ctx.maxFidelity, b.s)[b.rung]!;
      // Bring every member of the rung to the rung's resource, one step at a time.
      // A failed member stays where it stopped and ranks last.
      const behind = b.members.find(
        (i) => ctx.trials[i]!.values.length < target && isThawable(ctx.trials[i]!, ctx.maxFidelity),
      );
      if (behind !== undefined) return thaw(behind);
      if (b.toStart > 0) {
        b.toStart--;
        const d = newRandom(ctx);
        b.members.push(ctx.trials.length);
        return d;
      }
      if (b.members.some((i) => ctx.trials[i]!.pending)) {
        // Parallel callers: wait for pending members by starting nothing new in this bracket.
        return newRandom(ctx);
      }
      if (b.rung === b.s || b.members.length <= 1) {
        this.bracket = undefined;
        continue;
      }
      const keep = Math.max(1, Math.floor(b.members.length / this.eta));
      const value = (i: number) => ctx.trials[i]!.values[target - 1] ?? Infinity;
      b.members = [...b.members].sort((x, y) => value(x) - value(y)).slice(0, keep);
      b.rung++;
    }
    return newRandom(ctx);
  }

  saveState(): unknown {
    return { bracket: this.bracket ?? null, bracketIndex: this.bracketIndex };
  }

  loadState(state: unknown): void {
    const s = state as { bracket: BracketState | null; bracketIndex: number };
    this.bracket = s.bracket ?? undefined;
    this.bracketIndex = s.bracketIndex;
  }
}

/**
 * ASHA (Li et al. 2020): rungs at r₀·η^k; a trial that finished rung k and ranks in the top 1/η of
 * everything recorded at rung k is promoted (resumed) to rung k+1; when none can be promoted, a new
 * configuration starts at r₀. Derived from the trials alone (no state to save).
 */
export class Asha implements FreezeThawOptimizer {
  readonly name = 'asha';

  constructor(
    private readonly eta = 3,
    private readonly minFidelity = 1,
  ) {}

  decide(ctx: DecisionContext): Decision {
    const rs = rungLadder(ctx.maxFidelity, this.eta, this.minFidelity);
    // A trial between rungs (it was promoted) continues to its next rung first.
    for (let i = 0; i < ctx.trials.length; i++) {
      const t = ctx.trials[i]!;
      if (isThawable(t, ctx.maxFidelity) && !rs.includes(t.values.length)) return thaw(i);
    }
    for (let k = rs.length - 2; k >= 0; k--) {
      const r = rs[k]!;
      const reached = ctx.trials
        .map((t, i) => ({ i, v: t.values[r - 1], at: t.values.length }))
        .filter((x) => x.v !== undefined) as { i: number; v: number; at: number }[];
      reached.sort((a, b) => a.v - b.v);
      const top = reached.slice(0, Math.floor(reached.length / this.eta));
      const promotable = top.find((x) => x.at === r && isThawable(ctx.trials[x.i]!, ctx.maxFidelity));
      if (promotable) return thaw(promotable.i);
    }
    return newRandom(ctx);
  }
}

/**
 * Median stopping (Optuna's MedianPruner, Katib's medianstop): a trial trains step by step to the full
 * budget unless, after the warm-up steps and once enough trials exist, its best value so far is worse than
 * the median of the other trials' values at the same step; then a new configuration starts.
 */
export class MedianStopping implements FreezeThawOptimizer {
  readonly name = 'median_stopping';
  private readonly stopped = new Set<number>();

  constructor(
    private readonly startupTrials = 5,
    private readonly warmupSteps = 5,
  ) {}

  decide(ctx: DecisionContext): Decision {
    const last = ctx.trials.length - 1;
    const t = ctx.trials[last];
    if (t && isThawable(t, ctx.maxFidelity) && !this.stopped.has(last)) {
      const step = t.values.length;
      const others = ctx.trials.filter((o, i) => i !== last && o.values.length >= step).map((o) => o.values[step - 1]!);
      if (step >= this.warmupSteps && others.length >= this.startupTrials) {
        others.sort((a, b) => a - b);
        const median = others[Math.floor((others.length - 1) / 2)]!;
        if (Math.min(...t.values) > median) this.stopped.add(last);
        else return thaw(last);
      } else return thaw(last);
    }
    return newRandom(ctx);
  }

  saveState(): unknown {
    return [...this.stopped];
  }

  loadState(state: unknown): void {
    this.stopped.clear();
    for (const i of state as number[]) this.stopped.add(i);
  }
}
