// In-context freeze-thaw BO (ifBO; docs/ALGORITHMS.md §4): the PFN reads every observed point of every
// trial in its context and predicts, in one forward pass, the value each candidate would reach after a
// random horizon; MFPI-random picks the candidate most likely to beat the incumbent by a random margin,
// and that candidate trains ONE more fidelity step.
import { Rng } from '@floe/random';
import { bucketExceedance, bucketMean, bucketQuantile, bucketSharpen } from '../buckets.js';
import {
  CurveScale,
  randomNewCandidate,
  thawable,
  type Decision,
  type DecisionContext,
  type FreezeThawOptimizer,
  type PredictedValue,
  type TrialCurve,
} from '../freeze-thaw.js';
import { MAX_CURVE_ID, MAX_DIMS, encodeForPfn } from '../ftpfn-prior.js';
import {
  MIN_RANKED_OBSERVATIONS,
  dimensionMask,
  rankCandidates,
  relevantDimensionOrder,
  configObservations,
  type ConfigObservation,
} from '../config-ranking.js';
import type { CurvePfn, PfnInput } from '../pfn.js';

/**
 * Context points the PFN reads at most (it was trained on sequences of up to 512 tokens). 384, not 512: the
 * smallest size whose regret on the development tasks matched 512's (256 lost at 1,000 steps), then checked on
 * held-out tasks; a decision at 1,000 observed points costs ~25 % less (docs/ALGORITHMS.md §4).
 */
export const DEFAULT_CONTEXT_MAX = 384;

/**
 * The smallest improvement MFPI-random asks for, in buckets of the PFN's output (y on [0, 1]). The reference
 * draws τ down to 10^−4, a fraction of one bucket above the incumbent, finer than the PFN resolves; there a
 * paused trial sitting flat at the incumbent's level scored P ≈ 0.5 and won over new configurations
 * (0.18–0.23): on TaskSet, runs stuck at chance level were thawed for 20–50 steps. Three buckets: chosen on
 * the development tasks, checked on other seeds and on held-out tasks (docs/ALGORITHMS.md §4).
 */
export const MIN_IMPROVEMENT_BUCKETS = 3;

/**
 * New configurations the PFN scores per decision: the ones a nearest-neighbour model on the hyperparameters
 * that matter ranks best among the candidates (config-ranking.ts; docs/ALGORITHMS.md §4). 0: all candidates.
 */
export const DEFAULT_RANKED_NEW_CANDIDATES = 32;

/**
 * The temperature MFPI-random scores the PFN's predictions at: each bucket distribution raised to 1/T and
 * renormalised before P(y > threshold). Our PFN (small, trained on this CPU) is far less sure than real curves
 * warrant — on TaskSet replays its 50 % intervals hold 95–99 % of the values a curve with 4 or more points
 * reaches next — and its wide tails let a run stuck on a plateau just above the incumbent score P ≈ 0.3 for
 * tens of steps. Temperatures fitted per curve length by log-likelihood (0.25–1) did not change regret; a
 * sharper one for every candidate did: 0.1, chosen on the development tasks, checked on other seeds and on
 * held-out tasks (docs/ALGORITHMS.md §4). PredictCurves reports the PFN's own distribution.
 */
export const ACQUISITION_TEMPERATURE = 0.1;

/** MFPI-random's threshold on y: f_best + τ·(1 − f_best), and at least `minImprovement` above f_best. */
export const mfpiThreshold = (fBest: number, tau: number, minImprovement: number) =>
  fBest + Math.max(tau * (1 - fBest), minImprovement);

/** A point to predict: a trial (by index, or none for a new configuration) at a fidelity step. */
export interface CurveQueryPoint {
  trial?: number;
  config: number[];
  step: number;
}

export interface PointPrediction {
  /** On the objective's scale (lower is better here). */
  mean: number;
  q05: number;
  q95: number;
  /** P(value better than `threshold`) when a threshold was given. */
  probabilityOfImprovement: number;
}

