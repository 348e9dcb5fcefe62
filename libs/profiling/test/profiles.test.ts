// Profiles on hand-checked inputs and on the builtin datasets.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { finishYielding, loadBuiltin, loadFile, type ImageDataset, type TabularDataset } from '@floe/data';
import { tempDir, turnsDuring } from '@floe/testing';
import { MAX_LISTED_CATEGORIES, TextProfiler, compareDatasets, profileImages, profileTabular } from '../src/index.js';

const utf8 = (s: string) => new TextEncoder().encode(s);

test('text profile: bytes, characters, words, bigrams, duplicates and invalid UTF-8 counted exactly', () => {
  const p = new TextProfiler();
  for (const d of [
    utf8('ab ab'),
    utf8('ab ab'),
    utf8('é'),
    new Uint8Array([0xff, 0x61]),
    new Uint8Array([0xed, 0xa0, 0x80]),
  ])
    p.add(d);
  const r = p.finish(4);
  assert.equal(r.documents, 5);
  assert.equal(r.bytes, 5 + 5 + 2 + 2 + 3);
  assert.equal(r.byteCounts[0x61], 5);
  assert.equal(r.byteCounts[0x20], 2);
  assert.equal(r.duplicateRate, 1 / 5);
  // 0xff is invalid; the encoded surrogate U+D800 (ed a0 80) is three invalid bytes.
  assert.equal(r.invalidUtf8Rate, 4 / 17);
  // Characters: a ×5, b ×4, space ×2, é ×1 — the invalid bytes are not characters.
  const counts = [5, 4, 2, 1];
  const total = 12;
  const h = -counts.reduce((s, c) => s + (c / total) * Math.log2(c / total), 0);
  assert.ok(Math.abs(r.charEntropyBits - h) < 1e-12);
  assert.equal(r.distinctChars, 4);
  // Words: "ab", "é", "\xffa", "\xed\xa0\x80".
  assert.equal(r.vocabularySize, 4);
  // Bigrams: ab, b␠, ␠a, c3 a9, ff 61, ed a0, a0 80.
  assert.equal(r.bigramCoverage, 7 / 65536);
  assert.deepEqual(r.lengthQuantiles.slice(0, 1), [2]);
  assert.equal(
    r.lengthHistogram.counts.reduce((a, b) => a + b, 0),
    5,
  );
});

test('tabular and image profiles of builtin data: types, missing values, correlations, channels, classes', () => {
  const penguins = loadBuiltin('penguins') as TabularDataset;
  const t = profileTabular(penguins);
  assert.equal(t.rows, penguins.rows);
  const byName = Object.fromEntries(t.columns.map((c) => [c.name, c]));
  assert.ok(
    Object.values(byName).some((c) => c.inferredType === 'categorical'),
    'island or sex is categorical',
  );
  // A categorical column is counted by value; its codes have no mean or spread.
  assert.deepEqual(
    [byName.Island!.histogram.labels, byName.Island!.histogram.counts, byName.Island!.mean, byName.Island!.std],
    [['Torgersen', 'Biscoe', 'Dream'], [52, 168, 124], 0, 0],
  );
  assert.ok(
    Object.values(byName).some((c) => c.missing > 0),
    'penguins has missing measurements',
  );
  const k = t.correlations.names.length;
  for (let i = 0; i < k; i++) assert.equal(t.correlations.values[i * k + i], 1);
  const flipper = t.correlations.names.findIndex((n) => /flipper/i.test(n));
  const mass = t.correlations.names.findIndex((n) => /mass/i.test(n));
  assert.ok(t.correlations.values[flipper * k + mass]! > 0.8, 'flipper length and body mass correlate strongly');

  const mnist = loadBuiltin('mnist') as ImageDataset;
  const im = profileImages(mnist);
  assert.equal(im.channels, 1);
  assert.ok(im.channelMeans[0]! > 0.1 && im.channelMeans[0]! < 0.15, `MNIST mean ≈ 0.13, got ${im.channelMeans[0]}`);
  assert.equal(
    Object.values(im.classCounts).reduce((a, b) => a + b, 0),
    10_000,
  );
});

test('drift of a dataset against itself is stable; text against code is shifted', () => {
  const spam = loadBuiltin('spam-assassin');
  assert.equal(compareDatasets(spam, spam).verdict, 'stable');
  const code = loadBuiltin('typescript-lib');
  const r = compareDatasets(spam, code);
  assert.equal(r.verdict, 'shifted');
  assert.ok(r.overallPsi > 0.25);
  assert.throws(() => compareDatasets(spam, loadBuiltin('iris')), /cannot compare a text dataset with a tabular/);
});

