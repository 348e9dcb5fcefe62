// The PFN's size and the arrays of one forward pass, shared by the TF.js model and the native fast path.

export interface PfnConfig {
  width: number;
  layers: number;
  heads: number;
  /** Hidden units of each feed-forward block. */
  ffn: number;
  /** Equal-width buckets on [0, 1]. */
  buckets: number;
}

/** Inputs of one forward pass: B sequences, each with nContext context tokens and nQuery queries. */
export interface PfnInput {
  batch: number;
  nContext: number;
  nQuery: number;
  /** [B·nContext] curve ids (1…MAX_CURVE_ID). */
  contextId: Int32Array;
  contextT: Float32Array;
  /** [B·nContext·MAX_DIMS]. */
  contextConfig: Float32Array;
  contextY: Float32Array;
  /** [B·nQuery]; 0 for curves without observations. */
  queryId: Int32Array;
  queryT: Float32Array;
  queryConfig: Float32Array;
}
