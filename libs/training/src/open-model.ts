// A model from wherever a request says it lives: a builtin freshly initialised from its seed, a checkpoint
// artifact in the shared store, or a trainer run's checkpoint (the caller resolves the run to its
// artifact, through the trainer's client).
import { FloeError, invalidArgument, notFound } from '@floe/errors';
import { buildModel, type Architecture, type BlockModel, type ModelSpec, type Task } from '@floe/models';
import type { ArtifactStore } from '@floe/store';
import type { Dataset } from '@floe/data';
import { loadCheckpoint, readCheckpointMeta } from './checkpoint.js';
import { builtinShape, growToData } from './sources.js';
import { SPARSE_MODEL_KIND, loadSparseModel, readSparseMeta } from './sparse-artifact.js';

export type ModelSource =
  | { kind: 'builtin'; architecture: Architecture; size: string; seed: number }
  | { kind: 'artifact'; artifactId: string }
  | { kind: 'run'; runId: string; step: number; best?: boolean };

/** A run's checkpoint artifact at `step` (0: the latest), or its best checkpoint. */
export type RunResolver = (runId: string, step: number, best?: boolean) => Promise<string>;

/** A source a worker thread can open on its own: runs are resolved to their checkpoint artifact first. */
export type ResolvedModelSource = Exclude<ModelSource, { kind: 'run' }>;

/** Resolves a run source to its checkpoint artifact (through the trainer, on the server's thread). */
export async function resolveModelSource(source: ModelSource, resolveRun: RunResolver): Promise<ResolvedModelSource> {
  return source.kind === 'run'
    ? { kind: 'artifact', artifactId: await resolveRun(source.runId, source.step, source.best) }
    : source;
}

/** For opening a resolved source: a run here is a bug of the caller. */
export const noRunResolver: RunResolver = async (runId) => {
  throw new Error(`run ${runId} must be resolved to its artifact before a worker opens it`);
};

/** The model artifact a non-builtin source names, checked to exist and to hold a model (a checkpoint or a
 * sparse model). */
export async function modelArtifactId(
  field: string,
  source: Exclude<ModelSource, { kind: 'builtin' }>,
  artifacts: ArtifactStore,
  resolveRun: RunResolver,
): Promise<string> {
  const id = source.kind === 'run' ? await resolveRun(source.runId, source.step, source.best) : source.artifactId;
  const artifact = await artifacts.get(id);
  if (!artifact) throw notFound('artifact', id);
  if (artifact.manifest.kind !== 'checkpoint' && artifact.manifest.kind !== SPARSE_MODEL_KIND)
    throw invalidArgument(
      `${field}.artifact_id`,
      `artifact ${id} is a ${artifact.manifest.kind}, not a model (a checkpoint or a sparse model)`,
    );
  return id;
}

/** The model an artifact holds: a checkpoint's weights (with its expansions), or a sparse model rebuilt. */
export async function loadModelArtifact(artifacts: ArtifactStore, id: string): Promise<BlockModel> {
  const artifact = await artifacts.get(id);
  if (artifact?.manifest.kind === SPARSE_MODEL_KIND) return loadSparseModel(artifacts, id);
  return (await loadCheckpoint(artifacts, id)).model;
}

/** What an artifact's model is, without its tensors: its spec, task and expansions. */
export async function readModelArtifactMeta(
  artifacts: ArtifactStore,
  id: string,
): Promise<{ spec: ModelSpec; task: Task; expansions: { id: string; after: string }[] }> {
  const artifact = await artifacts.get(id);
  if (artifact?.manifest.kind === SPARSE_MODEL_KIND)
    return { ...(await readSparseMeta(artifacts, id)), expansions: [] };
  const { spec, task, expansions } = (await readCheckpointMeta(artifacts, id)).model;
  return { spec, task, expansions };
}

/**
 * The model, every block trainable (what trains is the caller's decision). With `shapeFor` it is the model a
 * trainer run on that data (and replay) starts from: a builtin shaped by it (builtinShape), a checkpoint grown
 * by the categories and classes it lacks (growToData).
 */
export async function openModel(
  field: string,
  source: ModelSource,
  artifacts: ArtifactStore,
  resolveRun: RunResolver,
  shapeFor?: { data: Dataset; replay?: Dataset },
): Promise<BlockModel> {
  if (source.kind === 'builtin') {
    try {
      const shape = shapeFor ? builtinShape(source.architecture, shapeFor.data, shapeFor.replay) : { overrides: {} };
      return buildModel(source.architecture, source.size, source.seed, shape.overrides, shape.task);
    } catch (err) {
      throw new FloeError('not_found', `${field}.builtin: ${(err as Error).message}`);
    }
  }
  const model = await loadModelArtifact(artifacts, await modelArtifactId(field, source, artifacts, resolveRun));
  model.setTrainable(() => true);
  return shapeFor ? growToData(model, [shapeFor.data, shapeFor.replay]) : model;
}

/** The same architecture freshly initialised from its seed: the "random init" baseline of a model. */
export async function openInitialModel(
  field: string,
  source: ModelSource,
  artifacts: ArtifactStore,
  resolveRun: RunResolver,
): Promise<BlockModel> {
  if (source.kind === 'builtin') return openModel(field, source, artifacts, resolveRun);
  const { spec } = await readModelArtifactMeta(artifacts, await modelArtifactId(field, source, artifacts, resolveRun));
  return buildModel(spec.architecture, spec.size, spec.seed, spec.config);
}