/** A table of one feature column and a class target, as a file loader builds it. */
function table(name: string, column: number[], labels: number[], classes: string[], categories?: string[]) {
  return {
    kind: 'tabular' as const,
    name,
    features: ['f'],
    x: Float32Array.from(column),
    rows: column.length,
    target: { type: 'class' as const, labels: Int32Array.from(labels), classes, name: 'label' },
    ...(categories && { categories: { f: categories } }),
  } satisfies TabularDataset;
}

test('tabular profile of the target: classes counted, rows without a target reported as its missing values', () => {
  const t = profileTabular({ ...table('t', [1, 2, 3, 4], [0, 1, 1, 1], ['no', 'yes']), rowsWithoutTarget: 2 });
  assert.equal(t.rowsWithoutTarget, 2);
  assert.equal(t.targets.length, 1);
  const [target] = t.targets;
  assert.deepEqual(
    [target!.name, target!.inferredType, target!.missing, target!.histogram.labels, target!.histogram.counts],
    ['label', 'categorical', 2, ['no', 'yes'], [1, 3]],
  );
  const regression = profileTabular({
    ...table('r', [1, 2, 3], [], []),
    target: { type: 'regression', y: Float32Array.from([0.5, 1.5, 2.5]), names: ['y'] },
  });
  assert.deepEqual([regression.targets[0]!.name, regression.targets[0]!.mean], ['y', 1.5]);
});

test('a date column profiles as datetime: numbers in days since 1970-01-01, in the correlations', () => {
  const dir = tempDir();
  try {
    writeFileSync(join(dir.path, 'd.csv'), 'at,n,label\n2024-01-01,1,a\n2024-01-03,2,b\n2024-01-05T12:00Z,3,a\n,4,b\n');
    const t = profileTabular(loadFile(join(dir.path, 'd.csv'), 1 << 20) as TabularDataset);
    const at = t.columns.find((c) => c.name === 'at')!;
    const start = Date.UTC(2024, 0, 1) / 86_400_000;
    assert.deepEqual(
      [at.inferredType, at.missing, at.quantiles[0], at.quantiles.at(-1)],
      ['datetime', 1, start, start + 4.5],
    );
    assert.deepEqual(t.correlations.names, ['at', 'n']);
  } finally {
    dir.remove();
  }
});

test("drift: a datetime column that moved on is reported shifted, but the verdict is the other columns'", () => {
  const dir = tempDir();
  try {
    const write = (name: string, year: number) =>
      writeFileSync(
        join(dir.path, name),
        `at,n,label\n${Array.from({ length: 200 }, (_, i) => `${year}-0${(i % 9) + 1}-1${i % 10},${i % 10},${i % 2}`).join('\n')}\n`,
      );
    write('old.csv', 2023);
    write('new.csv', 2024);
    const read = (name: string) => loadFile(join(dir.path, name), 1 << 20) as TabularDataset;
    const report = compareDatasets(read('old.csv'), read('new.csv'));
    const at = report.features.find((f) => f.feature === 'at')!;
    assert.deepEqual([at.verdict, at.datetime], ['shifted', true]);
    assert.equal(report.verdict, 'stable');
    const others = report.features.filter((f) => f.feature !== 'at');
    assert.equal(report.overallPsi, others.reduce((s, f) => s + f.psi, 0) / others.length);
  } finally {
    dir.remove();
  }
});

test('a categorical histogram lists the 1,000 most frequent categories, in the order met, and counts the rest', () => {
  // 1,500 categories: category k appears (k % 7) + 1 times, so the most frequent are those with k % 7 = 6, 5, …
  const K = 1500;
  const codes: number[] = [];
  for (let k = 0; k < K; k++) for (let r = 0; r <= k % 7; r++) codes.push(k);
  const labels = Array.from({ length: K }, (_, k) => `c${k}`);
  const d: TabularDataset = {
    kind: 'tabular',
    name: 'many',
    features: ['c'],
    x: Float32Array.from(codes),
    rows: codes.length,
    categories: { c: labels },
    target: { type: 'regression', y: new Float32Array(codes.length), names: ['y'] },
  };
  const h = profileTabular(d).columns[0]!.histogram;
  assert.equal(h.labels.length, MAX_LISTED_CATEGORIES);
  const count = (k: number) => (k % 7) + 1;
  // Kept: every category of count 7, 6, 5 (3 × ~214) and the first met of count 4, up to 1,000.
  const byCount = [...labels.keys()].sort((a, b) => count(b) - count(a) || a - b).slice(0, MAX_LISTED_CATEGORIES);
  const kept = byCount.sort((a, b) => a - b);
  assert.deepEqual(
    h.labels,
    kept.map((k) => `c${k}`),
  );
  assert.deepEqual(h.counts, kept.map(count));
  assert.equal(h.otherCategories, K - MAX_LISTED_CATEGORIES);
  assert.equal(h.otherCount, codes.length - h.counts.reduce((a, b) => a + b, 0));
  assert.ok(Math.min(...h.counts) >= Math.max(...[...labels.keys()].filter((k) => !kept.includes(k)).map(count)));
});

