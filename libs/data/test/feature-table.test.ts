// openPredictionInputs: a table read for prediction keeps every row (with or without a target) and every column,
// picks the same rows for a split as the labelled read does, and hands back an identifier column's text exactly.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Rng } from '@floe/random';
import { tempDir } from './temp-dir.js';
import {
  openDataset,
  openPredictionInputs,
  type DatasetRefInput,
  type FeatureTable,
  type PredictionInputOptions,
  type TabularDataset,
} from '../src/index.js';

/** openPredictionInputs for a table. */
function openFeatureTable(ref: DatasetRefInput, opts: PredictionInputOptions): FeatureTable {
  const inputs = openPredictionInputs(ref, opts);
  assert.equal(inputs.kind, 'tabular');
  return inputs as FeatureTable;
}

test('every row and column; a split holds the rows the labelled read puts there; ids as written', () => {
  const dir = tempDir();
  try {
    const rng = new Rng(3);
    const lines = Array.from({ length: 600 }, (_, i) => {
      const label = i % 5 === 0 ? '' : String(rng.int(3)); // a fifth of the rows have no target
      return `${12345678901234567n + BigInt(i)},${rng.normal().toFixed(4)},${['x', 'y'][rng.int(2)]},${label}`;
    });
    writeFileSync(join(dir.path, 't.csv'), `id,a,kind,label\n${lines.join('\n')}\n`);
    const opts = { dataRoots: [dir.path] };
    const all = openFeatureTable({ uri: 'file:t.csv' }, { ...opts, textColumn: 'id' });
    assert.deepEqual(all.features, ['id', 'a', 'kind', 'label']);
    assert.equal(all.rows, 600);
    assert.deepEqual(Array.from(all.rowNumbers), [...Array(600).keys()]);
    // Beyond a float's precision: the text as written.
    assert.equal(all.columnText!.values[599], '12345678901235166');
    assert.equal(all.columnText!.values[0], '12345678901234567');
    assert.deepEqual(all.categories.kind, ['x', 'y']);

    const labelled = openDataset({ uri: 'file:t.csv', split: 'test' }, opts) as TabularDataset;
    const features = openFeatureTable({ uri: 'file:t.csv', split: 'test' }, { ...opts, textColumn: 'id' });
    const rowNumbers = Array.from(features.rowNumbers);
    assert.deepEqual(
      rowNumbers,
      [...rowNumbers].sort((a, b) => a - b),
      'in file order',
    );
    // The labelled test rows are exactly the feature table's test rows that have a label.
    const withLabel = features.rowNumbers.map((_, i) => i).filter((i) => features.rowNumbers[i]! % 5 !== 0);
    const sorted = (values: number[]) => values.sort((a, b) => a - b);
    assert.deepEqual(
      sorted(Array.from({ length: labelled.rows }, (_, i) => labelled.x[i * 3 + 1]!)),
      sorted(Array.from(withLabel, (i) => features.x[i * 4 + 1]!)),
    );
    assert.ok(rowNumbers.length > 40 && rowNumbers.length < 110, `${rowNumbers.length} test rows of 600`);
    const capped = openFeatureTable({ uri: 'file:t.csv', split: 'test', maxExamples: 5 }, opts);
    assert.deepEqual(Array.from(capped.rowNumbers), rowNumbers.slice(0, 5));

    assert.throws(
      () => openFeatureTable({ uri: 'file:t.csv' }, { ...opts, textColumn: 'customer', textField: 'id_column' }),
      (e: Error) => /id_column/.test(JSON.stringify(e)) || /customer/.test(e.message),
    );
    writeFileSync(join(dir.path, 'notes.txt'), 'text\n');
    assert.throws(
      () => openFeatureTable({ uri: 'file:notes.txt' }, opts),
      /predictions are made for the rows of a table/,
    );
  } finally {
    dir.remove();
  }
});

test('a builtin table without its target; a one-column file', () => {
  const iris = openFeatureTable({ uri: 'builtin:iris' }, { dataRoots: [], textColumn: 'sepal_length' });
  const labelled = openDataset({ uri: 'builtin:iris' }, { dataRoots: [] }) as TabularDataset;
  assert.deepEqual(iris.features, labelled.features);
  assert.equal(iris.rows, labelled.rows);
  assert.equal(iris.columnText!.values.length, iris.rows);
  const dir = tempDir();
  try {
    writeFileSync(join(dir.path, 'one.csv'), 'size\n1.5\n\n2\n');
    const one = openFeatureTable({ uri: 'file:one.csv' }, { dataRoots: [dir.path] });
    assert.deepEqual(one.features, ['size']);
    assert.deepEqual(Array.from(one.x), [1.5, 2]);
  } finally {
    dir.remove();
  }
});

test('target_column: any column of a file table is the target; an unknown one, a builtin or text is refused, named', () => {
  const dir = tempDir();
  try {
    const rng = new Rng(4);
    const lines = Array.from({ length: 300 }, () => {
      const size = rng.normal();
      return `${size.toFixed(3)},${(3 * size + 1).toFixed(3)},${['a', 'b'][rng.int(2)]}`;
    });
    // A column named "label" would be the target by default; the price is asked for.
    writeFileSync(join(dir.path, 'homes.csv'), `size,price,label\n${lines.join('\n')}\n`);
    const opts = { dataRoots: [dir.path] };
    const byDefault = openDataset({ uri: 'file:homes.csv' }, opts) as TabularDataset;
    assert.equal(byDefault.target.type, 'class');
    assert.deepEqual(byDefault.features, ['size', 'price']);
    const price = openDataset({ uri: 'file:homes.csv', targetColumn: 'price' }, opts) as TabularDataset;
    assert.deepEqual(price.features, ['size', 'label']);
    assert.equal(price.target.type, 'regression');
    assert.deepEqual((price.target as { names: string[] }).names, ['price']);
    const y = (price.target as { y: Float32Array }).y;
    for (let i = 0; i < price.rows; i++) assert.ok(Math.abs(y[i]! - (3 * price.x[i * 2]! + 1)) < 2e-3, `row ${i}`);
    // The same rows in each split whatever the target (a row's key is its content).
    const test = (t?: string) => openDataset({ uri: 'file:homes.csv', split: 'test', targetColumn: t }, opts);
    assert.deepEqual(
      Array.from((test('price') as TabularDataset).x.filter((_, i) => i % 2 === 0)),
      Array.from((test() as TabularDataset).x.filter((_, i) => i % 2 === 0)),
    );
    const refused = (ref: { uri: string; targetColumn: string }, pattern: RegExp) =>
      assert.throws(
        () => openDataset(ref, opts, 'spec.dataset'),
        (e: { violations?: { field: string; description: string }[] }) =>
          e.violations?.[0]?.field === 'spec.dataset.target_column' && pattern.test(e.violations[0].description),
      );
    refused({ uri: 'file:homes.csv', targetColumn: 'rent' }, /no column "rent"; its columns: size, price, label/);
    refused({ uri: 'builtin:iris', targetColumn: 'species' }, /fixed target/);
    writeFileSync(join(dir.path, 'notes.txt'), 'text\n');
    refused({ uri: 'file:notes.txt', targetColumn: 'x' }, /holds text/);
  } finally {
    dir.remove();
  }
});
