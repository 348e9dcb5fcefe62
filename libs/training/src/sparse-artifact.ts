// A sparse model as an artifact (kind "sparse-model"): sparse.json describes it, indices.bin holds the
// LEB128 index gaps of every masked parameter one after another, values.bin the stored float32 values
// (the masked parameters' trained entries, then the parameters stored whole). See @floe/models'
// sparse-state.ts for what is stored and how it rebuilds.
import type { ArtifactStore, StoredArtifact } from '@floe/store';
import {
  compressionOf,
  rebuildSparse,
  sparseState,
  type BlockModel,
  type ModelSpec,
  type SparseModelState,
  type Task,
} from '@floe/models';

export const SPARSE_MODEL_KIND = 'sparse-model';

/** The model's frozen or pruned entries are not what its seed regenerates: it cannot be stored sparse. */
export class NotFromSeedError extends Error {}

interface SparseMeta {
  format: 1;
  spec: ModelSpec;
  task: Task;
  rest: SparseModelState['rest'];
  /** In order: each masked parameter's gap bytes and value count. */
  sparse: { name: string; gapBytes: number; values: number }[];
  /** In order after the sparse values: each parameter stored whole. */
  dense: { name: string; values: number }[];
}

export interface SavedSparseModel {
  artifact: StoredArtifact;
  storedParams: number;
  totalParams: number;
  compression: number;
}

/**
 * Stores `model` as seed + indices + values, after checking that the stored form rebuilds the model's
 * weights bit for bit (it would not if the frozen entries did not come from the seed, e.g. a run that
 * started from a checkpoint): a model that does not is an Error, and nothing is written.
 */
export async function saveSparseModel(
  store: ArtifactStore,
  model: BlockModel,
  masks: Map<string, ArrayLike<number>>,
  rest: SparseModelState['rest'],
  opts: { id?: string; labels?: Record<string, string> } = {},
): Promise<SavedSparseModel> {
  const state = sparseState(model, masks, rest);
  const rebuilt = rebuildSparse(state);
  try {
    const original = new Map(model.params().map((p) => [p.name, p.variable.dataSync()]));
    for (const p of rebuilt.params()) {
      const a = original.get(p.name)!;
      const b = p.variable.dataSync();
      for (let k = 0; k < a.length; k++)
        if (!Object.is(a[k], b[k]))
          throw new NotFromSeedError(
            `the model's ${rest} entries of ${p.name} do not come from its seed (entry ${k}: ${a[k]} stored, ${b[k]} rebuilt); export it as a checkpoint`,
          );
    }
  } finally {
    rebuilt.dispose();
  }
  const sparse = Object.entries(state.sparse);
  const dense = Object.entries(state.dense);
  const gapBytes = sparse.reduce((n, [, s]) => n + s.gaps.byteLength, 0);
  const indices = new Uint8Array(gapBytes);
  const values = new Float32Array(
    sparse.reduce((n, [, s]) => n + s.values.length, 0) + dense.reduce((n, [, d]) => n + d.length, 0),
  );
  let at = 0;
  let vat = 0;
  for (const [, s] of sparse) {
    indices.set(s.gaps, at);
    at += s.gaps.byteLength;
    values.set(s.values, vat);
    vat += s.values.length;
  }
  for (const [, d] of dense) {
    values.set(d, vat);
    vat += d.length;
  }
  const meta: SparseMeta = {
    format: 1,
    spec: state.spec,
    task: state.task,
    rest,
    sparse: sparse.map(([name, s]) => ({ name, gapBytes: s.gaps.byteLength, values: s.values.length })),
    dense: dense.map(([name, d]) => ({ name, values: d.length })),
  };
  // The counts ride on the artifact's labels, so a reader knows its compression without the tensors.
  const labels = { ...opts.labels, stored_params: String(values.length), total_params: String(model.countParams()) };
  const artifact = await store.put(
    SPARSE_MODEL_KIND,
    {
      'sparse.json': Buffer.from(JSON.stringify(meta)),
      'indices.bin': indices,
      'values.bin': new Uint8Array(values.buffer),
    },
    { id: opts.id, labels },
  );
  return {
    artifact,
    storedParams: values.length,
    totalParams: model.countParams(),
    compression: compressionOf(state, model),
  };
}

export async function readSparseMeta(store: ArtifactStore, id: string): Promise<{ spec: ModelSpec; task: Task }> {
  const meta = JSON.parse((await store.readFile(id, 'sparse.json')).toString('utf8')) as SparseMeta;
  return { spec: meta.spec, task: meta.task };
}

export async function loadSparseModel(store: ArtifactStore, id: string): Promise<BlockModel> {
  const meta = JSON.parse((await store.readFile(id, 'sparse.json')).toString('utf8')) as SparseMeta;
  const indices = new Uint8Array(await store.readFile(id, 'indices.bin'));
  // Copy into an aligned buffer: a Buffer's byteOffset need not be a multiple of 4.
  const values = new Float32Array(new Uint8Array(await store.readFile(id, 'values.bin')).buffer);
  const state: SparseModelState = { spec: meta.spec, task: meta.task, rest: meta.rest, sparse: {}, dense: {} };
  let at = 0;
  let vat = 0;
  for (const s of meta.sparse) {
    state.sparse[s.name] = { gaps: indices.slice(at, at + s.gapBytes), values: values.slice(vat, vat + s.values) };
    at += s.gapBytes;
    vat += s.values;
  }
  for (const d of meta.dense) {
    state.dense[d.name] = values.slice(vat, vat + d.values);
    vat += d.values;
  }
  return rebuildSparse(state);
}
