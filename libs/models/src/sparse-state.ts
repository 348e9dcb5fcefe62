// A model that trained only a few weights, stored as what it trained: the seed (every other weight is
// regenerated from (seed, name), or is zero when pruned), the indices of the trained entries and their
// values, and the small parameters (biases, norms) whole. FreezeNet's "one seed plus the few".
import * as tf from '@tensorflow/tfjs-core';
import { buildModel } from './registry.js';
import type { BlockModel, ModelSpec, Task } from './model.js';

export interface SparseModelState {
  spec: ModelSpec;
  task: Task;
  /** What the entries that are not stored hold: their seeded initial values, or zero. */
  rest: 'frozen' | 'pruned';
  /**
   * Masked parameters: the stored entries' indices as gaps from the previous one in LEB128 varints
   * (one byte per entry at FreezeNet's densities, where 4-byte indices would cap the saving at 2x the
   * density), and their values.
   */
  sparse: Record<string, { gaps: Uint8Array; values: Float32Array }>;
  /** Parameters stored whole. */
  dense: Record<string, Float32Array>;
}

/** Stores `model` with `masks` (name → 0/1; 1 = stored); parameters without a mask are stored whole. */
export function sparseState(
  model: BlockModel,
  masks: Map<string, ArrayLike<number>>,
  rest: 'frozen' | 'pruned',
): SparseModelState {
  if (model.expansions.length)
    throw new Error('a sparse state stores a model as built from its seed, without expansions');
  const sparse: SparseModelState['sparse'] = {};
  const dense: SparseModelState['dense'] = {};
  for (const p of model.params()) {
    const values = p.variable.dataSync() as Float32Array;
    const mask = masks.get(p.name);
    if (!mask) {
      dense[p.name] = Float32Array.from(values);
      continue;
    }
    const indices: number[] = [];
    for (let k = 0; k < mask.length; k++) if (mask[k]) indices.push(k);
    sparse[p.name] = { gaps: encodeGaps(indices), values: Float32Array.from(indices, (k) => values[k]!) };
  }
  return { spec: model.spec, task: model.task, rest, sparse, dense };
}

/** The model again: built from the seed, the rest zeroed if pruned, the stored values written back. */
export function rebuildSparse(state: SparseModelState): BlockModel {
  const { architecture, size, seed, config } = state.spec;
  const model = buildModel(architecture, size, seed, config, state.task);
  for (const p of model.params()) {
    const whole = state.dense[p.name];
    if (whole) {
      p.variable.assign(tf.tensor(whole, p.variable.shape));
      continue;
    }
    const s = state.sparse[p.name];
    if (!s) throw new Error(`the sparse state lacks parameter ${p.name}`);
    const values =
      state.rest === 'pruned' ? new Float32Array(p.variable.size) : Float32Array.from(p.variable.dataSync());
    decodeGaps(s.gaps, s.values.length).forEach((k, i) => (values[k] = s.values[i]!));
    p.variable.assign(tf.tensor(values, p.variable.shape));
  }
  return model;
}

/** All parameters ÷ stored parameters (stored values, sparse and whole). */
export function compressionOf(state: SparseModelState, model: BlockModel): number {
  const stored =
    Object.values(state.sparse).reduce((n, s) => n + s.values.length, 0) +
    Object.values(state.dense).reduce((n, d) => n + d.length, 0);
  return model.countParams() / stored;
}

/** Bytes of the stored arrays (index gaps and values), for comparing with a dense checkpoint. */
export function sparseBytes(state: SparseModelState): number {
  return (
    Object.values(state.sparse).reduce((n, s) => n + s.gaps.byteLength + s.values.byteLength, 0) +
    Object.values(state.dense).reduce((n, d) => n + d.byteLength, 0)
  );
}

/** Ascending indices as LEB128 varints of their gaps (the first from −1). */
export function encodeGaps(indices: ArrayLike<number>): Uint8Array {
  const out: number[] = [];
  let previous = -1;
  for (let i = 0; i < indices.length; i++) {
    let gap = indices[i]! - previous - 1;
    if (gap < 0) throw new RangeError('indices must ascend');
    previous = indices[i]!;
    do {
      const byte = gap & 0x7f;
      gap = Math.floor(gap / 128);
      out.push(gap > 0 ? byte | 0x80 : byte);
    } while (gap > 0);
  }
  return Uint8Array.from(out);
}

export function decodeGaps(bytes: Uint8Array, count: number): Uint32Array {
  const out = new Uint32Array(count);
  let at = 0;
  let previous = -1;
  for (let i = 0; i < count; i++) {
    let gap = 0;
    let scale = 1;
    for (;;) {
      const byte = bytes[at++]!;
      gap += (byte & 0x7f) * scale;
      if (!(byte & 0x80)) break;
      scale *= 128;
    }
    previous = previous + 1 + gap;
    out[i] = previous;
  }
  return out;
}
