// Example batches: a replay fraction drawn from old-domain examples in its own seeded order, labels meeting
// the model's classes by name, and a cursor that restores exactly (also from a checkpoint written before
// replay existed).
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { initBackend } from '@floe/ml-runtime';
import type { TabularDataset } from '@floe/data';
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '@floe/random';
import {
  ExampleSource,
  MAX_ONE_HOT,
  missingIndicatorName,
  OTHER_CATEGORY,
  alignClasses,
  alignFeatures,
  builtinShape,
  growClasses,
  growToData,
  mismatch,
  schemaOf,
} from '../src/index.js';
import { buildModel, describeModel } from '@floe/models';

before(async () => {
  await initBackend('wasm');
});

/** A table whose single feature is its row's value and whose classes are named per row. */
function table(name: string, values: number[], names: string[]): TabularDataset {
  const classes = [...new Set(names)].sort();
  return {
    kind: 'tabular',
    name,
    features: ['v'],
    x: Float32Array.from(values),
    rows: values.length,
    target: { type: 'class', labels: Int32Array.from(names, (n) => classes.indexOf(n)), classes },
  };
}

const batch = (s: ExampleSource) => {
  const b = s.next();
  const out = { x: Array.from(b.x.dataSync()), y: Array.from(b.y.dataSync()) };
  b.x.dispose();
  b.y.dispose();
  return out;
};

test('replay: a fraction of every batch comes from the old examples; the cursor of both restores exactly', () => {
  const fresh = table('new', [1, 2, 3, 4, 5, 6, 7, 8], ['b', 'c', 'b', 'c', 'b', 'c', 'b', 'c']);
  const old = table('old', [-1, -2, -3, -4], ['a', 'b', 'a', 'b']);
  const classNames = builtinShape('mlp', fresh, old).overrides.classNames as string[];
  assert.deepEqual(classNames, ['a', 'b', 'c'], 'the shaped model predicts the classes of both tables');
  const source = new ExampleSource(fresh, 8, 3, { replay: { data: old, fraction: 0.25 }, schema: { classNames } });
  const first = batch(source);
  // round(0.25 · 8) = 2 rows of every batch are old (negative values), the other 6 new.
  assert.equal(first.x.filter((v) => v < 0).length, 2);
  assert.deepEqual(
    first.x.slice(6).every((v) => v < 0),
    true,
  );
  // Labels by name: new b / c are 1 / 2 (their own table numbered them 0 / 1), old a / b are 0 / 1.
  first.x.forEach((v, i) => {
    const name = v > 0 ? (v % 2 ? 'b' : 'c') : -v % 2 ? 'a' : 'b';
    assert.equal(classNames[first.y[i]!], name, `row ${v}`);
  });
  const state = JSON.parse(JSON.stringify(source.getState())) as unknown;
  const after = [batch(source), batch(source)];
  const restored = new ExampleSource(fresh, 8, 99, { replay: { data: old, fraction: 0.25 }, schema: { classNames } });
  restored.setState(state);
  assert.deepEqual([batch(restored), batch(restored)], after);
  // A cursor saved without replay (older checkpoints) restores the main order.
  const plain = new ExampleSource(fresh, 4, 5);
  const plainState = plain.getState();
  const expected = batch(plain);
  const again = new ExampleSource(fresh, 4, 6);
  again.setState(plainState);
  assert.deepEqual(batch(again), expected);
});

