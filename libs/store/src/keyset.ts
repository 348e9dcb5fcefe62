// One page of a keyset listing, newest first, for every backend: rows come from `fetch(before, chunk)` (the
// records of a kind older than the cursor, newest first); a filter reads on in chunks until the page (and
// one more, to know there is a next) is full, so a filter never skips or repeats a record.
import type { ListOptions, ListResult, StoredRecord } from './types.js';

export function pageByKeyset<T, Row>(
  opts: ListOptions<T>,
  fetch: (before: number, chunk: number) => Row[],
  toRecord: (row: Row) => StoredRecord<T>,
): ListResult<T> {
  const limit = opts.limit ?? 50;
  const items: StoredRecord<T>[] = [];
  let before = opts.before ?? Number.MAX_SAFE_INTEGER;
  const chunk = opts.filter ? Math.max(100, limit * 4) : limit + 1;
  for (;;) {
    const rows = fetch(before, chunk);
    let lastSeq = before;
    for (const r of rows) {
      const rec = toRecord(r);
      lastSeq = rec.seq;
      if (!opts.filter || opts.filter(rec.body)) items.push(rec);
      if (items.length > limit) break;
    }
    if (items.length > limit || rows.length < chunk) break;
    before = lastSeq;
  }
  const page = items.slice(0, limit);
  return { items: page, next: items.length > limit ? page.at(-1)!.seq : undefined };
}
