// Which new configurations ifBO considers: a nearest-neighbour model on the hyperparameters that matter.
// On TaskSet the PFN barely ranks untried configurations from its context (Spearman 0.05 with their best
// values after 250 steps), while the mean of the 5 nearest tried ones on the learning rate alone ranks them at
// 0.54 — and on all eight hyperparameters at 0.08: distance must count only the inputs that matter, and a study
// does not know which those are. So they are chosen from the observations (forward selection by leave-one-out
// rank correlation), and ifBO scores only the new candidates this model ranks best (docs/ALGORITHMS.md §4).

/** A tried configuration (in [0, 1]^d) and its best observed value (lower is better). */
export interface ConfigObservation {
  config: readonly number[];
  value: number;
}

/** A trial as the ranking reads it: its configuration, its observed values (lower is better), whether it failed. */
export interface ObservedTrial {
  config: readonly number[];
  values: readonly number[];
  failed?: boolean;
}

/**
 * What the configuration ranking learns from: each observed trial's best value; a trial that failed before
 * any observation counts as the worst value seen (where runs diverge is worth avoiding).
 */
export function configObservations(trials: readonly ObservedTrial[]): ConfigObservation[] {
  let worst = -Infinity;
  for (const t of trials) for (const v of t.values) worst = Math.max(worst, v);
  const out: ConfigObservation[] = [];
  for (const t of trials) {
    if (t.values.length > 0) out.push({ config: t.config, value: Math.min(...t.values) });
    else if (t.failed && Number.isFinite(worst)) out.push({ config: t.config, value: worst });
  }
  return out;
}

/** Neighbours whose mean predicts a configuration's value. */
export const NEIGHBOURS = 5;
/** Below this many tried configurations there is nothing to select dimensions on: no ranking. */
export const MIN_RANKED_OBSERVATIONS = 8;
/** The leave-one-out selection looks at most at this many observations (evenly spaced), so it stays cheap. */
const SELECTION_SAMPLE = 96;

/** Average ranks (ties share the mean of their positions). */
function ranks(values: readonly number[]): number[] {
  const order = values.map((_, i) => i).sort((a, b) => values[a]! - values[b]!);
  const out = new Array<number>(values.length);
  for (let i = 0; i < order.length;) {
    let j = i;
    while (j + 1 < order.length && values[order[j + 1]!] === values[order[i]!]) j++;
    for (let k = i; k <= j; k++) out[order[k]!] = (i + j) / 2;
    i = j + 1;
  }
  return out;
}

/**
 * Spearman's rank correlation; 0 when either side is constant — a constant prediction carries no information
 * (@floe/xai's spearman reads a constant side as 1, unchanged attributions, and is not a dependency here).
 */
export function rankCorrelation(a: readonly number[], b: readonly number[]): number {
  const ra = ranks(a);
  const rb = ranks(b);
  const n = a.length;
  const mean = (n - 1) / 2;
  let sab = 0;
  let saa = 0;
  let sbb = 0;
  for (let i = 0; i < n; i++) {
    sab += (ra[i]! - mean) * (rb[i]! - mean);
    saa += (ra[i]! - mean) ** 2;
    sbb += (rb[i]! - mean) ** 2;
  }
  return saa > 0 && sbb > 0 ? sab / Math.sqrt(saa * sbb) : 0;
}

/**
 * The mean of `value(i)` over the `NEIGHBOURS` indices below `count` with the smallest `distance(i)`, `skip`
 * left out; of equal distances the earlier index counts.
 */
function meanOfNearest(
  count: number,
  distance: (i: number) => number,
  value: (i: number) => number,
  skip: number,
): number {
  // The k smallest distances by insertion into a short sorted list: k is 5, a sort of n would dominate.
  const k = Math.min(NEIGHBOURS, count - (skip >= 0 && skip < count ? 1 : 0));
  const dist: number[] = [];
  const vals: number[] = [];
  for (let i = 0; i < count; i++) {
    if (i === skip) continue;
    const d = distance(i);
    if (dist.length === k && d >= dist[k - 1]!) continue;
    let at = dist.length === k ? k - 1 : dist.length;
    if (dist.length < k) {
      dist.push(0);
      vals.push(0);
    }
    while (at > 0 && dist[at - 1]! > d) {
      dist[at] = dist[at - 1]!;
      vals[at] = vals[at - 1]!;
      at--;
    }
    dist[at] = d;
    vals[at] = value(i);
  }
  let sum = 0;
  for (const v of vals) sum += v;
  return vals.length > 0 ? sum / vals.length : 0;
}