test("classes by name: a table without one of the model's classes keeps its meaning; an unknown class is refused", () => {
  const classNames = ['a', 'b', 'c'];
  const withoutA = table('t', [1, 2, 3], ['b', 'c', 'b']);
  assert.deepEqual(Array.from(withoutA.target.type === 'class' ? withoutA.target.labels : []), [0, 1, 0]);
  const aligned = alignClasses(withoutA, classNames, 'dataset');
  assert.ok(aligned.target.type === 'class');
  assert.deepEqual([Array.from(aligned.target.labels), aligned.target.classes], [[1, 2, 1], classNames]);
  assert.throws(
    () => alignClasses(table('u', [1], ['d']), classNames, 'dataset'),
    /dataset: has class "d", which the model does not predict \(its classes: a, b, c\)/,
  );
  const model = {
    ...describeModel('mlp', 'small', 1, { inputs: 1, outputs: 3, classNames }),
    task: 'classification' as const,
  };
  assert.equal(mismatch(model, withoutA), undefined);
  // A model with class names grows by a new class (growClasses) rather than refusing it; one without names
  // (an older checkpoint) reads labels by position and cannot take more classes than outputs.
  assert.equal(mismatch(model, table('u', [1, 2, 3, 4], ['a', 'b', 'c', 'd'])), undefined);
  const unnamed = { ...describeModel('mlp', 'small', 1, { inputs: 1, outputs: 3 }), task: 'classification' as const };
  assert.match(
    mismatch(unnamed, table('u', [1, 2, 3, 4], ['a', 'b', 'c', 'd']))!,
    /predicts 3 classes; the data has 4/,
  );
});

test('a new class grows the head: old logits unchanged for every input, the new one imprinted from its examples', async () => {
  const rng = new Rng(3);
  // Two features; class d sits far out on the first.
  const rows = Array.from({ length: 120 }, (_, i) => {
    const cls = ['a', 'b', 'c', 'd'][i % 4]!;
    return { x: [rng.normal() + (cls === 'd' ? 4 : cls === 'a' ? -2 : 0), rng.normal() + (cls === 'b' ? 2 : 0)], cls };
  });
  const tableOf = (name: string, picked: typeof rows): TabularDataset => {
    const classes = [...new Set(picked.map((r) => r.cls))].sort();
    return {
      kind: 'tabular',
      name,
      features: ['x0', 'x1'],
      x: Float32Array.from(picked.flatMap((r) => r.x)),
      rows: picked.length,
      target: { type: 'class', labels: Int32Array.from(picked, (r) => classes.indexOf(r.cls)), classes },
    };
  };
  const old = tableOf(
    'old',
    rows.filter((r) => r.cls !== 'd'),
  );
  const all = tableOf('all', rows);
  const shape = builtinShape('mlp', old);
  const model = buildModel('mlp', 'small', 4, shape.overrides);
  assert.equal(growClasses(model, [old]), model, 'nothing new: the same model');
  const inputs = tf.tensor2d(
    Float32Array.from({ length: 64 * 2 }, () => 3 * rng.normal()),
    [64, 2],
  );
  const before = model.forward(inputs).arraySync() as number[][];
  const grown = growClasses(model, [all]);
  assert.deepEqual(grown.spec.config.classNames, ['a', 'b', 'c', 'd']);
  assert.equal(grown.spec.config.outputs, 4);
  const after = grown.forward(inputs).arraySync() as number[][];
  for (let i = 0; i < 64; i++) for (let k = 0; k < 3; k++) assert.equal(after[i]![k], before[i]![k]);
  // The imprinted output scores its own class's examples above the others'.
  const logits = grown.forward(tf.tensor2d(all.x, [all.rows, 2])).arraySync() as number[][];
  const labels = (all.target as { labels: Int32Array }).labels;
  const mean = (pick: (l: number) => boolean) => {
    const xs = logits.filter((_, i) => pick(labels[i]!)).map((l) => l[3]!);
    return xs.reduce((a, v) => a + v, 0) / xs.length;
  };
  assert.ok(
    mean((l) => l === 3) > mean((l) => l !== 3) + 0.5,
    `new logit on d ${mean((l) => l === 3)}, on others ${mean((l) => l !== 3)}`,
  );
  grown.dispose();
  inputs.dispose();
});

