// Identifier columns — text nearly every value of which is distinct, or whole numbers under an id's name, a value in
// every row, each one distinct — are marked (TabularDataset.identifiers) so that models leave them unread and drift
// leaves them out of its verdict. Columns that only look alike stay features: a year per row, measurements, a
// repeated or missing numeric id, text that repeats.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { tempDir } from './temp-dir.js';
import {
  MIN_IDENTIFIER_ROWS,
  NEARLY_UNIQUE,
  openDataset,
  openPredictionInputs,
  type TabularDataset,
} from '../src/index.js';

const ROWS = 40;
const column = (f: (i: number) => string | number) => Array.from({ length: ROWS }, (_, i) => f(i));

/** A CSV of `columns` (name → cells) and a label, read whole. */
function table(dir: string, file: string, columns: Record<string, (string | number)[]>): TabularDataset {
  const names = Object.keys(columns);
  const rows = column((i) => [...names.map((n) => columns[n]![i]), i % 2].join(','));
  writeFileSync(join(dir, file), `${[...names, 'label'].join(',')}\n${rows.join('\n')}\n`);
  return openDataset({ uri: `file:${file}` }, { dataRoots: [dir], asRead: true }) as TabularDataset;
}

test('identifiers: text all distinct, or whole numbers all distinct under an id name; look-alikes stay features', () => {
  const dir = tempDir();
  try {
    const d = table(dir.path, 't.csv', {
      '': column((i) => i), // pandas' index, written with an empty header (read as column_1)
      id: column((i) => 1000 + 7 * i), // whole, distinct, named id
      customer_id: column((i) => 5 * i + 3),
      orderId: column((i) => i),
      SKU: column((i) => `sku-${(i * 7919) % 10007}`), // text, each distinct: names its row
      year: column((i) => 1980 + i), // whole and distinct, but a year means something
      price: column((i) => 10 + i * 1.25), // distinct measurements
      city: column((i) => ['Paris', 'Lyon'][i % 2]!), // text that repeats: a category
      user_id: column((i) => Math.floor(i / 2)), // an id that repeats: rows share a user, a grouping
      ratio_id: column((i) => i + 0.5), // named as an id, but not whole numbers
      idle: column((i) => i), // a name that only starts with "id"
    });
    assert.deepEqual(d.identifiers, ['column_1', 'id', 'customer_id', 'orderId', 'SKU']);
    assert.ok(!d.identifiers!.includes('year') && !d.identifiers!.includes('idle'));
    // The values themselves are read as before (a model built before identifiers were marked reads them).
    assert.equal(d.x[d.features.indexOf('id')], 1000);

    // A numeric id with a missing cell or one repeated value, or a table of too few rows: not an identifier.
    const holey = table(dir.path, 'holey.csv', { id: column((i) => (i === 3 ? '' : i)), x: column((i) => i % 3) });
    assert.equal(holey.identifiers, undefined);
    const twice = table(dir.path, 'twice.csv', { id: column((i) => (i === 5 ? 4 : i)), x: column((i) => i % 3) });
    assert.equal(twice.identifiers, undefined);
    // Text names rows while nine rows in ten or more have a value of their own (e-mail addresses with a few
    // repeats, a few missing); below that it is a category.
    const share = (n: number) => column((i) => (i < n ? `user${i}@example.com` : i % 2 ? '' : 'shared@example.com'));
    const nearly = table(dir.path, 'nearly.csv', {
      email: share(Math.ceil(NEARLY_UNIQUE * ROWS) - 1),
      x: column((i) => i % 3),
    });
    assert.deepEqual(nearly.identifiers, ['email'], `${Math.ceil(NEARLY_UNIQUE * ROWS)} distinct of ${ROWS}`);
    const grouped = table(dir.path, 'grouped.csv', {
      email: share(Math.ceil(NEARLY_UNIQUE * ROWS) - 2),
      x: column((i) => i % 3),
    });
    assert.equal(grouped.identifiers, undefined);
    const few = MIN_IDENTIFIER_ROWS - 1;
    writeFileSync(
      join(dir.path, 'few.csv'),
      `id,name,label\n${Array.from({ length: few }, (_, i) => `${i},n${i},${i % 2}`).join('\n')}\n`,
    );
    const small = openDataset({ uri: 'file:few.csv' }, { dataRoots: [dir.path], asRead: true }) as TabularDataset;
    assert.equal(small.identifiers, undefined, `${few} rows are too few to tell`);

    // A split carries the marks of its file; a features-only read (prediction inputs) marks them too.
    const test = openDataset({ uri: 'file:t.csv', split: 'test' }, { dataRoots: [dir.path] }) as TabularDataset;
    assert.deepEqual(test.identifiers, d.identifiers);
    const inputs = openPredictionInputs({ uri: 'file:t.csv' }, { dataRoots: [dir.path] });
    assert.ok(
      inputs.kind === 'tabular' && inputs.identifiers?.includes('SKU') && !inputs.identifiers.includes('label'),
    );

    // Parquet: the same rule on its typed columns.
    const schema = [
      { name: 'root', num_children: 3 },
      { name: 'row_id', type: 'INT64' as const, repetition_type: 'REQUIRED' as const },
      { name: 'amount', type: 'INT64' as const, repetition_type: 'REQUIRED' as const },
      { name: 'label', type: 'INT32' as const, repetition_type: 'REQUIRED' as const },
    ];
    const columnData = [
      // Ids past 2^24 that float32 would round together (10^12 + i).
      { name: 'row_id', data: BigInt64Array.from({ length: ROWS }, (_, i) => 10n ** 12n + BigInt(i)) },
      { name: 'amount', data: BigInt64Array.from({ length: ROWS }, (_, i) => BigInt(i * 3)) },
      { name: 'label', data: Int32Array.from({ length: ROWS }, (_, i) => i % 2) },
    ];
    writeFileSync(join(dir.path, 't.parquet'), new Uint8Array(parquetWriteBuffer({ columnData, schema })));
    const pq = openDataset({ uri: 'file:t.parquet' }, { dataRoots: [dir.path], asRead: true }) as TabularDataset;
    assert.deepEqual(pq.identifiers, ['row_id']);
  } finally {
    dir.remove();
  }
});
