// DatasetRef.ignore_columns: a table's columns left out of the features (a key that repeats, a column that leaks
// the target) are named on the dataset and nowhere else, the rows fall into the same splits as without the list,
// and every refusal names the list's entry.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Rng } from '@floe/random';
import { tempDir } from './temp-dir.js';
import { openDataset, openPredictionInputs, type FeatureTable, type TabularDataset } from '../src/index.js';

/** 400 orders: a customer id that repeats (so not an identifier), a column that copies the label, two features. */
function writeOrders(dir: string): void {
  const rng = new Rng(11);
  const lines = Array.from({ length: 400 }, (_, i) => {
    const amount = rng.normal() * 10 + 50;
    const label = amount > 50 ? 'big' : 'small';
    return `${1000 + (i % 37)},${amount.toFixed(2)},${['web', 'shop'][rng.int(2)]},${label === 'big' ? 1 : 0},${label}`;
  });
  writeFileSync(join(dir, 'orders.csv'), `customer_id,amount,channel,refund_flag,label\n${lines.join('\n')}\n`);
}

test('ignore_columns: left out of the features and recorded; the same rows in each split', () => {
  const dir = tempDir();
  try {
    writeOrders(dir.path);
    const opts = { dataRoots: [dir.path] };
    const ignoreColumns = ['refund_flag', 'customer_id'];
    const all = openDataset({ uri: 'file:orders.csv' }, opts) as TabularDataset;
    assert.deepEqual(all.features, ['customer_id', 'amount', 'channel', 'refund_flag']);
    assert.equal(all.identifiers, undefined, 'an id that repeats is not an identifier');
    const some = openDataset({ uri: 'file:orders.csv', ignoreColumns }, opts) as TabularDataset;
    assert.deepEqual(some.features, ['amount', 'channel']);
    assert.deepEqual(some.ignoredColumns, ignoreColumns);
    assert.deepEqual(some.categories, { channel: all.categories!.channel });
    assert.equal(all.ignoredColumns, undefined);
    // A row's split follows its whole content, whatever is left out: training and evaluation agree.
    for (const split of ['train', 'validation', 'test'] as const) {
      const a = openDataset({ uri: 'file:orders.csv', split }, opts) as TabularDataset;
      const b = openDataset({ uri: 'file:orders.csv', split, ignoreColumns }, opts) as TabularDataset;
      assert.equal(a.rows, b.rows, split);
      for (let r = 0; r < a.rows; r++) assert.equal(a.x[r * 4 + 1], b.x[r * 2], `${split} row ${r}: amount`);
      assert.deepEqual((a.target as { labels: Int32Array }).labels, (b.target as { labels: Int32Array }).labels, split);
    }
    // Without a column named label or target, the last is the target, named or not.
    writeFileSync(join(dir.path, 'plain.csv'), 'a,b,c,note\n1,2,3,x\n4,5,6,y\n');
    const plain = openDataset({ uri: 'file:plain.csv', targetColumn: 'c', ignoreColumns: ['note'] }, opts);
    assert.deepEqual((plain as TabularDataset).features, ['a', 'b']);
    // JSON lines go through the same reader.
    writeFileSync(join(dir.path, 'rows.jsonl'), '{"id":"a","x":1,"y":0}\n{"id":"b","x":2,"y":1}\n');
    const rows = openDataset({ uri: 'file:rows.jsonl', ignoreColumns: ['id'] }, opts) as TabularDataset;
    assert.deepEqual(rows.features, ['x']);
  } finally {
    dir.remove();
  }
});

test('ignore_columns in a table to predict: left out, and still the column the predictions are joined on', () => {
  const dir = tempDir();
  try {
    writeOrders(dir.path);
    const table = openPredictionInputs(
      { uri: 'file:orders.csv', ignoreColumns: ['customer_id', 'label'] },
      { dataRoots: [dir.path], textColumn: 'customer_id' },
    ) as FeatureTable;
    assert.deepEqual(table.features, ['amount', 'channel', 'refund_flag']);
    assert.deepEqual(table.ignoredColumns, ['customer_id', 'label']);
    assert.equal(table.rows, 400);
    assert.equal(table.columnText!.values[38], '1001');
  } finally {
    dir.remove();
  }
});

test('ignore_columns refused, named: a column the table lacks, one named twice, the target, every feature, builtins and text', () => {
  const dir = tempDir();
  try {
    writeOrders(dir.path);
    writeFileSync(join(dir.path, 'notes.txt'), 'some text\n');
    const opts = { dataRoots: [dir.path] };
    const refused = (ref: Parameters<typeof openDataset>[0], field: string, pattern: RegExp) =>
      assert.throws(
        () => openDataset(ref, opts, 'spec.dataset'),
        (e: { violations?: { field: string; description: string }[] }) =>
          e.violations?.[0]?.field === field && pattern.test(e.violations[0].description),
        `${JSON.stringify(ref)} → ${field}`,
      );
    const uri = 'file:orders.csv';
    refused(
      { uri, ignoreColumns: ['amount', 'customer'] },
      'spec.dataset.ignore_columns[1]',
      /no column "customer"; its columns: customer_id, amount/,
    );
    refused({ uri, ignoreColumns: ['amount', 'amount'] }, 'spec.dataset.ignore_columns[1]', /named twice/);
    refused(
      { uri, ignoreColumns: ['channel', 'label'] },
      'spec.dataset.ignore_columns[1]',
      /"label" is the target column \(by default.*name the column to learn in target_column/,
    );
    writeFileSync(join(dir.path, 'plain.csv'), 'a,b,note\n1,2,x\n');
    refused(
      { uri: 'file:plain.csv', ignoreColumns: ['note'] },
      'spec.dataset.ignore_columns[0]',
      /"note" is the target/,
    );
    refused(
      { uri, targetColumn: 'amount', ignoreColumns: ['amount'] },
      'spec.dataset.ignore_columns[0]',
      /"amount" is the target column/,
    );
    refused(
      { uri, ignoreColumns: ['customer_id', 'amount', 'channel', 'refund_flag'] },
      'spec.dataset.ignore_columns',
      /no column to read beside its target "label"/,
    );
    refused({ uri: 'builtin:iris', ignoreColumns: ['sepal_length'] }, 'spec.dataset.ignore_columns', /fixed features/);
    refused({ uri: 'file:notes.txt', ignoreColumns: ['x'] }, 'spec.dataset.ignore_columns', /holds text/);
  } finally {
    dir.remove();
  }
});
