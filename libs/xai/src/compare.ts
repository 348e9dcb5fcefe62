// What changed between two models' explanations of the same instances: per feature, the mean |φ| before
// and after, the shift with a standard error from the paired per-instance differences, ranks, their
// Spearman correlation, and the features that gained and lost the most.

export interface FeatureShift {
  feature: string;
  importanceBefore: number;
  importanceAfter: number;
  rankBefore: number;
  rankAfter: number;
  shift: number;
  shiftStderr: number;
}

export interface AttributionShift {
  shifts: FeatureShift[];
  rankCorrelation: number;
  /** Shift above 2 standard errors, largest first (at most `top`). */
  gained: string[];
  /** Shift below −2 standard errors, largest drop first (at most `top`). */
  lost: string[];
}

/** 0 = the largest value; ties share the mean rank. */
export function ranks(values: number[]): number[] {
  const order = values.map((v, i) => [v, i] as const).sort((a, b) => b[0] - a[0]);
  const r = new Array<number>(values.length);
  for (let k = 0; k < order.length;) {
    let e = k;
    while (e + 1 < order.length && order[e + 1]![0] === order[k]![0]) e++;
    for (let q = k; q <= e; q++) r[order[q]![1]] = (k + e) / 2;
    k = e + 1;
  }
  return r;
}

export function spearman(a: number[], b: number[]): number {
  const ra = ranks(a);
  const rb = ranks(b);
  const mean = (x: number[]) => x.reduce((s, v) => s + v, 0) / x.length;
  const ma = mean(ra);
  const mb = mean(rb);
  let num = 0;
  let da = 0;
  let db = 0;
  for (let i = 0; i < a.length; i++) {
    num += (ra[i]! - ma) * (rb[i]! - mb);
    da += (ra[i]! - ma) ** 2;
    db += (rb[i]! - mb) ** 2;
  }
  return da > 0 && db > 0 ? num / Math.sqrt(da * db) : 1;
}

/** `before` and `after` are instances × features attributions of the same instances. */
export function compareAttributions(
  names: string[],
  before: Float64Array[],
  after: Float64Array[],
  top = 5,
): AttributionShift {
  const m = names.length;
  const n = before.length;
  if (after.length !== n) throw new RangeError(`${n} instances before, ${after.length} after`);
  const impBefore = new Array<number>(m).fill(0);
  const impAfter = new Array<number>(m).fill(0);
  const se = new Array<number>(m).fill(0);
  for (let f = 0; f < m; f++) {
    const diffs = before.map((row, k) => Math.abs(after[k]![f]!) - Math.abs(row[f]!));
    impBefore[f] = before.reduce((s, row) => s + Math.abs(row[f]!), 0) / n;
    impAfter[f] = after.reduce((s, row) => s + Math.abs(row[f]!), 0) / n;
    const mean = diffs.reduce((s, d) => s + d, 0) / n;
    se[f] = n > 1 ? Math.sqrt(diffs.reduce((s, d) => s + (d - mean) ** 2, 0) / (n - 1) / n) : 0;
  }
  const rb = ranks(impBefore);
  const ra = ranks(impAfter);
  const shifts = names.map((feature, f) => ({
    feature,
    importanceBefore: impBefore[f]!,
    importanceAfter: impAfter[f]!,
    rankBefore: rb[f]!,
    rankAfter: ra[f]!,
    shift: impAfter[f]! - impBefore[f]!,
    shiftStderr: se[f]!,
  }));
  const significant = (sign: 1 | -1) =>
    shifts
      .filter((s) => sign * s.shift > 2 * s.shiftStderr && s.shift !== 0)
      .sort((a, b) => sign * (b.shift - a.shift))
      .slice(0, top)
      .map((s) => s.feature);
  return { shifts, rankCorrelation: spearman(impBefore, impAfter), gained: significant(1), lost: significant(-1) };
}