export interface IfboOptions {
  contextMax?: number;
  /** MFPI-random's smallest improvement in buckets of the PFN's output (default MIN_IMPROVEMENT_BUCKETS). */
  minImprovementBuckets?: number;
  /**
   * What is known of the objective ("lower is better" scale): its lower bound and a typical untrained value
   * (a binary classifier's chance-level loss, ln 2); else fitted from the trials (CurveScale.fit).
   */
  anchors?: { lo?: number; start?: number };
  /** New candidates kept by the configuration ranking (default DEFAULT_RANKED_NEW_CANDIDATES; 0: all). */
  rankedNewCandidates?: number;
  /** MFPI-random's temperature on the PFN's predictions (default ACQUISITION_TEMPERATURE; 1: as predicted). */
  acquisitionTemperature?: number;
}

/**
 * Which dimensions of a configuration the PFN reads, in order, when there are more than it takes (MAX_DIMS,
 * its prior's largest): those the configuration ranking selects, in the order it adds them, then the rest in
 * order — not simply the first MAX_DIMS. `order`: the selection, when the caller has it. Undefined: all.
 */
export function pfnInputDimensions(
  observations: readonly ConfigObservation[],
  dims: number,
  order?: readonly number[],
): number[] | undefined {
  if (dims <= MAX_DIMS) return undefined;
  const first = order ?? (observations.length >= MIN_RANKED_OBSERVATIONS ? relevantDimensionOrder(observations) : []);
  const rest = Array.from({ length: dims }, (_, j) => j).filter((j) => !first.includes(j));
  return [...first, ...rest].slice(0, MAX_DIMS);
}

/** Query k's predicted mean and 5 / 95 % quantiles on the objective's scale (lower is better). */
function onValueScale(probs: Float32Array, buckets: number, k: number, scale: CurveScale): PredictedValue {
  return {
    mean: scale.fromY(bucketMean(probs, buckets, k)),
    // Higher y is lower value: the 5 % quantile of the value is the 95 % quantile of y.
    q05: scale.fromY(bucketQuantile(probs, buckets, 0.95, k)),
    q95: scale.fromY(bucketQuantile(probs, buckets, 0.05, k)),
  };
}

export class Ifbo implements FreezeThawOptimizer {
  readonly name = 'ifbo';
  /** Context points used by the last forward pass (after thinning), for callers that report it. */
  lastContextSize = 0;

  constructor(
    private readonly pfn: CurvePfn,
    private readonly options: IfboOptions = {},
  ) {}

  /** The PFN input for `trials` and `queries`; ids are shuffled per call, pending trials excluded. */
  private buildInput(
    trials: readonly TrialCurve[],
    maxFidelity: number,
    scale: CurveScale,
    queries: CurveQueryPoint[],
    rng: Rng,
    dims?: readonly number[],
  ): PfnInput {
    const encode = (config: readonly number[], out: Float32Array, offset: number) =>
      encodeForPfn(dims ? dims.map((j) => config[j]!) : config, out, offset);
    const contextMax = this.options.contextMax ?? DEFAULT_CONTEXT_MAX;
    const ids = rng.shuffle(Array.from({ length: MAX_CURVE_ID }, (_, i) => i + 1));
    const idOf = (trial: number) => ids[trial % MAX_CURVE_ID]!;
    // Every observed point, and a failed run's failing step as the worst value (y = 0): where runs diverge
    // is evidence about the configurations around them. If too many, each curve keeps its last point and the
    // rest are sampled.
    const seen = trials.map((t) => (t.failed && t.values.length < maxFidelity ? [...t.values, Infinity] : t.values));
    let points: { trial: number; step: number }[] = [];
    seen.forEach((values, i) => values.forEach((_, j) => points.push({ trial: i, step: j + 1 })));
    if (points.length > contextMax) {
      const lasts = points.filter((p) => p.step === seen[p.trial]!.length);
      const rest = rng.shuffle(points.filter((p) => p.step !== seen[p.trial]!.length));
      points = lasts.slice(0, contextMax).concat(rest.slice(0, Math.max(0, contextMax - lasts.length)));
    }
    const C = points.length;
    const Q = queries.length;
    const input: PfnInput = {
      batch: 1,
      nContext: C,
      nQuery: Q,
      contextId: new Int32Array(C),
      contextT: new Float32Array(C),
      contextConfig: new Float32Array(C * MAX_DIMS),
      contextY: new Float32Array(C),
      queryId: new Int32Array(Q),
      queryT: new Float32Array(Q),
      queryConfig: new Float32Array(Q * MAX_DIMS),
    };
    points.forEach((p, k) => {
      const t = trials[p.trial]!;
      input.contextId[k] = idOf(p.trial);
      input.contextT[k] = p.step / maxFidelity;
      input.contextY[k] = scale.toY(seen[p.trial]![p.step - 1]!);
      encode(t.config, input.contextConfig, k * MAX_DIMS);
    });
    queries.forEach((q, k) => {
      const observed = q.trial !== undefined && seen[q.trial]!.length > 0;
      input.queryId[k] = observed ? idOf(q.trial!) : 0;
      input.queryT[k] = Math.min(1, q.step / maxFidelity);
      encode(q.config, input.queryConfig, k * MAX_DIMS);
    });
    this.lastContextSize = C;
    return input;
  }

