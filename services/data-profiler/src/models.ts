// The model a request names: a builtin freshly initialised, a checkpoint artifact from the shared store,
// or a trainer run's checkpoint (asked of the trainer through its generated client).
import { commonV1, trainerV1 } from '@floe/contracts';
import { FloeError, invalidArgument, notFound } from '@floe/errors';
import { buildModel, type BlockModel } from '@floe/models';
import { call, createClient, fromPeerError } from '@floe/service-kit';
import type { ArtifactStore } from '@floe/store';
import { loadCheckpoint } from '@floe/training';

const ARCH: Record<number, 'transformer-lm' | 'mamba-lm' | 'lenet5' | 'mlp'> = {
  [commonV1.ModelArchitecture.MODEL_ARCHITECTURE_TRANSFORMER_LM]: 'transformer-lm',
  [commonV1.ModelArchitecture.MODEL_ARCHITECTURE_MAMBA_LM]: 'mamba-lm',
  [commonV1.ModelArchitecture.MODEL_ARCHITECTURE_LENET5]: 'lenet5',
  [commonV1.ModelArchitecture.MODEL_ARCHITECTURE_MLP]: 'mlp',
};

export async function loadModel(field: string, ref: commonV1.ModelRef, artifacts: ArtifactStore, trainerAddress: () => string): Promise<BlockModel> {
  const source = ref.source!;
  if (source.$case === 'builtin') {
    try {
      return buildModel(ARCH[source.value.architecture]!, source.value.size, Number(source.value.seed));
    } catch (err) {
      throw new FloeError('not_found', `${field}.builtin: ${(err as Error).message}`);
    }
  }
  let artifactId: string;
  if (source.$case === 'run') {
    const client = createClient(trainerV1.TrainerServiceClient, trainerAddress());
    try {
      const exported = await call(client.exportModel.bind(client), { runId: source.value.runId, step: source.value.step });
      artifactId = exported.artifact!.artifactId;
    } catch (err) {
      throw fromPeerError(err, `${field}.run`);
    } finally {
      client.close();
    }
  } else artifactId = source.value;
  const artifact = await artifacts.get(artifactId);
  if (!artifact) throw notFound('artifact', artifactId);
  if (artifact.manifest.kind !== 'checkpoint') throw invalidArgument(`${field}.artifact_id`, `artifact ${artifactId} is a ${artifact.manifest.kind}, not a model checkpoint`);
  const model = (await loadCheckpoint(artifacts, artifactId)).model;
  model.setTrainable(() => true);
  return model;
}
