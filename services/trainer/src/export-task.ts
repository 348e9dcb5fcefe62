// ExportModel's SPARSE format, in a worker thread (TF.js work never runs on the server's event loop): the
// checkpoint's model and masks, stored as seed + indices + values, after checking that they rebuild it.
import { initBackend } from '@floe/ml-runtime';
import { failedPrecondition } from '@floe/errors';
import { LocalArtifactStore } from '@floe/store';
import {
  loadCheckpoint,
  saveSparseModel,
  serveTask,
  type ComputeEnv,
  type MaskedTrainingOptions,
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
  const selective = session.selective?.json as { kind?: string; options?: MaskedTrainingOptions } | undefined;
  if (selective?.kind !== 'masked' || !selective.options)
    throw failedPrecondition(`format: checkpoint ${checkpointId} has no masks; export it as a checkpoint`);
  const masks = new Map(
    Object.entries(session.selective!.arrays).map(([key, m]) => [key.slice('mask/'.length), m] as const),
  );
  try {
    const saved = await saveSparseModel(store, model, masks, selective.options.rest, {
      id,
      labels,
    }).catch((err: Error) => {
      throw /do not come from its seed/.test(err.message) ? failedPrecondition(`format: ${err.message}`) : err;
    });
    return {
      artifactId: saved.artifact.manifest.id,
      storedParams: saved.storedParams,
      totalParams: saved.totalParams,
      compression: saved.compression,
    };
  } finally {
    model.dispose();
  }
});
