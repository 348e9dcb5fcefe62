// The List calls page their answers; a command lists every item, a hundred at a time.
import type { commonV1 } from '@floe/contracts';

/** Every item of a paged List call: `fetch` asks for one page, `items` picks the page's items. */
export async function everyPage<R extends { page?: commonV1.PageResponse }, T>(
  fetch: (page: commonV1.PageRequest) => Promise<R>,
  items: (response: R) => T[],
): Promise<T[]> {
  const all: T[] = [];
  let pageToken = '';
  do {
    const response = await fetch({ pageSize: 100, pageToken });
    all.push(...items(response));
    pageToken = response.page?.nextPageToken ?? '';
  } while (pageToken);
  return all;
}
