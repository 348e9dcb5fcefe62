// ModelRef (protobuf) → the plain model source the libs open, and the resolver that turns a trainer run
// into its checkpoint artifact through the trainer's generated client.
import { commonV1, trainerV1 } from '@floe/contracts';
import { call } from './client.js';
import type { Peers } from './peers.js';
import { fromPeerError } from './errors.js';

const ARCHITECTURES = {
  [commonV1.ModelArchitecture.MODEL_ARCHITECTURE_TRANSFORMER_LM]: 'transformer-lm',
  [commonV1.ModelArchitecture.MODEL_ARCHITECTURE_MAMBA_LM]: 'mamba-lm',
  [commonV1.ModelArchitecture.MODEL_ARCHITECTURE_LENET5]: 'lenet5',
  [commonV1.ModelArchitecture.MODEL_ARCHITECTURE_MLP]: 'mlp',
} as Record<number, 'transformer-lm' | 'mamba-lm' | 'lenet5' | 'mlp'>;

export type PlainModelSource =
  | { kind: 'builtin'; architecture: 'transformer-lm' | 'mamba-lm' | 'lenet5' | 'mlp'; size: string; seed: number }
  | { kind: 'artifact'; artifactId: string }
  | { kind: 'run'; runId: string; step: number; best?: boolean };

/** A validated ModelRef (checkModelRef) as a plain source. */
export function modelSource(ref: commonV1.ModelRef): PlainModelSource {
  const s = ref.source!;
  if (s.$case === 'builtin')
    return {
      kind: 'builtin',
      architecture: ARCHITECTURES[s.value.architecture]!,
      size: s.value.size,
      seed: Number(s.value.seed),
    };
  if (s.$case === 'run')
    return { kind: 'run', runId: s.value.runId, step: Number(s.value.step), best: s.value.best || undefined };
  return { kind: 'artifact', artifactId: s.value };
}

/**
 * Resolves a run (and step; 0 = latest; or its best checkpoint) to its checkpoint artifact by asking the
 * trainer (ExportModel).
 */
export function trainerRunResolver(
  peers: Peers,
  field = 'model.run',
): (runId: string, step: number, best?: boolean) => Promise<string> {
  return async (runId, step, best) => {
    const client = peers.client('trainer', trainerV1.TrainerServiceClient);
    try {
      return (
        await call(client.exportModel.bind(client), {
          runId,
          step,
          best: best ?? false,
          // The checkpoint itself: its exact weights, and no new artifact; read now, so not kept for good.
          format: trainerV1.ExportFormat.EXPORT_FORMAT_CHECKPOINT,
          transient: true,
        })
      ).artifact!.artifactId;
    } catch (err) {
      throw fromPeerError(err, field);
    }
  };
}