test('identifiers: profiled as such (text without a histogram), reported by drift but kept out of its verdict', () => {
  const dir = tempDir();
  try {
    // The same rows, the new file's ids and order numbers continuing where the old file's stopped.
    const write = (name: string, first: number) =>
      writeFileSync(
        join(dir.path, name),
        `id,order,n,label\n${Array.from({ length: 200 }, (_, i) => `${first + i},ord-${first + i},${i % 10},${i % 2}`).join('\n')}\n`,
      );
    write('old.csv', 0);
    write('new.csv', 200);
    const read = (name: string) => loadFile(join(dir.path, name), 1 << 20) as TabularDataset;
    const profile = profileTabular(read('new.csv'));
    const [id, order, n] = ['id', 'order', 'n'].map((name) => profile.columns.find((c) => c.name === name)!);
    assert.deepEqual(
      [id!.inferredType, id!.distinct, id!.quantiles[0], id!.quantiles.at(-1)],
      ['identifier', 200, 200, 399],
    );
    assert.deepEqual(
      [order!.inferredType, order!.distinct, order!.histogram.labels.length, order!.quantiles.length],
      ['identifier', 200, 0, 0],
    );
    assert.equal(n!.inferredType, 'integer');
    assert.deepEqual(profile.correlations.names, ['id', 'n'], 'text identifiers have no numbers to correlate');

    const report = compareDatasets(read('old.csv'), read('new.csv'));
    const drifted = (name: string) => report.features.find((f) => f.feature === name)!;
    assert.deepEqual([drifted('id').verdict, drifted('id').identifier], ['shifted', true]);
    assert.deepEqual([drifted('order').verdict, drifted('order').identifier], ['shifted', true]);
    assert.equal(report.verdict, 'stable', 'the other columns have not moved');
    const judged = report.features.filter((f) => !f.identifier);
    assert.equal(report.overallPsi, judged.reduce((s, f) => s + f.psi, 0) / judged.length);
  } finally {
    dir.remove();
  }
});

test('drift of a column numeric in one file and categorical in the other compares its values as text; the target drifts too', () => {
  // The same values, one file with a "?" among them (so read as categories 0 = "1", 1 = "2", 2 = "?").
  const numeric = table('a', [1, 2, 1, 2], [0, 0, 1, 1], ['no', 'yes']);
  const categorical = table('b', [0, 1, 0, 2], [0, 0, 0, 1], ['no', 'yes'], ['1', '2', '?']);
  const report = compareDatasets(numeric, categorical);
  const f = report.features.find((x) => x.feature === 'f')!;
  // Reference: "1" ×2, "2" ×2; current: "1" ×2, "2" ×1, "?" ×1. L∞ of the frequencies = 0.25.
  assert.ok(Math.abs(f.linf - 0.25) < 1e-12, `L∞ ${f.linf}`);
  const target = report.features.find((x) => x.feature === 'label')!;
  assert.ok(Math.abs(target.linf - 0.25) < 1e-12, `class balance 1/2 → 3/4: L∞ ${target.linf}`);
  assert.equal(compareDatasets(numeric, numeric).features.find((x) => x.feature === 'label')!.linf, 0);
});