/** The indices where `use` is set. */
const usedDimensions = (use: readonly boolean[]) => use.flatMap((u, j) => (u ? [j] : []));

/**
 * The mean value of the `NEIGHBOURS` observations nearest to `config`, distance over the dimensions where
 * `use` is set; observation `skip` left out (leave-one-out).
 */
export function neighbourMean(
  observations: readonly ConfigObservation[],
  config: readonly number[],
  use: readonly boolean[],
  skip = -1,
): number {
  // Over the used dimensions' indices only: a wide space (64 dimensions) with one or two selected would
  // otherwise test every unused one on every pair.
  const dims = usedDimensions(use);
  return meanOfNearest(
    observations.length,
    (i) => {
      const c = observations[i]!.config;
      let d = 0;
      for (const j of dims) d += (c[j]! - config[j]!) ** 2;
      return d;
    },
    (i) => observations[i]!.value,
    skip,
  );
}

/**
 * The dimensions that predict the value, in the order greedy forward selection adds them: each time the
 * dimension that most raises the leave-one-out rank correlation, until none does. Empty: nothing predicts.
 */
export function relevantDimensionOrder(observations: readonly ConfigObservation[]): number[] {
  const d = observations[0]?.config.length ?? 0;
  const sample = selectionSample(observations);
  const n = sample.length;
  const values = sample.map((o) => o.value);
  // Squared distances between the sample's configurations over the selected dimensions, and with one more:
  // a round costs O(d·n²), not O(d²·n²), which matters for wide search spaces (up to 64 dimensions).
  const selected = new Float64Array(n * n);
  const withOne = new Float64Array(n * n);
  const use = new Array<boolean>(d).fill(false);
  const order: number[] = [];
  let fit = 0;
  for (;;) {
    let add = -1;
    let addFit = fit;
    for (let j = 0; j < d; j++) {
      if (use[j]) continue;
      for (let a = 0; a < n; a++) {
        const x = sample[a]!.config[j]!;
        for (let b = 0; b < a; b++) {
          const dist = selected[a * n + b]! + (x - sample[b]!.config[j]!) ** 2;
          withOne[a * n + b] = dist;
          withOne[b * n + a] = dist;
        }
      }
      // Leave-one-out: each sampled configuration predicted by its nearest others.
      const predicted = values.map((_, i) =>
        meanOfNearest(
          n,
          (b) => withOne[i * n + b]!,
          (b) => values[b]!,
          i,
        ),
      );
      const f = rankCorrelation(predicted, values);
      if (f > addFit + 1e-9) {
        addFit = f;
        add = j;
      }
    }
    if (add < 0) break;
    use[add] = true;
    order.push(add);
    fit = addFit;
    for (let a = 0; a < n; a++)
      for (let b = 0; b < n; b++) selected[a * n + b] += (sample[a]!.config[add]! - sample[b]!.config[add]!) ** 2;
  }
  return order;
}

/** The observations the selection reads: all, or SELECTION_SAMPLE of them evenly spaced. */
function selectionSample(observations: readonly ConfigObservation[]): readonly ConfigObservation[] {
  const n = Math.min(SELECTION_SAMPLE, observations.length);
  const stride = observations.length / n;
  return Array.from({ length: n }, (_, i) => observations[Math.floor(i * stride)]!);
}

/**
 * The leave-one-out rank correlation between each observation's value and the mean of its nearest others,
 * distance over the dimensions where `use` is set; 0 when none is (no distance, no information).
 */