  /** The PFN's inputs for a prediction from `trials` alone (pfnInputDimensions); no work below MAX_DIMS. */
  private inputDimensions(trials: readonly TrialCurve[]): number[] | undefined {
    const dims = trials[0]?.config.length ?? 0;
    return dims > MAX_DIMS ? pfnInputDimensions(configObservations(trials), dims) : undefined;
  }

  /** Trials with pending ones fantasised one step ahead at their predicted mean (parallel studies). */
  private withFantasies(ctx: DecisionContext, scale: CurveScale, dims?: readonly number[]): TrialCurve[] {
    const pending = ctx.trials
      .map((t, i) => (t.pending && t.values.length < ctx.maxFidelity ? i : -1))
      .filter((i) => i >= 0);
    const observed = ctx.trials.filter((t) => !t.pending || t.values.length > 0);
    if (pending.length === 0 || observed.every((t) => t.values.length === 0)) return ctx.trials;
    const queries = pending.map((i) => ({
      trial: i,
      config: ctx.trials[i]!.config,
      step: ctx.trials[i]!.values.length + 1,
    }));
    const probs = this.pfn.predict(
      this.buildInput(ctx.trials, ctx.maxFidelity, scale, queries, new Rng(ctx.rng.int(2 ** 31)), dims),
    );
    const n = this.pfn.config.buckets;
    const out = ctx.trials.map((t) => ({ ...t, values: [...t.values] }));
    pending.forEach((i, k) => out[i]!.values.push(scale.fromY(bucketMean(probs, n, k))));
    return out;
  }

