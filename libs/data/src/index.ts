export { BUILTIN_DATASETS, parseDatasetUri, resolveDataPath, type ParsedDatasetUri } from './refs.js';
