export {
  BlockModel,
  newCapture,
  disposeCapture,
  type Architecture,
  type Batch,
  type ModelSpec,
  type Task,
} from './model.js';
export { buildModel, blockIdsOf, describeModel, SIZES, ARCHITECTURES, UnknownModelError } from './registry.js';
export { LENET_MIN_SIDE, lenetFeatureSide } from './vision.js';
export { withClasses, withInputCategories } from './grow.js';
export { initialValues, makeParam, type Init, type Param } from './params.js';
export { causalConv1d, selectiveScan, selectiveScanSteps } from './mamba.js';
export { linear, layerNorm, gelu, crossEntropy } from './layers.js';
export type { Block, BlockKind, Capture, ForwardContext } from './types.js';
export { serializeModel, deserializeModel, type ModelState } from './serialize.js';
export {
  sparseState,
  rebuildSparse,
  compressionOf,
  sparseBytes,
  encodeGaps,
  decodeGaps,
  type SparseModelState,
} from './sparse-state.js';
