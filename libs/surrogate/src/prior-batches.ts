// Training batches for the PFN: sequences sampled from the prior, cut at one context size per batch (as
// ifBO's single_eval_pos), packed into the PFN's input arrays.
import { Rng } from '@floe/random';
import { MAX_DIMS, sampleFtPfnSequence, type CurveSequence, type PriorOptions } from './ftpfn-prior.js';
import type { PfnInput } from './pfn.js';

export interface PriorBatch {
  input: PfnInput;
  /** Targets of the queries, [B·nQuery]. */
  queryY: Float32Array;
}

/** Packs sequences of equal length and context size. */
export function packSequences(seqs: CurveSequence[]): PriorBatch {
  const B = seqs.length;
  const C = seqs[0]!.nContext;
  const Q = seqs[0]!.length - C;
  const input: PfnInput = {
    batch: B,
    nContext: C,
    nQuery: Q,
    contextId: new Int32Array(B * C),
    contextT: new Float32Array(B * C),
    contextConfig: new Float32Array(B * C * MAX_DIMS),
    contextY: new Float32Array(B * C),
    queryId: new Int32Array(B * Q),
    queryT: new Float32Array(B * Q),
    queryConfig: new Float32Array(B * Q * MAX_DIMS),
  };
  const queryY = new Float32Array(B * Q);
  seqs.forEach((s, b) => {
    if (s.nContext !== C || s.length - s.nContext !== Q) throw new Error('sequences of a batch must share their sizes');
    input.contextId.set(s.curveId.subarray(0, C), b * C);
    input.contextT.set(s.t.subarray(0, C), b * C);
    input.contextY.set(s.y.subarray(0, C), b * C);
    input.contextConfig.set(s.config.subarray(0, C * MAX_DIMS), b * C * MAX_DIMS);
    input.queryId.set(s.curveId.subarray(C), b * Q);
    input.queryT.set(s.t.subarray(C), b * Q);
    queryY.set(s.y.subarray(C), b * Q);
    input.queryConfig.set(s.config.subarray(C * MAX_DIMS), b * Q * MAX_DIMS);
  });
  return { input, queryY };
}

/** A batch of B prior sequences of `length` tokens; the context size is drawn uniformly from 1…length−1. */
export function priorBatch(rng: Rng, batch: number, length: number, options: PriorOptions = {}): PriorBatch {
  const nContext = 1 + rng.int(length - 1);
  const seqs: CurveSequence[] = [];
  for (let b = 0; b < batch; b++) seqs.push(sampleFtPfnSequence(rng, length, nContext, undefined, options));
  return packSequences(seqs);
}