  decide(ctx: DecisionContext): Decision {
    const anyObserved = ctx.trials.some((t) => t.values.length > 0);
    // Initial design: one random configuration.
    if (!anyObserved) return randomNewCandidate(ctx);
    const scale = CurveScale.fit(ctx.trials, this.options.anchors);
    const observations = configObservations(ctx.trials);
    const configDims = ctx.trials[0]!.config.length;
    const keep = this.options.rankedNewCandidates ?? DEFAULT_RANKED_NEW_CANDIDATES;
    const ranked = observations.length >= MIN_RANKED_OBSERVATIONS && (keep > 0 || configDims > MAX_DIMS);
    // One selection serves the ranking and, past MAX_DIMS hyperparameters, the PFN's choice of inputs.
    const order = ranked ? relevantDimensionOrder(observations) : [];
    const use = dimensionMask(order, configDims);
    const dims = pfnInputDimensions(observations, configDims, order);
    const trials = this.withFantasies(ctx, scale, dims);
    let fBest = 0;
    for (const t of trials) for (const v of t.values) fBest = Math.max(fBest, scale.toY(v));
    const horizon = 1 + ctx.rng.int(Math.max(1, Math.min(ctx.maxFidelity, ctx.budgetLeft)));
    const tau = Math.pow(10, ctx.rng.uniform(-4, -1));
    const minImprovement = (this.options.minImprovementBuckets ?? MIN_IMPROVEMENT_BUCKETS) / this.pfn.config.buckets;
    const threshold = mfpiThreshold(fBest, tau, minImprovement);
    const open = thawable({ ...ctx, trials: ctx.trials });
    const newIndex =
      keep > 0 ? rankCandidates(observations, ctx.newCandidates, keep, use) : ctx.newCandidates.map((_, i) => i);
    const queries: CurveQueryPoint[] = [
      ...open.map((i) => ({
        trial: i,
        config: ctx.trials[i]!.config,
        step: Math.min(ctx.maxFidelity, trials[i]!.values.length + horizon),
      })),
      ...newIndex.map((i) => ({ config: ctx.newCandidates[i]!, step: Math.min(ctx.maxFidelity, horizon) })),
    ];
    const probs = this.pfn.predict(
      this.buildInput(trials, ctx.maxFidelity, scale, queries, new Rng(ctx.rng.int(2 ** 31)), dims),
    );
    const n = this.pfn.config.buckets;
    const temperature = this.options.acquisitionTemperature ?? ACQUISITION_TEMPERATURE;
    const sharpened = new Float64Array(n);
    let best = -1;
    let bestScore = -Infinity;
    let bestMean = 0;
    for (let k = 0; k < queries.length; k++) {
      const row =
        temperature === 1 ? probs.subarray(k * n, (k + 1) * n) : bucketSharpen(probs, n, temperature, k, sharpened);
      const score = bucketExceedance(row, n, threshold);
      const mean = bucketMean(row, n);
      // Ties (typically all zero far above the curve) go to the higher predicted mean.
      if (score > bestScore || (score === bestScore && mean > bestMean)) {
        best = k;
        bestScore = score;
        bestMean = mean;
      }
    }
    const predicted = {
      ...onValueScale(probs, n, best, scale),
      probabilityOfImprovement: bucketExceedance(probs, n, threshold, best),
    };
    return best < open.length
      ? { kind: 'thaw', trial: open[best]!, acquisition: bestScore, predicted }
      : { kind: 'new', candidate: newIndex[best - open.length]!, acquisition: bestScore, predicted };
  }

  /** The bucket probabilities of y for each query, row-major [queries × buckets]. */
  predictBuckets(
    trials: readonly TrialCurve[],
    maxFidelity: number,
    queries: CurveQueryPoint[],
    seed: number,
  ): Float32Array {
    const scale = CurveScale.fit(trials, this.options.anchors);
    const dims = this.inputDimensions(trials);
    return this.pfn.predict(this.buildInput(trials, maxFidelity, scale, queries, new Rng(seed), dims));
  }

  /**
   * Predictions for query points from the trials' observations (PredictCurves): mean and 5/95 % quantiles
   * on the objective's scale, and P(better than `threshold`) when given.
   */
  predict(
    trials: readonly TrialCurve[],
    maxFidelity: number,
    queries: CurveQueryPoint[],
    seed: number,
    threshold?: number,
  ): PointPrediction[] {
    const scale = CurveScale.fit(trials, this.options.anchors);
    const dims = this.inputDimensions(trials);
    const probs = this.pfn.predict(this.buildInput(trials, maxFidelity, scale, queries, new Rng(seed), dims));
    const n = this.pfn.config.buckets;
    return queries.map((_, k) => ({
      ...onValueScale(probs, n, k, scale),
      probabilityOfImprovement: threshold === undefined ? 0 : bucketExceedance(probs, n, scale.toY(threshold), k),
    }));
  }
}