test('the imprint reads the whole file: a file sorted by class grows the same head as the same rows shuffled', () => {
  const rng = new Rng(5);
  const classes = ['a', 'b', 'c', 'd'];
  // Class means not on one line, so m_d − m_a and m_d − m̄ point different ways.
  const centres = [
    [0, 0],
    [4, 0],
    [0, 4],
    [2, -3],
  ];
  // 1,200 rows, sorted by class: the first 256 are all 'a', so an imprint over the first rows sees one class.
  const sorted = classes.flatMap((cls, k) =>
    Array.from({ length: 300 }, () => ({ x: [rng.normal() + centres[k]![0]!, rng.normal() + centres[k]![1]!], cls })),
  );
  const order = sorted.map((_, i) => i);
  for (let i = order.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  const tableOf = (picked: typeof sorted): TabularDataset => {
    const present = classes.filter((c) => picked.some((r) => r.cls === c));
    return {
      kind: 'tabular',
      name: 'rows',
      features: ['x0', 'x1'],
      x: Float32Array.from(picked.flatMap((r) => r.x)),
      rows: picked.length,
      target: { type: 'class', labels: Int32Array.from(picked, (r) => present.indexOf(r.cls)), classes: present },
    };
  };
  const old = tableOf(sorted.filter((r) => r.cls !== 'd'));
  const newColumn = (rows: typeof sorted) => {
    const grown = growClasses(buildModel('mlp', 'small', 4, builtinShape('mlp', old).overrides), [tableOf(rows)]);
    const head = grown.block('head');
    const w = head.params.find((p) => p.name === 'head.w')!.variable;
    const [hidden, outputs] = w.shape as [number, number];
    const values = w.dataSync();
    const column = Array.from({ length: hidden }, (_, h) => values[h * outputs + outputs - 1]!);
    const bias = head.params.find((p) => p.name === 'head.b')!.variable.dataSync()[outputs - 1]!;
    assert.equal(outputs, 4, 'grown by d');
    grown.dispose();
    return { column, bias };
  };
  const fromSorted = newColumn(sorted);
  const fromShuffled = newColumn(order.map((i) => sorted[i]!));
  const dot = (u: number[], v: number[]) => u.reduce((s, x, i) => s + x * v[i]!, 0);
  const cosine =
    dot(fromSorted.column, fromShuffled.column) /
    Math.sqrt(dot(fromSorted.column, fromSorted.column) * dot(fromShuffled.column, fromShuffled.column));
  assert.ok(cosine > 0.99, `the new class's weights from sorted and shuffled rows: cosine ${cosine}`);
  assert.ok(Math.abs(fromSorted.bias - fromShuffled.bias) < 0.1, `biases ${fromSorted.bias} and ${fromShuffled.bias}`);
});

test('columns by name: reordered columns and recoded categories reach the model as it was trained', () => {
  const schema = { featureNames: ['a', 'c'], categories: { c: ['red', 'blue'] } };
  // The same two rows as the model's table (a = 1, c = red; a = 2, c = blue) plus a colour it never saw, with
  // the columns swapped and the colours coded in another order.
  const data: TabularDataset = {
    kind: 'tabular',
    name: 'later',
    features: ['c', 'a'],
    x: Float32Array.from([1, 1, 0, 2, 2, 3]),
    rows: 3,
    target: { type: 'regression', y: Float32Array.from([0, 0, 0]), names: ['y'] },
    categories: { c: ['blue', 'red', 'green'] },
  };
  const aligned = alignFeatures(data, schema, 'dataset');
  assert.deepEqual(aligned.features, ['a', 'c']);
  assert.deepEqual(
    Array.from(aligned.x).map((v) => (Number.isNaN(v) ? 'NaN' : v)),
    [1, 0, 2, 1, 3, 'NaN'],
  );
  // A model that read a date column as categories (before dates were days) meets the days by its dates.
  const days = (iso: string) => Date.parse(iso) / 86_400_000;
  const dated = alignFeatures(
    {
      ...data,
      features: ['a', 'c'],
      categories: {},
      dates: ['c'],
      x: Float32Array.from([1, days('2024-01-02'), 2, days('2024-01-01'), 3, days('2024-01-03')]),
    },
    { featureNames: ['a', 'c'], categories: { c: ['2024-01-01', '2024-01-02'] } },
    'dataset',
  );
  assert.deepEqual(
    Array.from(dated.x).map((v) => (Number.isNaN(v) ? 'NaN' : v)),
    [1, 1, 2, 0, 3, 'NaN'],
  );
  // A checkpoint from before Parquet timestamps were read as days read them as milliseconds since 1970: its
  // centre for the column (~1.7·10^12) says so, and it meets the days in milliseconds. One that records its date
  // columns reads days as they are, whatever its centre.
  const timestamped = {
    ...data,
    features: ['a', 'c'],
    categories: {},
    dates: ['c'],
    x: Float32Array.from([1, days('2024-01-02'), 2, NaN, 3, days('2024-01-03T12:00Z')]),
  };
  const legacy = { featureNames: ['a', 'c'], featureFill: [2, Date.parse('2024-01-02')] };
  assert.deepEqual(
    Array.from(alignFeatures(timestamped, legacy, 'dataset').x).map((v) => (Number.isNaN(v) ? 'NaN' : v)),
    [1, Math.fround(Date.parse('2024-01-02')), 2, 'NaN', 3, Math.fround(Date.parse('2024-01-03T12:00Z'))],
  );
  for (const recorded of [
    { ...legacy, dateColumns: ['c'] },
    { ...legacy, featureFill: [2, days('2024-01-02')] }, // a column of days (read from a CSV's dates)
  ])
    assert.equal(alignFeatures(timestamped, recorded, 'dataset').x, timestamped.x);
  assert.throws(
    () => alignFeatures({ ...data, features: ['c', 'b'] }, schema, 'dataset'),
    /dataset: has the columns c, b; the model reads a, c \(missing: a\) \(not read: b\)/,
  );
  // A fresh MLP shaped by a table records its columns and categories.
  const shaped = builtinShape('mlp', {
    ...data,
    target: { type: 'class', labels: Int32Array.from([0, 1, 0]), classes: ['x', 'y'] },
  });
  assert.deepEqual(
    [shaped.overrides.featureNames, shaped.overrides.featureCategories, shaped.overrides.featureDates],
    [['c', 'a'], { c: ['blue', 'red', 'green'] }, []],
  );
  assert.deepEqual(builtinShape('mlp', timestamped).overrides.featureDates, ['c']);
});

test('identifiers: a fresh MLP does not read them and records them; later tables may carry them; a model that read one still does', () => {
  // Columns: id (an identifier), sku (a text identifier), grams. Three rows of a file that marked both ids.
  const data: TabularDataset = {
    kind: 'tabular',
    name: 'orders.csv',
    features: ['id', 'sku', 'grams'],
    x: Float32Array.from([101, 0, 1000, 102, 1, 3000, 103, 2, 2000]),
    rows: 3,
    categories: { sku: ['a-1', 'b-2', 'c-3'] },
    identifiers: ['id', 'sku'],
    target: { type: 'regression', y: Float32Array.from([1, 2, 3]), names: ['y'] },
  };
  const { overrides, task } = builtinShape('mlp', data);
  assert.deepEqual(
    [overrides.inputs, overrides.featureNames, overrides.featureIgnored, overrides.featureCategories],
    [1, ['grams'], ['id', 'sku'], {}],
  );
  const near = (a: unknown, b: number[]) =>
    assert.ok(
      (a as number[]).every((v, i) => Math.abs(v - b[i]!) < 1e-9),
      JSON.stringify(a),
    );
  near(overrides.inputShift, [2000]); // the moments of grams alone
  const model = buildModel('mlp', 'small', 1, overrides, task);
  assert.equal(mismatch(model, data), undefined);
  assert.deepEqual(batch(new ExampleSource(data, 3, 0, { schema: schemaOf(model) })).x.sort(), [1000, 2000, 3000]);
  // A later table whose ids are not marked (a few rows, ids that repeat) meets the model too: it recorded them.
  const later = { ...data, identifiers: undefined, x: Float32Array.from([7, 0, 500, 7, 1, 700, 8, 2, 900]) };
  assert.equal(mismatch(model, later), undefined);
  assert.deepEqual(Array.from(alignFeatures(later, schemaOf(model), 'dataset').x), [500, 700, 900]);
  // Another column it does not read is still named.
  assert.match(mismatch(model, { ...later, features: ['id', 'sku', 'grams', 'colour'] }) ?? '', /also has colour/);
  model.dispose();

  // A model built before identifiers were marked reads its id column as it did.
  const legacy = { featureNames: ['id', 'sku', 'grams'], categories: { sku: ['a-1', 'b-2', 'c-3'] } };
  assert.deepEqual(Array.from(alignFeatures(data, legacy, 'dataset').x), Array.from(data.x));

  // A table of identifiers alone has nothing to learn from.
  assert.throws(
    () => builtinShape('mlp', { ...data, features: ['id', 'sku'], x: Float32Array.from([1, 0, 2, 1, 3, 2]) }),
    (e: Error & { violations?: { field: string }[] }) =>
      e.violations?.[0]?.field === 'dataset' &&
      /every feature column of orders.csv identifies rows \(id, sku/.test(e.message),
  );
});

test('5/1/2024-style dates: a table whose cells do not say which is the day follows the order the model learned', () => {
  const days = (iso: string) => Date.parse(iso) / 86_400_000;
  // The training table's column decided month first (a 13th somewhere); the model records it.
  const trained: TabularDataset = {
    kind: 'tabular',
    name: 'us.csv',
    features: ['at'],
    x: Float32Array.from([days('2024-05-01'), days('2024-01-13')]),
    rows: 2,
    dates: ['at'],
    dateOrders: { at: { order: 'mdy', decided: true } },
    target: { type: 'regression', y: Float32Array.from([1, 2]), names: ['y'] },
  };
  const { overrides } = builtinShape('mlp', trained);
  assert.deepEqual(overrides.featureDateOrders, { at: 'mdy' });
  const schema = schemaOf({
    task: 'regression',
    spec: { architecture: 'mlp', size: 'small', seed: 0, config: overrides },
  });
  // A later ";" file wrote 5/1/2024 and 3/2/2024 10:30 (no day past 12) and read them day first: they swap back.
  const later = {
    ...trained,
    name: 'later.csv',
    x: Float32Array.from([days('2024-01-05'), days('2024-02-03T10:30Z')]),
    dateOrders: { at: { order: 'dmy' as const, decided: false } },
  };
  const aligned = alignFeatures(later, schema, 'dataset');
  assert.deepEqual(Array.from(aligned.x), [days('2024-05-01'), days('2024-03-02T10:30Z')].map(Math.fround));
  assert.equal(alignFeatures(aligned, schema, 'dataset').x, aligned.x, 'aligned twice, swapped once');
  // A table whose cells decided day first (a 13th) is read as written: it said so itself.
  const decided = { ...later, dateOrders: { at: { order: 'dmy' as const, decided: true } } };
  assert.equal(alignFeatures(decided, schema, 'dataset').x, decided.x);
  // A model that read the column as categories (before such dates were dates) meets the days by its categories'
  // dates, read in the table's order.
  const legacy = { featureNames: ['at'], categories: { at: ['5/1/2024', '1/13/2024'] } };
  const legacyTable = {
    ...trained,
    x: Float32Array.from([days('2024-01-13'), days('2024-05-01'), days('2024-06-01')]),
    rows: 3,
  };
  assert.deepEqual(
    Array.from(alignFeatures(legacyTable, legacy, 'dataset').x).map((v) => (Number.isNaN(v) ? 'NaN' : v)),
    [1, 0, 'NaN'],
  );
});

test("an MLP's shape records each column's mean and spread over its values; a missing value enters at the mean", () => {
  const data: TabularDataset = {
    kind: 'tabular',
    name: 'moments',
    features: ['grams', 'constant', 'empty'],
    // grams: 1000, 3000, missing, 2000 (mean 2000, σ √(2/3)·1000); constant: 7; empty: no value.
    x: Float32Array.from([1000, 7, NaN, 3000, 7, NaN, NaN, 7, NaN, 2000, 7, NaN]),
    rows: 4,
    target: { type: 'regression', y: Float32Array.from([1, 2, 3, 6]), names: ['y'] },
  };
  const { overrides, task } = builtinShape('mlp', data);
  assert.equal(task, 'regression');
  const near = (a: unknown, b: number[]) =>
    assert.ok(
      (a as number[]).every((v, i) => Math.abs(v - b[i]!) < 1e-9),
      `${JSON.stringify(a)} against ${JSON.stringify(b)}`,
    );
  // Then whether grams and the empty column are missing: a quarter of the rows, and every one.
  near(overrides.inputShift, [2000, 7, 0, 0.25, 1]);
  near(overrides.inputScale, [Math.sqrt(2 / 3) * 1000, 1, 1, Math.sqrt(0.25 * 0.75), 1]);
  near(overrides.outputShift, [3]);
  near(overrides.outputScale, [Math.sqrt(3.5)]);
  // The model's schema carries the fill: the missing grams enters as 2000, the empty column as 0.
  const model = buildModel('mlp', 'small', 1, overrides, task);
  const { x } = batch(new ExampleSource(data, 4, 0, { schema: schemaOf(model) }));
  const column = (j: number) => x.filter((_, i) => i % 5 === j).sort((a, b) => a - b);
  assert.deepEqual(
    [column(0), column(2), column(3), column(4)],
    [
      [1000, 2000, 2000, 3000],
      [0, 0, 0, 0],
      [0, 0, 0, 1],
      [1, 1, 1, 1],
    ],
  );
  model.dispose();
});

test('a categorical column of at most MAX_ONE_HOT values is read one-hot; its missing or unknown values as no category', () => {
  const many = Array.from({ length: MAX_ONE_HOT + 1 }, (_, i) => `id${i}`);
  const data: TabularDataset = {
    kind: 'tabular',
    name: 'cats',
    features: ['colour', 'size', 'customer'],
    x: Float32Array.from([0, 1.5, 3, 2, 2.5, 64, NaN, 3.5, 0, 1, NaN, 7]),
    rows: 4,
    categories: { colour: ['red', 'green', 'blue'], customer: many },
    target: { type: 'class', labels: Int32Array.from([0, 1, 0, 1]), classes: ['a', 'b'] },
  };
  const { overrides } = builtinShape('mlp', data);
  // Customer has too many values, none met twice: every one reads as "other", one code; size is also read as
  // whether it is missing.
  assert.deepEqual(overrides.inputCategories, [3, 0, 0, 0]);
  assert.deepEqual((overrides.featureCategories as Record<string, string[]>).customer, [OTHER_CATEGORY]);
  const model = buildModel('mlp', 'small', 1, overrides);
  const schema = schemaOf(model);
  // Missing colour: no category (−1); missing size: its mean (2.5), its indicator at a quarter of the rows.
  assert.deepEqual(schema.featureFill, [-1, 2.5, 0, 0.25]);
  const { x } = batch(new ExampleSource(data, 4, 0, { schema }));
  const colours = x.filter((_, i) => i % 4 === 0).sort((a, b) => a - b);
  assert.deepEqual(colours, [-1, 0, 1, 2]);
  model.dispose();
});

test('a column of more than MAX_ONE_HOT values: one-hot on its most frequent met twice and "other" for the rest, new values included; missing ones as no category', () => {
  // 200 values: value i is met 200 − i times in the training table (ties broken by the order met), the last 100
  // once; the replay brings 5 more, one of them often.
  const rng = new Rng(5);
  const values = Array.from({ length: 200 }, (_, i) => `v${i}`);
  const cells: number[] = [];
  values.forEach((_, i) => {
    for (let k = 0; k < (i < 100 ? 200 - i : 1); k++) cells.push(i);
  });
  for (let i = cells.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [cells[i], cells[j]] = [cells[j]!, cells[i]!];
  }
  cells[0] = NaN; // one missing
  const rows = cells.length;
  const data: TabularDataset = {
    kind: 'tabular',
    name: 'wide',
    features: ['size', 'shop'],
    x: Float32Array.from(cells.flatMap((c, r) => [r % 7, c])),
    rows,
    categories: { shop: values },
    target: { type: 'class', labels: Int32Array.from(cells, (_, r) => r % 2), classes: ['a', 'b'] },
  };
  const replay: TabularDataset = {
    ...data,
    name: 'replay',
    x: Float32Array.from(Array.from({ length: 500 }, (_, r) => [r % 7, r % 2 === 0 ? 0 : 1 + (r % 5)]).flat()),
    rows: 500,
    categories: { shop: ['r0', 'r1', 'r2', 'r3', 'r4', 'r5'] },
    target: { type: 'class', labels: new Int32Array(500), classes: ['a', 'b'] },
  };
  const { overrides } = builtinShape('mlp', data, replay);
  const listed = (overrides.featureCategories as Record<string, string[]>).shop!;
  // r0 (250 rows in the replay) ranks first; then v0 … v61, in the order the table named them, and "other".
  assert.deepEqual(listed, [...values.slice(0, 62), 'r0', OTHER_CATEGORY]);
  assert.deepEqual(overrides.inputCategories, [0, MAX_ONE_HOT]);
  const model = buildModel('mlp', 'small', 1, overrides);
  const schema = schemaOf(model);
  // A later table names its values its own way: listed ones read as theirs, others — rare or new — as "other",
  // missing ones as no category.
  const later: TabularDataset = {
    ...data,
    name: 'later',
    x: Float32Array.from([0, 0, 1, 1, 2, 2, 3, NaN]),
    rows: 4,
    categories: { shop: ['v5', 'v150', 'never seen', 'r0'] },
    target: { type: 'class', labels: new Int32Array(4), classes: ['a', 'b'] },
  };
  const aligned = alignFeatures(later, schema, 'dataset');
  assert.deepEqual(
    Array.from(aligned.x).filter((_, i) => i % 2 === 1),
    [5, 63, 63, NaN],
  );
  // A table of only listed values with the model's own codes still meets "other" for nothing else: unchanged.
  assert.equal(growToData(model, [later]), model, 'a column with "other" does not grow: it already reads new values');
  model.dispose();
});

test('a numeric column with missing values is also read as whether it is missing: an input after the columns, added by alignFeatures once', () => {
  const data: TabularDataset = {
    kind: 'tabular',
    name: 'gaps',
    features: ['colour', 'size', 'weight'],
    x: Float32Array.from([0, 1, NaN, 1, NaN, 2, NaN, 3, 4, 1, 5, 6]),
    rows: 4,
    categories: { colour: ['red', 'green'] },
    target: { type: 'class', labels: Int32Array.from([0, 1, 0, 1]), classes: ['a', 'b'] },
  };
  const { overrides } = builtinShape('mlp', data);
  // colour's missing value is its own state already (no category); size and weight get an input each.
  assert.deepEqual(overrides.featureMissingIndicators, ['size', 'weight']);
  assert.equal(overrides.inputs, 5);
  assert.deepEqual(overrides.inputCategories, [2, 0, 0, 0, 0]);
  const model = buildModel('mlp', 'small', 1, overrides);
  const schema = schemaOf(model);
  assert.deepEqual(schema.featureNames, ['colour', 'size', 'weight']);
  // A later table, its columns in another order, weight never missing: its indicator reads 0.
  const later: TabularDataset = {
    ...data,
    features: ['weight', 'size', 'colour'],
    x: Float32Array.from([7, NaN, 1, 8, 9, 0]),
    rows: 2,
  };
  const aligned = alignFeatures(later, schema, 'dataset');
  assert.deepEqual(aligned.features, [
    'colour',
    'size',
    'weight',
    missingIndicatorName('size'),
    missingIndicatorName('weight'),
  ]);
  assert.deepEqual(Array.from(aligned.x), [1, NaN, 7, 1, 0, 0, 9, 8, 0, 0]);
  assert.equal(alignFeatures(aligned, schema, 'dataset'), aligned, 'aligned twice: as it is');
  // The model reads them: a batch is five inputs wide, a missing size enters at its mean beside its indicator.
  const { x } = batch(new ExampleSource(later, 2, 0, { schema }));
  assert.equal(x.length, 10);
  assert.equal(model.forward(tf.tensor2d(x, [2, 5]), { training: false }).shape[0], 2);
  model.dispose();
});

test('new categories grow the one-hot inputs: every old output unchanged, the new categories read on rows of their own', () => {
  const many = Array.from({ length: MAX_ONE_HOT - 1 }, (_, i) => `id${i}`);
  const old: TabularDataset = {
    kind: 'tabular',
    name: 'old',
    features: ['colour', 'size', 'shop', 'shape'],
    x: Float32Array.from([0, 1.5, 0, 0, 2, 2.5, 5, 1, 1, 3.5, 62, 0]),
    rows: 3,
    categories: { colour: ['red', 'green', 'blue'], shop: many, shape: ['round', 'square'] },
    target: { type: 'class', labels: Int32Array.from([0, 1, 0]), classes: ['a', 'b'] },
  };
  const model = buildModel('mlp', 'small', 3, builtinShape('mlp', old).overrides);
  assert.equal(growToData(model, [old]), model, 'nothing new: the same model');
  // The later table numbers its categories its own way and brings purple, three shops (one past the cap) and a
  // hexagon.
  const later: TabularDataset = {
    ...old,
    name: 'later',
    x: Float32Array.from([0, 1, 3, 1, 1, 2, 0, 0, 2, 3, 1, 2]),
    categories: {
      colour: ['purple', 'red', 'blue'],
      shop: ['id0', 'new1', 'new2', 'new3'],
      shape: ['square', 'round', 'hexagon'],
    },
  };
  const oldOutputs = (m: typeof model, rows: number[][]) =>
    tf.tidy(() => Array.from(m.forward(tf.tensor2d(rows), { training: false }).dataSync()));
  // Inputs the old model can read: every known code of every column, missing ones, sizes anywhere.
  const rng = new Rng(7);
  const known = Array.from({ length: 64 }, () => [
    rng.int(4) - 1,
    rng.uniform(-3, 6),
    rng.int(MAX_ONE_HOT) - 1,
    rng.int(3) - 1,
  ]);
  const before = oldOutputs(model, known);
  const grown = growToData(model, [later]);
  const config = grown.spec.config;
  assert.deepEqual(config.inputCategories, [4, 0, MAX_ONE_HOT, 3]);
  assert.deepEqual(config.featureCategories, {
    colour: ['red', 'green', 'blue', 'purple'],
    shop: [...many, 'new1'],
    shape: ['round', 'square', 'hexagon'],
  });
  const after = oldOutputs(grown, known);
  assert.ok(
    before.every((v, i) => Math.abs(v - after[i]!) < 1e-5),
    `old outputs moved by ${Math.max(...before.map((v, i) => Math.abs(v - after[i]!)))}`,
  );
  // The later table reaches the grown model with purple, new1 and hexagon coded; new2 and new3 are missing.
  const { x } = batch(new ExampleSource(later, 3, 0, { schema: schemaOf(grown) }));
  const rows = [0, 1, 2].map((r) => x.slice(r * 4, r * 4 + 4)).sort((a, b) => a[1]! - b[1]!);
  assert.deepEqual(
    rows.map((r) => [r[0], r[2], r[3]]),
    [
      [3, -1, 0],
      [0, 0, 1],
      [2, MAX_ONE_HOT - 1, 2],
    ],
  );
  // Until training moves them the new rows are zero: purple reads as no colour; and the loss reaches them.
  const purple = oldOutputs(grown, [[3, 1, 0, 0]]);
  const none = oldOutputs(grown, [[-1, 1, 0, 0]]);
  assert.ok(purple.every((v, i) => Math.abs(v - none[i]!) < 1e-6));
  const first = grown.block('dense.0').params.find((p) => p.name === 'dense.0.w')!.variable;
  const { grads } = tf.variableGrads(
    () => tf.sum(grown.forward(tf.tensor2d([[3, 1, 0, 2]]), { training: true })),
    [first],
  );
  const units = first.shape[1]!;
  const g = grads[first.name]!.dataSync();
  const rowNorm = (r: number) => Math.hypot(...g.subarray(r * units, (r + 1) * units));
  // Rows: size 0, colour 1–4 (purple 4), shop 5–68, shape 69–71 (hexagon 71).
  assert.deepEqual(
    [1, 2, 3, 4, 71].map((r) => rowNorm(r) > 0),
    [false, false, false, true, true],
  );
  tf.dispose(grads);
  model.dispose();
  grown.dispose();
});
