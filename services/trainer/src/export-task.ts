// ExportModel's SPARSE format, in a worker thread (TF.js work never runs on the server's event loop): the
// checkpoint's model and masks, stored as seed + indices + values, after checking that they rebuild it.
import { initBackend } from '@floe/ml-runtime';
import { failedPrecondition } from '@floe/errors';
import { LocalArtifactStore } from '@floe/store';
import {
  NotFromSeedError,
  loadCheckpoint,
  savedMasks,
  saveSparseModel,
  serveTask,
  type ComputeEnv,
} from '@floe/training';

export interface ExportTaskInput {
  env: ComputeEnv;
  checkpointId: string;
  /** The sparse artifact's id (one per checkpoint) and labels. */
  id: string;
  labels: Record<string, string>;
}

export interface ExportTaskOutput {
  artifactId: string;
  storedParams: number;
  totalParams: number;
  compression: number;
}

serveTask<ExportTaskInput, ExportTaskOutput>(async ({ env, checkpointId, id, labels }) => {
  await initBackend(env.backend, { threads: env.threads });
  const store = new LocalArtifactStore(env.artifactsDir);
  const { model, session } = await loadCheckpoint(store, checkpointId);
  const saved = session.selective && savedMasks(session.selective);
  if (!saved) throw failedPrecondition(`format: checkpoint ${checkpointId} has no masks; export it as a checkpoint`);
  try {
    const sparse = await saveSparseModel(store, model, saved.masks, saved.options.rest, {
      id,
      labels,
    }).catch((err: Error) => {
      throw err instanceof NotFromSeedError ? failedPrecondition(`format: ${err.message}`) : err;
    });
    return {
      artifactId: sparse.artifact.manifest.id,
      storedParams: sparse.storedParams,
      totalParams: sparse.totalParams,
      compression: sparse.compression,
    };
  } finally {
    model.dispose();
  }
});
