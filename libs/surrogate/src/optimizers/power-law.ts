// A parametric freeze-thaw baseline, after DPL (Kadra et al. 2023, "Scaling Laws for Hyperparameter
// Optimization"): an ensemble of power laws v(t) = a + b·t^(−c) per curve, with expected improvement at
// the full budget. DPL trains neural networks that output the power law's parameters from the
// configuration; ours fits each observed curve by least squares on a grid of exponents (the ensemble) and
// carries the fitted finals to new configurations by a kernel-weighted average of the nearest trials.
import { normalCdf } from '../distributions.js';
import {
  CurveScale,
  bestObserved,
  randomNewCandidate,
  thawable,
  type Decision,
  type DecisionContext,
  type FreezeThawOptimizer,
} from '../freeze-thaw.js';

const EXPONENTS = [0.1, 0.25, 0.5, 1, 2];

export interface Gaussian {
  mean: number;
  std: number;
}

/** Least squares of v ≈ a + b·t^(−c) for fixed c; returns [a, b, residual mean square]. */
function fitFixedExponent(values: readonly number[], c: number): [number, number, number] {
  const n = values.length;
  let sx = 0;
  let sy = 0;
  let sxx = 0;
  let sxy = 0;
  for (let i = 0; i < n; i++) {
    const x = Math.pow(i + 1, -c);
    sx += x;
    sy += values[i]!;
    sxx += x * x;
    sxy += x * values[i]!;
  }
  const det = n * sxx - sx * sx;
  const b = det > 1e-12 ? (n * sxy - sx * sy) / det : 0;
  const a = (sy - b * sx) / n;
  let rss = 0;
  for (let i = 0; i < n; i++) rss += (values[i]! - a - b * Math.pow(i + 1, -c)) ** 2;
  return [a, b, rss / Math.max(1, n - 2)];
}

/**
 * The ensemble's prediction of a curve's value at `step` from its first values: one member per exponent,
 * weighted by its fit; the spread of the members plus the residual noise as the standard deviation.
 */
export function powerLawPredict(values: readonly number[], step: number): Gaussian {
  const finite = values.filter(Number.isFinite);
  const g = ensemble(finite, step);
  // Calibration by back-testing: predict the last third of the prefix from the rest; the extrapolation
  // error there, grown in proportion to the horizon, joins the ensemble's spread.
  const n = finite.length;
  const held = Math.floor(n / 3);
  if (held >= 1 && n - held >= 3 && step > n) {
    let se = 0;
    for (let i = n - held; i < n; i++) se += (ensemble(finite.slice(0, n - held), i + 1).mean - finite[i]!) ** 2;
    const rms = Math.sqrt(se / held);
    const grow = (step - n) / held;
    return { mean: g.mean, std: Math.sqrt(g.std ** 2 + (rms * grow) ** 2) };
  }
  return g;
}

/** The ensemble alone: its weighted mean and its members' spread plus their residual noise. */
function ensemble(finite: readonly number[], step: number): Gaussian {
  if (finite.length === 0) return { mean: 0, std: 1 };
  const last = finite[finite.length - 1]!;
  if (finite.length < 3) {
    const spread = finite.length === 2 ? Math.abs(finite[1]! - finite[0]!) : Math.abs(last) * 0.1 + 1e-3;
    return { mean: last, std: spread + 1e-6 };
  }
  // Members: every exponent, fitted on the whole prefix and on its later half (extrapolation from
  // different windows disagrees where the curve's shape is uncertain; that disagreement is the spread).
  const half = finite.slice(Math.floor(finite.length / 2));
  const offset = finite.length - half.length;
  const members: { value: number; mse: number }[] = [];
  for (const c of EXPONENTS) {
    const [a, b, mse] = fitFixedExponent(finite, c);
    members.push({ value: a + b * Math.pow(step, -c), mse });
    if (half.length >= 3) {
      const [ah, bh, mseh] = fitFixedExponent(half, c);
      members.push({ value: ah + bh * Math.pow(step - offset, -c), mse: mseh });
    }
  }
  const weights = members.map((m) => 1 / (m.mse + 1e-12));
  const wSum = weights.reduce((x, y) => x + y, 0);
  const mean = members.reduce((s, m, i) => s + (weights[i]! * m.value) / wSum, 0);
  // Unweighted spread: a member that fits its window best is not thereby the better extrapolation.
  const spread = members.reduce((s, m) => s + (m.value - mean) ** 2, 0) / members.length;
  const noise = members.reduce((s, m, i) => s + (weights[i]! * m.mse) / wSum, 0);
  return { mean, std: Math.sqrt(spread + noise) + 1e-9 };
}

