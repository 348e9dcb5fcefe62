// The one entry point: a dataset reference → the examples of its split, within the size limit.
import { FloeError, invalidArgument, resourceExhausted } from '@floe/errors';
import { loadBuiltin } from './builtin.js';
import { fileSteps } from './files.js';
import { parseDatasetUri, resolveDataPath } from './refs.js';
import { selectSplitSteps } from './batches.js';
import { byteCount, type Dataset, type Split } from './types.js';
import { finish, finishYielding, type Steps } from './steps.js';

export const DEFAULT_MAX_DATASET_BYTES = 512 * 1024 * 1024;

export interface OpenOptions {
  dataRoots: string[];
  /** Largest dataset accepted, in bytes. */
  maxBytes?: number;
  /**
   * The whole dataset as read, in file order, neither split nor copied (a builtin's is shared: read only) — for
   * checks of its shape and its splits' sizes; the reference's split is ignored. Copying hundreds of megabytes of
   * pixels takes seconds.
   */
  asRead?: boolean;
}

export interface DatasetRefInput {
  uri: string;
  split?: Split;
  maxExamples?: number;
}

/**
 * Opens `ref`; errors name `field` (the request's field that holds the reference, e.g. `spec.dataset`). At once:
 * for worker threads; on the event loop, openDatasetAsync.
 */
export const openDataset = (ref: DatasetRefInput, opts: OpenOptions, field = 'dataset'): Dataset =>
  finish(openSteps(ref, opts, field));

/**
 * openDataset for the event loop: a folder's files are read and decoded in slices of `sliceMs` (default 10),
 * so other calls and health probes go on meanwhile; an aborted `signal` stops the reading.
 */
export const openDatasetAsync = (
  ref: DatasetRefInput,
  opts: OpenOptions & { sliceMs?: number; signal?: AbortSignal },
  field = 'dataset',
): Promise<Dataset> => finishYielding(openSteps(ref, opts, field), opts);

function* openSteps(ref: DatasetRefInput, opts: OpenOptions, field: string): Steps<Dataset> {
  const maxBytes = opts.maxBytes ?? DEFAULT_MAX_DATASET_BYTES;
  const parsed = parseDatasetUri(ref.uri, `${field}.uri`);
  let full: Dataset;
  try {
    full =
      parsed.scheme === 'builtin'
        ? loadBuiltin(parsed.name)
        : yield* readFile(resolveDataPath(parsed.path, opts.dataRoots), maxBytes);
  } catch (err) {
    // Say which of the request's datasets could not be read (a request can name several); a file's content
    // that cannot be read as a dataset is a violation of that field.
    if (err instanceof FloeError && err.kind === 'invalid_argument' && err.violations.length === 0)
      throw invalidArgument(`${field}.uri`, err.message);
    if (err instanceof FloeError && err.kind !== 'invalid_argument' && !err.message.startsWith(`${field}`))
      throw new FloeError(err.kind, `${field}.uri: ${err.message}`, { cause: err });
    throw err;
  }
  const bytes = byteCount(full);
  if (bytes > maxBytes)
    throw resourceExhausted(`${field}: ${ref.uri} is ${bytes} bytes, over the limit of ${maxBytes}`);
  if (opts.asRead) return full;
  return yield* selectSplitSteps(full, ref.split ?? 'all', ref.maxExamples ?? 0);
}

/** loadFile with the file system's refusals (unreadable, vanished, a broken link inside a folder) as NOT_FOUND. */
function* readFile(path: string, maxBytes: number): Steps<Dataset> {
  try {
    return yield* fileSteps(path, maxBytes);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (typeof e.code === 'string' && e.syscall)
      throw new FloeError('not_found', `cannot read ${e.path ?? path}: ${e.code}`, { cause: err });
    throw err;
  }
}