test('drift of a categorical column counts its missing values as a category and reports their shares', () => {
  // Reference: "a" ×2, "b" ×2; current: "a" ×2, "b" ×1, missing ×1 (NaN in a categorical column).
  const reference = table('r', [0, 1, 0, 1], [0, 0, 1, 1], ['no', 'yes'], ['a', 'b']);
  const current = table('c', [0, 1, 0, NaN], [0, 0, 1, 1], ['no', 'yes'], ['a', 'b']);
  const f = compareDatasets(reference, current).features.find((x) => x.feature === 'f')!;
  assert.deepEqual([f.missingShareReference, f.missingShareCurrent], [0, 0.25]);
  // Frequencies a 1/2 → 1/2, b 1/2 → 1/4, missing 0 → 1/4.
  assert.ok(Math.abs(f.linf - 0.25) < 1e-12, `L∞ ${f.linf}`);
  const none = compareDatasets(reference, reference).features.find((x) => x.feature === 'f')!;
  assert.deepEqual([none.psi, none.linf, none.missingShareCurrent], [0, 0, 0]);
});

test('schema drift: columns only one table has are listed, and the shared ones compared', () => {
  const reference = { ...table('r', [1, 2, 3], [0, 1, 0], ['no', 'yes']), features: ['f'] };
  const current = {
    ...table('c', [], [0, 1, 0], ['no', 'yes']),
    features: ['g', 'f'],
    x: Float32Array.from([9, 1, 9, 2, 9, 3]),
  };
  const report = compareDatasets(reference, current);
  assert.deepEqual([report.onlyInReference, report.onlyInCurrent], [[], ['g']]);
  assert.equal(report.features.find((x) => x.feature === 'f')!.ksStatistic, 0, 'f is compared by name, not position');
  const back = compareDatasets(current, reference);
  assert.deepEqual([back.onlyInReference, back.onlyInCurrent], [['g'], []]);
});

test('tabular profile of odd columns read from a CSV: every value missing, infinities, one value', () => {
  const dir = tempDir();
  try {
    const path = join(dir.path, 'odd.csv');
    writeFileSync(path, 'blank,spiky,same,label\n,1,7,a\nNA,inf,7,b\n,-inf,7,a\n,3,7,b\n');
    const t = profileTabular(loadFile(path, 1 << 20) as TabularDataset);
    const byName = Object.fromEntries(t.columns.map((c) => [c.name, c]));
    assert.deepEqual(
      [byName.blank!.inferredType, byName.blank!.missing, byName.blank!.infinite, byName.blank!.distinct],
      ['empty', 4, 0, 0],
    );
    // Infinities are counted apart, not as missing, and stay out of the statistics.
    assert.deepEqual(
      [byName.spiky!.inferredType, byName.spiky!.missing, byName.spiky!.infinite, byName.spiky!.mean],
      ['integer', 0, 2, 2],
    );
    assert.deepEqual(byName.spiky!.quantiles.at(-1), 3);
    // One value: one bin whose edges are that value.
    assert.deepEqual(
      [byName.same!.inferredType, byName.same!.histogram.edges, byName.same!.histogram.counts],
      ['constant', [7, 7], [4]],
    );
    // A column with no values has no correlation to give.
    assert.deepEqual(t.correlations.names, ['spiky', 'same']);
  } finally {
    dir.remove();
  }
});

test('a document of several megabytes is profiled in slices, exactly as counted straightforwardly', async () => {
  // Multi-byte characters (2, 3 and 4 bytes) and words cross the 1 MB slice boundaries at varying offsets.
  const parts = ['héllo ', 'wörld\t', '日本語 ', '𝄞clef\n', 'plain ', 'x'];
  const text = Array.from({ length: 300_000 }, (_, i) => parts[i % parts.length]! + (i % 7)).join('');
  const doc = utf8(text);
  assert.ok(doc.length > 2e6);
  const profiler = new TextProfiler();
  const { turns } = await turnsDuring(() => finishYielding(profiler.addSteps(doc), { sliceMs: 0 }));
  assert.ok(turns >= 2, `${turns} turns of the event loop while ${doc.length} bytes were scanned`);
  const p = profiler.finish();
  const bytes = new Array<number>(256).fill(0);
  for (const b of doc) bytes[b]!++;
  assert.deepEqual(p.byteCounts, bytes);
  const chars = new Map<string, number>();
  for (const ch of text) chars.set(ch, (chars.get(ch) ?? 0) + 1);
  assert.equal(p.distinctChars, chars.size);
  const total = [...chars.values()].reduce((a, b) => a + b, 0);
  const h = -[...chars.values()].reduce((s, c) => s + (c / total) * Math.log2(c / total), 0);
  assert.ok(Math.abs(p.charEntropyBits - h) < 1e-9);
  assert.equal(p.vocabularySize, new Set(text.split(/[\t\n\v\f\r ]+/).filter(Boolean)).size);
  assert.equal(p.invalidUtf8Rate, 0);
});