const gaussianPrediction = (g: Gaussian) => ({
  mean: g.mean,
  q05: g.mean - 1.6449 * g.std,
  q95: g.mean + 1.6449 * g.std,
});

/** E[max(best − V, 0)] for V ~ N(mean, std²) (lower is better). */
export function expectedImprovement(best: number, g: Gaussian): number {
  const z = (best - g.mean) / g.std;
  const pdf = Math.exp(-0.5 * z * z) / Math.sqrt(2 * Math.PI);
  return (best - g.mean) * normalCdf(z) + g.std * pdf;
}

export class PowerLawEnsemble implements FreezeThawOptimizer {
  readonly name = 'power_law';

  decide(ctx: DecisionContext): Decision {
    const observed = ctx.trials.filter((t) => t.values.length > 0);
    if (observed.length < 2) {
      const open = thawable(ctx);
      if (observed.length === 1 && open.length === 1 && ctx.trials[open[0]!]!.values.length < 3)
        return { kind: 'thaw', trial: open[0]!, acquisition: 0 };
      return randomNewCandidate(ctx);
    }
    const best = bestObserved(ctx.trials);
    // Values worse than a typical start (diverged runs, 1e30 losses) say nothing about how good a
    // configuration can get and would blow up the fits' spread: clip them there.
    const ceiling = CurveScale.fit(ctx.trials).start;
    // A failed run's configuration counts as one that ends at the ceiling.
    const finals = ctx.trials.map((t) =>
      t.values.length || t.failed
        ? powerLawPredict(
            [...t.values, ...(t.failed ? [ceiling] : [])].map((v) =>
              Number.isFinite(v) ? Math.min(v, ceiling) : ceiling,
            ),
            ctx.maxFidelity,
          )
        : undefined,
    );
    let choice: Decision | undefined;
    for (const i of thawable(ctx)) {
      const ei = expectedImprovement(best, finals[i]!);
      if (!choice || ei > choice.acquisition)
        choice = { kind: 'thaw', trial: i, acquisition: ei, predicted: gaussianPrediction(finals[i]!) };
    }
    const d = ctx.newCandidates[0]?.length ?? 1;
    const length2 = 0.04 * d;
    const known = ctx.trials.map((t, i) => ({ t, g: finals[i] })).filter((x) => x.g !== undefined) as {
      t: { config: number[] };
      g: Gaussian;
    }[];
    const priorMean = known.reduce((s, k) => s + k.g.mean, 0) / known.length;
    const priorVar = known.reduce((s, k) => s + (k.g.mean - priorMean) ** 2, 0) / known.length + 1e-12;
    ctx.newCandidates.forEach((x, ci) => {
      let w = 0;
      let m = 0;
      let v = 0;
      for (const k of known) {
        let dist = 0;
        for (let j = 0; j < x.length; j++) dist += (x[j]! - (k.t.config[j] ?? 0)) ** 2;
        const kw = Math.exp(-dist / (2 * length2));
        w += kw;
        m += kw * k.g.mean;
        v += kw * (k.g.std ** 2 + k.g.mean ** 2);
      }
      // Shrink to the prior where no trial is near (w small).
      const mean = (m + priorMean) / (w + 1);
      const second = (v + priorVar + priorMean ** 2) / (w + 1);
      const g = { mean, std: Math.sqrt(Math.max(1e-12, second - mean * mean)) };
      const ei = expectedImprovement(best, g);
      if (!choice || ei > choice.acquisition)
        choice = { kind: 'new', candidate: ci, acquisition: ei, predicted: gaussianPrediction(g) };
    });
    return choice ?? randomNewCandidate(ctx);
  }
}
