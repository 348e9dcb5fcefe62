// Dataset references: `builtin:<name>` or `file:<path>`. File paths resolve only under the configured
// data roots; anything else is refused before a file is opened.
import { realpathSync } from 'node:fs';
import { isAbsolute, relative, resolve, sep } from 'node:path';
import { FloeError, invalidArgument, notFound, permissionDenied } from '@floe/errors';

export type ParsedDatasetUri = { scheme: 'builtin'; name: string } | { scheme: 'file'; path: string };

/** Builtin datasets; their loaders live in this lib. */
export const BUILTIN_DATASETS = [
  'mnist',
  'spam-assassin',
  'typescript-lib',
  'sotu',
  'iris',
  'penguins',
  'lorenz96-sim',
  'lorenz96-obs',
] as const;

export function parseDatasetUri(uri: string, field = 'dataset.uri'): ParsedDatasetUri {
  if (!uri) throw invalidArgument(field, 'is required ("builtin:<name>" or "file:<path>")');
  if (uri.length > 4096) throw invalidArgument(field, 'is longer than 4096 characters');
  if (uri.includes('\0')) throw invalidArgument(field, 'contains a NUL character');
  const colon = uri.indexOf(':');
  const scheme = colon < 0 ? '' : uri.slice(0, colon);
  const rest = uri.slice(colon + 1);
  if (scheme === 'builtin') {
    if (!(BUILTIN_DATASETS as readonly string[]).includes(rest)) {
      throw new FloeError(
        'not_found',
        `${field}: unknown builtin dataset ${JSON.stringify(rest)}; known: ${BUILTIN_DATASETS.join(', ')}`,
      );
    }
    return { scheme, name: rest };
  }
  if (scheme === 'file') {
    if (!rest) throw invalidArgument(field, 'file: needs a path');
    return { scheme, path: rest };
  }
  throw invalidArgument(field, 'must start with "builtin:" or "file:"');
}

function inside(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel === '' || (!rel.startsWith('..' + sep) && rel !== '..' && !isAbsolute(rel));
}

/**
 * Resolves a file: path against the data roots: relative paths against the first root. The lexical
 * check comes first (no file is touched for a path outside every root); then symlinks are resolved and
 * checked again, so a link cannot lead out of a root.
 */
export function resolveDataPath(path: string, roots: string[]): string {
  if (roots.length === 0) throw permissionDenied('no data roots are configured (FLOE_DATA_ROOTS)');
  const absolute = isAbsolute(path) ? resolve(path) : resolve(roots[0]!, path);
  const root = roots.find((r) => inside(resolve(r), absolute));
  if (!root) throw permissionDenied(`${path} is outside the folders the server may read (its FLOE_DATA_ROOTS)`);
  let real: string;
  try {
    real = realpathSync(absolute);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw notFound('file', path);
    throw new FloeError('not_found', `cannot read ${path}: ${(err as NodeJS.ErrnoException).code}`);
  }
  const realRoots = roots.map((r) => {
    try {
      return realpathSync(r);
    } catch {
      return resolve(r);
    }
  });
  if (!realRoots.some((r) => inside(r, real)))
    throw permissionDenied(`${path} leads outside the folders the server may read (its FLOE_DATA_ROOTS)`);
  return real;
}
