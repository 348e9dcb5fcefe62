// Page tokens are opaque to callers: base64url of the offset into a stable ordering, tagged so that a
// token from another list is rejected.
import { invalidArgument } from '@floe/errors';

export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 1000;

export function pageSize(requested: number | undefined, field = 'page.page_size'): number {
  const n = requested ?? 0;
  if (!Number.isInteger(n) || n < 0) throw invalidArgument(field, 'must be >= 0');
  return n === 0 ? DEFAULT_PAGE_SIZE : Math.min(n, MAX_PAGE_SIZE);
}

export function encodePageToken(kind: string, offset: number): string {
  return Buffer.from(JSON.stringify({ k: kind, o: offset })).toString('base64url');
}

export function decodePageToken(kind: string, token: string | undefined, field = 'page.page_token'): number {
  if (!token) return 0;
  try {
    const parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { k?: unknown; o?: unknown };
    if (parsed.k === kind && Number.isInteger(parsed.o) && (parsed.o as number) >= 0) return parsed.o as number;
  } catch {
    // fall through to the error below
  }
  throw invalidArgument(field, 'is not a token returned by this list');
}