export function leaveOneOutFit(observations: readonly ConfigObservation[], use: readonly boolean[]): number {
  if (usedDimensions(use).length === 0) return 0;
  return rankCorrelation(
    observations.map((o, i) => neighbourMean(observations, o.config, use, i)),
    observations.map((o) => o.value),
  );
}

/** How much each dimension of the configuration matters to the value, as the ranking's neighbour model sees it. */
export interface DimensionImportance {
  /** Observations read (at most 96, evenly spaced). */
  observations: number;
  /** The selected dimensions, in the order forward selection added them (relevantDimensionOrder). */
  order: number[];
  /** The model's leave-one-out rank correlation on the selected dimensions; 0 when none is selected. */
  fit: number;
  /**
   * Per dimension: its share of the fit — what leaving it out of the selection costs, normalised so the
   * selected dimensions' shares sum to 1 (equal shares when leaving any one out costs nothing); 0 when not
   * selected.
   */
  share: number[];
  /**
   * Per dimension: the model's leave-one-out rank correlation on that dimension alone, 0 at or below 0 —
   * leaving one out biases a dimension that tells nothing below 0 (a tie group's others, minus itself), down
   * to −0.9 for a two-choice categorical on a dozen trials, which reads as meaning where there is none.
   */
  alone: number[];
}

/**
 * Which hyperparameters matter, read from the trials so far — the same neighbour model and selection that
 * decide which new configurations ifBO scores, so it also says what the search is acting on. Undefined below
 * MIN_RANKED_OBSERVATIONS observations.
 */
export function dimensionImportance(observations: readonly ConfigObservation[]): DimensionImportance | undefined {
  if (observations.length < MIN_RANKED_OBSERVATIONS) return undefined;
  const d = observations[0]!.config.length;
  const sample = selectionSample(observations);
  const order = relevantDimensionOrder(observations);
  const use = order.length > 0 ? dimensionMask(order, d) : new Array<boolean>(d).fill(false);
  const fit = leaveOneOutFit(sample, use);
  const cost = new Array<number>(d).fill(0);
  for (const j of order) {
    const without = use.slice();
    without[j] = false;
    cost[j] = Math.max(0, fit - leaveOneOutFit(sample, without));
  }
  const total = cost.reduce((a, b) => a + b, 0);
  const share = cost.map((c, j) => (total > 0 ? c / total : use[j] ? 1 / order.length : 0));
  const alone = Array.from({ length: d }, (_, j) =>
    Math.max(
      0,
      leaveOneOutFit(
        sample,
        Array.from({ length: d }, (_, k) => k === j),
      ),
    ),
  );
  return { observations: sample.length, order, fit, share, alone };
}

/** A selection of `dims` dimensions (relevantDimensionOrder) as a mask; none selected means all of them. */
export function dimensionMask(order: readonly number[], dims: number): boolean[] {
  const use = new Array<boolean>(dims).fill(order.length === 0);
  for (const j of order) use[j] = true;
  return use;
}

/** The selected dimensions as a mask (relevantDimensionOrder); none selected means all of them. */
export function relevantDimensions(observations: readonly ConfigObservation[]): boolean[] {
  return dimensionMask(relevantDimensionOrder(observations), observations[0]?.config.length ?? 0);
}

/**
 * The indices of the `keep` candidates the neighbour model predicts best (lowest value), in candidate order;
 * all of them when there are too few observations to rank on or no more than `keep` candidates. `use`: the
 * dimensions distance counts, when the caller has selected them already (relevantDimensions).
 */
export function rankCandidates(
  observations: readonly ConfigObservation[],
  candidates: readonly (readonly number[])[],
  keep: number,
  use?: readonly boolean[],
): number[] {
  const all = candidates.map((_, i) => i);
  if (observations.length < MIN_RANKED_OBSERVATIONS || candidates.length <= keep) return all;
  use ??= relevantDimensions(observations);
  const predicted = candidates.map((c) => neighbourMean(observations, c, use));
  return all
    .sort((a, b) => predicted[a]! - predicted[b]! || a - b)
    .slice(0, keep)
    .sort((a, b) => a - b);
}
