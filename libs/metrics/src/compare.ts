// Comparing models stage by stage on the same examples (CompareModels): the R matrix with its errors,
// gains over the base with paired bootstrap errors, forgetting, and — when the stages are a sequence in
// which stage i learned suite i — ACC, BWT and FWT (docs/ALGORITHMS.md, continual learning).
import { bootstrapStderr, meanAt } from './bootstrap.js';
import { continualMetrics } from './continual.js';

/** One model on one suite: the compared metric, its error and its per-example values when it is a mean. */
export interface CellOutcome {
  value: number;
  stderr: number;
  perExample?: Float64Array;
}

export interface StageComparison {
  /** R[i][j]: the metric on suite j after stage i. */
  R: number[][];
  Rse: number[][];
  /** Oriented so that positive is better; row 0 (the base) is 0. */
  gains: number[][];
  gainsStderr: number[][];
  forgetting: number[];
  /** Only when sequenceMetricsApply. */
  acc?: number;
  bwt?: number;
  /** Only when sequenceMetricsApply and a fresh initialisation was evaluated. */
  fwt?: number;
  sequenceMetricsApply: boolean;
  notes: string[];
}

/**
 * `stages[i][j]` is stage i on suite j (stage 0: the base); `randomInit[j]` a fresh initialisation on
 * suite j, when evaluated. Gains are paired: stage and base on the same examples, so their errors
 * shrink together; without per-example values the errors add in quadrature.
 */
export function compareStages(
  stages: CellOutcome[][],
  opts: { higherIsBetter: boolean; randomInit?: number[]; bootstrap: number; seed: number },
): StageComparison {
  const R = stages.map((row) => row.map((c) => c.value));
  const Rse = stages.map((row) => row.map((c) => c.stderr));
  const m = continualMetrics(R, { higherIsBetter: opts.higherIsBetter, randomInit: opts.randomInit });
  const sign = opts.higherIsBetter ? 1 : -1;
  const gainsStderr = stages.map((row, i) =>
    row.map((cell, j) => {
      if (i === 0) return 0;
      const a = cell.perExample;
      const b = stages[0]![j]!.perExample;
      if (!a || !b || a.length !== b.length) return Math.hypot(cell.stderr, stages[0]![j]!.stderr);
      const diff = a.map((x, k) => sign * (x - b[k]!));
      return bootstrapStderr(diff.length, (idx) => meanAt(diff, idx), opts.bootstrap, opts.seed + 1);
    }),
  );
  const suites = R[0]?.length ?? 0;
  const sequenceMetricsApply = stages.length === suites;
  const notes: string[] = [];
  if (!sequenceMetricsApply)
    notes.push(
      `ACC, BWT and FWT need the stages to be a sequence in which stage i learned suite i (${stages.length} stages, ${suites} suites); only the R matrix, gains and forgetting are reported`,
    );
  else if (!opts.randomInit) notes.push('FWT needs a fresh initialisation, which was skipped');
  return {
    R,
    Rse,
    gains: m.gains,
    gainsStderr,
    forgetting: m.forgetting,
    acc: sequenceMetricsApply ? m.acc : undefined,
    bwt: sequenceMetricsApply ? m.bwt : undefined,
    fwt: sequenceMetricsApply && opts.randomInit ? m.fwt : undefined,
    sequenceMetricsApply,
    notes,
  };
}
