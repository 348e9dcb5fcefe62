// Named sizes of each architecture, and the one function that builds a model from (architecture, size,
// seed, overrides). `bench` is exactly the model of ../shared/anchors/torch_step.py.
import { BlockModel, type Architecture, type ModelSpec, type Task } from './model.js';
import { transformerBlocks, type TransformerConfig } from './transformer.js';
import { mambaBlocks, type MambaConfig } from './mamba.js';
import { lenetBlocks, mlpBlocks, type LeNetConfig, type MlpConfig } from './vision.js';

export const SIZES = {
  'transformer-lm': {
    tiny: { vocab: 256, dModel: 32, layers: 2, heads: 2, context: 64, norm: 'layer' },
    small: { vocab: 256, dModel: 128, layers: 4, heads: 4, context: 128, norm: 'layer' },
    bench: { vocab: 256, dModel: 256, layers: 4, heads: 4, context: 128, norm: 'layer' },
    base: { vocab: 256, dModel: 384, layers: 6, heads: 6, context: 256, norm: 'rms' },
  } satisfies Record<string, TransformerConfig>,
  'mamba-lm': {
    tiny: { vocab: 256, dModel: 32, layers: 2, dState: 8, dConv: 4, expand: 2, context: 64 },
    small: { vocab: 256, dModel: 64, layers: 4, dState: 16, dConv: 4, expand: 2, context: 128 },
    bench: { vocab: 256, dModel: 128, layers: 2, dState: 16, dConv: 4, expand: 2, context: 64 },
  } satisfies Record<string, MambaConfig>,
  lenet5: {
    caffe: { inputSize: 28, inChannels: 1, conv1: 20, conv2: 50, hidden: 500, classes: 10 },
    small: { inputSize: 28, inChannels: 1, conv1: 6, conv2: 16, hidden: 120, classes: 10 },
  } satisfies Record<string, LeNetConfig>,
  mlp: {
    tiny: { inputs: 4, hidden: [16], outputs: 3 },
    small: { inputs: 4, hidden: [64, 64], outputs: 3 },
    medium: { inputs: 4, hidden: [256, 256, 256], outputs: 3 },
  } satisfies Record<string, MlpConfig>,
} as const;

export const ARCHITECTURES = Object.keys(SIZES) as Architecture[];

const TASKS: Record<Architecture, Task> = {
  'transformer-lm': 'language-model',
  'mamba-lm': 'language-model',
  lenet5: 'classification',
  mlp: 'classification',
};

export class UnknownModelError extends Error {}

export function buildModel(
  architecture: Architecture,
  size: string,
  seed: number,
  overrides: Record<string, unknown> = {},
  task?: Task,
): BlockModel {
  const sizes = SIZES[architecture] as Record<string, object> | undefined;
  if (!sizes)
    throw new UnknownModelError(
      `unknown architecture ${JSON.stringify(architecture)}; known: ${ARCHITECTURES.join(', ')}`,
    );
  const base = sizes[size];
  if (!base)
    throw new UnknownModelError(
      `unknown size ${JSON.stringify(size)} of ${architecture}; known: ${Object.keys(sizes).join(', ')}`,
    );
  const config: Record<string, unknown> = { ...base, ...overrides };
  const spec: ModelSpec = { architecture, size, seed, config };
  switch (architecture) {
    case 'transformer-lm':
      return new BlockModel(spec, TASKS[architecture], transformerBlocks(config as unknown as TransformerConfig, seed));
    case 'mamba-lm':
      return new BlockModel(spec, TASKS[architecture], mambaBlocks(config as unknown as MambaConfig, seed));
    case 'lenet5':
      return new BlockModel(spec, task ?? TASKS[architecture], lenetBlocks(config as unknown as LeNetConfig, seed));
    case 'mlp':
      return new BlockModel(spec, task ?? TASKS[architecture], mlpBlocks(config as unknown as MlpConfig, seed));
  }
}

/** What a builtin model is — its spec and task — without building it (for validating requests). */
export function describeModel(
  architecture: Architecture,
  size: string,
  seed = 0,
  overrides: Record<string, unknown> = {},
): { spec: ModelSpec; task: Task } {
  const base = (SIZES[architecture] as Record<string, Record<string, unknown>> | undefined)?.[size];
  if (!base) throw new UnknownModelError(`unknown model ${architecture}/${size}`);
  return { spec: { architecture, size, seed, config: { ...base, ...overrides } }, task: TASKS[architecture] };
}

/** The block ids a builtin model starts with, without building it (for validating requests). */
export function blockIdsOf(
  architecture: Architecture,
  size: string,
  overrides: Record<string, unknown> = {},
): string[] {
  const sizes = SIZES[architecture] as Record<string, Record<string, unknown>> | undefined;
  const base = sizes?.[size];
  if (!base) throw new UnknownModelError(`unknown model ${architecture}/${size}`);
  const cfg = { ...base, ...overrides } as Record<string, unknown>;
  if (architecture === 'lenet5') return ['conv1', 'conv2', 'fc1', 'head'];
  if (architecture === 'mlp') return [...(cfg.hidden as number[]).map((_, i) => `dense.${i}`), 'head'];
  return ['embedding', ...Array.from({ length: cfg.layers as number }, (_, i) => `block.${i}`), 'head'];
}
