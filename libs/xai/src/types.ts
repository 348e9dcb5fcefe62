// What every attribution method returns, and the two views of a model the methods need: a value
// function over coalitions (Shapley family) and a batched differentiable model (gradient family).

/** v(S) for `count` coalitions; masks is count × M, 1 where the feature is present. */
export type ValueFunction = (masks: Uint8Array, count: number) => Float64Array;

/** A model seen as a function of flat input rows: one scalar output per row. */
export interface BatchModel {
  /** Input values per row. */
  readonly inputs: number;
  /** The explained output for `rows` rows of `inputs` values. */
  predict(x: Float32Array, rows: number): Float64Array;
  /** d output / d input for each row (rows × inputs); absent for models without gradients. */
  gradient?(x: Float32Array, rows: number): Float32Array;
}

/** The attribution of one instance. */
export interface Attribution {
  /** φ_i per feature. */
  values: Float64Array;
  /** φ_0: the output with no feature present (v(∅), or f at the baseline / mean over the background). */
  baseValue: number;
  /** f(x): the output with every feature present. */
  output: number;
  /**
   * Σφ − (f(x) − φ_0), signed: the efficiency error for Shapley methods, Captum's convergence delta for
   * gradient methods.
   */
  delta: number;
  /** Standard error of each φ_i where the method samples; undefined where it is exact. */
  standardErrors?: Float64Array;
  /** Value-function evaluations (coalitions) or gradient evaluations (rows) used. */
  evaluations: number;
  wallMs: number;
}

export function sum(values: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < values.length; i++) s += values[i]!;
  return s;
}

/** The standard error of a mean of n draws from their mean and their sum of squares (sample variance). */
export function meanStandardError(mean: number, sumOfSquares: number, n: number): number {
  return n > 1 ? Math.sqrt(Math.max(0, (sumOfSquares / n - mean * mean) * (n / (n - 1))) / n) : 0;
}
