// Checkpoints: model weights, optimizer moments, step, data cursor (which carries the batch RNG), written
// as one artifact through the artifact store (atomic: a checkpoint is whole or absent). Float32 values are
// stored raw, so loading restores training bit for bit.
import type { ArtifactStore, StoredArtifact } from '@floe/store';
import { deserializeModel, serializeModel, type BlockModel, type ModelState } from '@floe/models';
import type { SessionState } from './session.js';

interface TensorIndex {
  name: string;
  shape: number[];
  offset: number;
  length: number;
}

function pack(entries: [string, number[], Float32Array][]): { bytes: Uint8Array; index: TensorIndex[] } {
  const total = entries.reduce((n, [, , v]) => n + v.length, 0);
  const all = new Float32Array(total);
  const index: TensorIndex[] = [];
  let offset = 0;
  for (const [name, shape, values] of entries) {
    all.set(values, offset);
    index.push({ name, shape, offset, length: values.length });
    offset += values.length;
  }
  return { bytes: new Uint8Array(all.buffer), index };
}

function unpack(bytes: Buffer, index: TensorIndex[]): Map<string, { shape: number[]; values: Float32Array }> {
  // Copy into an aligned buffer: a Buffer's byteOffset need not be a multiple of 4.
  const all = new Float32Array(new Uint8Array(bytes).buffer);
  return new Map(index.map((e) => [e.name, { shape: e.shape, values: all.slice(e.offset, e.offset + e.length) }]));
}

export interface CheckpointMeta {
  format: 1;
  model: Omit<ModelState, 'weights'> & { weights: TensorIndex[] };
  session: {
    step: number;
    data: unknown;
    optimizerStep: number;
    slots: TensorIndex[];
    /** Updates of the parameters whose count differs from optimizerStep (see OptimizerState). */
    slotSteps?: Record<string, number>;
    /** The selective-training state (masks, block scores): its JSON part, and its arrays in selective.bin. */
    selective?: { json: unknown; arrays: TensorIndex[] };
  };
  extra: Record<string, unknown>;
}

export async function saveCheckpoint(
  store: ArtifactStore,
  model: BlockModel,
  session: SessionState,
  opts: { id?: string; labels?: Record<string, string>; extra?: Record<string, unknown> } = {},
): Promise<StoredArtifact> {
  const state = serializeModel(model);
  const weights = pack(Object.entries(state.weights).map(([name, w]) => [name, w.shape, w.values]));
  const shapes = new Map(model.params().map((p) => [p.name, p.variable.shape]));
  const slotEntries: [string, number[], Float32Array][] = [];
  for (const [name, s] of Object.entries(session.optimizer.slots)) {
    slotEntries.push([`${name}/m`, shapes.get(name)!, s.m]);
    if (s.v) slotEntries.push([`${name}/v`, shapes.get(name)!, s.v]);
  }
  const slots = pack(slotEntries);
  const slotSteps = Object.fromEntries(
    Object.entries(session.optimizer.slots).flatMap(([name, s]) => (s.t === undefined ? [] : [[name, s.t]])),
  );
  const selective =
    session.selective && pack(Object.entries(session.selective.arrays).map(([n, v]) => [n, [v.length], v]));
  const meta: CheckpointMeta = {
    format: 1,
    model: {
      spec: state.spec,
      task: state.task,
      expansions: state.expansions,
      frozen: state.frozen,
      weights: weights.index,
    },
    session: {
      step: session.step,
      data: session.data,
      optimizerStep: session.optimizer.step,
      slots: slots.index,
      ...(Object.keys(slotSteps).length && { slotSteps }),
      ...(session.selective && { selective: { json: session.selective.json, arrays: selective!.index } }),
    },
    extra: opts.extra ?? {},
  };
  return store.put(
    'checkpoint',
    {
      'meta.json': Buffer.from(JSON.stringify(meta)),
      'weights.bin': weights.bytes,
      'optimizer.bin': slots.bytes,
      ...(selective && { 'selective.bin': selective.bytes }),
    },
    { id: opts.id, labels: opts.labels },
  );
}

export async function loadCheckpoint(
  store: ArtifactStore,
  id: string,
): Promise<{ model: BlockModel; session: SessionState; meta: CheckpointMeta }> {
  const meta = JSON.parse((await store.readFile(id, 'meta.json')).toString('utf8')) as CheckpointMeta;
  const weights = unpack(await store.readFile(id, 'weights.bin'), meta.model.weights);
  const model = deserializeModel({ ...meta.model, weights: Object.fromEntries(weights) });
  const slotValues = unpack(await store.readFile(id, 'optimizer.bin'), meta.session.slots);
  const slots: SessionState['optimizer']['slots'] = {};
  for (const [key, v] of slotValues) {
    const [name, which] = [key.slice(0, key.lastIndexOf('/')), key.slice(key.lastIndexOf('/') + 1)];
    const s = (slots[name] ??= { m: new Float32Array(0) });
    if (which === 'm') s.m = v.values;
    else s.v = v.values;
  }
  for (const [name, t] of Object.entries(meta.session.slotSteps ?? {})) if (slots[name]) slots[name].t = t;
  const selective = meta.session.selective && {
    json: meta.session.selective.json,
    arrays: Object.fromEntries(
      [...unpack(await store.readFile(id, 'selective.bin'), meta.session.selective.arrays)].map(([n, v]) => [
        n,
        v.values,
      ]),
    ),
  };
  return {
    model,
    session: {
      step: meta.session.step,
      data: meta.session.data,
      optimizer: { step: meta.session.optimizerStep, slots },
      ...(selective && { selective }),
    },
    meta,
  };
}

/** A checkpoint's description without its tensors: enough to validate a request against its blocks. */
export async function readCheckpointMeta(store: ArtifactStore, id: string): Promise<CheckpointMeta> {
  return JSON.parse((await store.readFile(id, 'meta.json')).toString('utf8')) as CheckpointMeta;
}

/** The block ids of a stored model: its architecture's blocks with its expansions inserted. */
export function checkpointBlockIds(expansions: { id: string; after: string }[], baseIds: string[]): string[] {
  const ids = [...baseIds];
  for (const e of expansions) ids.splice(ids.indexOf(e.after) + 1, 0, e.id);
  return ids;
}
