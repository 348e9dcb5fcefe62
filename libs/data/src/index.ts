export { BUILTIN_DATASETS, parseDatasetUri, resolveDataPath, type ParsedDatasetUri } from './refs.js';
export type { Dataset, TextDataset, TabularDataset, ImageDataset, Split } from './types.js';
export { exampleCount, byteCount, modelInput, orderClasses } from './types.js';
export { loadBuiltin } from './builtin.js';
export {
  loadFile,
  dateCellDays,
  numericDateDays,
  DAY_MS,
  MIN_IDENTIFIER_ROWS,
  NEARLY_UNIQUE,
  type DayMonthOrder,
} from './files.js';
export { finish, finishYielding, type Steps } from './steps.js';
export { IMAGE_EXTENSIONS, conformImages, resizeImage, saveImageFolder } from './images.js';
export {
  openDataset,
  openDatasetAsync,
  openPredictionInputs,
  predictionInputsOfRecords,
  DEFAULT_MAX_DATASET_BYTES,
  type FeatureTable,
  type ImagesToPredict,
  type PredictionInputs,
  type PredictionInputOptions,
  type OpenOptions,
  type DatasetRefInput,
} from './open.js';
export {
  splitIndices,
  selectSplit,
  selectSplitSteps,
  byteStream,
  LmBatcher,
  ExampleBatcher,
  SPLIT_FRACTIONS,
  MIN_DOCUMENTS_TO_SPLIT_BY_DOCUMENT,
  textSplitRule,
  splitRule,
  splitSizes,
  type BatcherState,
} from './batches.js';
export { lorenz96, LORENZ96_SIM, LORENZ96_OBS, type Lorenz96Options } from './lorenz96.js';
