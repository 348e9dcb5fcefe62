// Page tokens are opaque to callers: base64url of the keyset cursor (the `seq` of the last record of the
// page) with the list's name and a hash of its filters, so a token from another list or another query is
// refused instead of silently paging something else. Keysets, not offsets: inserts while a caller pages
// never make it skip or repeat a record.
import { createHash } from 'node:crypto';
import { InvalidArgumentError, invalidArgument } from '@floe/errors';

export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 1000;

export function pageSize(requested: number | undefined, field = 'page.page_size'): number {
  const n = requested ?? 0;
  if (!Number.isInteger(n) || n < 0) throw invalidArgument(field, 'must be >= 0');
  return n === 0 ? DEFAULT_PAGE_SIZE : Math.min(n, MAX_PAGE_SIZE);
}

function queryHash(query: unknown): string {
  return createHash('sha256')
    .update(JSON.stringify(query ?? null))
    .digest('base64url')
    .slice(0, 12);
}

/** The token of the page after the record with `cursor`; '' when there is none. */
export function encodePageToken(list: string, cursor: number | undefined, query?: unknown): string {
  if (cursor === undefined) return '';
  return Buffer.from(JSON.stringify({ k: list, c: cursor, q: queryHash(query) })).toString('base64url');
}

/** The cursor a token carries (undefined for the first page); a foreign or stale token is INVALID_ARGUMENT. */
export function decodePageToken(
  list: string,
  token: string | undefined,
  query?: unknown,
  field = 'page.page_token',
): number | undefined {
  if (!token) return undefined;
  try {
    const parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as {
      k?: unknown;
      c?: unknown;
      q?: unknown;
    };
    if (parsed.k === list && Number.isInteger(parsed.c) && (parsed.c as number) >= 0) {
      if (parsed.q !== queryHash(query))
        throw invalidArgument(field, 'was returned for other filters; send the same filters with it');
      return parsed.c as number;
    }
  } catch (err) {
    if (err instanceof InvalidArgumentError) throw err;
    // fall through to the error below
  }
  throw invalidArgument(field, 'is not a token returned by this list');
}
