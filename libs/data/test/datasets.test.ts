import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { brotliCompressSync, gzipSync } from 'node:zlib';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { join } from 'node:path';
import { FloeError } from '@floe/errors';
import { tempDir } from './temp-dir.js';
import {
  LmBatcher,
  ExampleBatcher,
  byteStream,
  exampleCount,
  loadBuiltin,
  loadFile,
  openDataset,
  openDatasetAsync,
  splitIndices,
  type ImageDataset,
  type TabularDataset,
  type TextDataset,
} from '../src/index.js';

test('every builtin dataset loads real data', () => {
  const spam = loadBuiltin('spam-assassin') as TextDataset;
  assert.equal(spam.documents.length, 6046);
  assert.match(Buffer.from(spam.documents[0]!).toString('utf8'), /^From /);
  const ts = loadBuiltin('typescript-lib') as TextDataset;
  assert.ok(ts.documents.length >= 90, `${ts.documents.length} declaration files`);
  assert.ok(ts.documents.reduce((n, d) => n + d.length, 0) > 2_000_000);
  assert.match(
    Buffer.from(ts.documents.find((d) => Buffer.from(d).includes('interface Array<T>'))!).toString(),
    /interface Array<T>/,
  );
  const sotu = loadBuiltin('sotu') as TextDataset;
  assert.equal(sotu.documents.length, 233, 'State of the Union addresses 1790–2021');
  assert.match(Buffer.from(sotu.documents[0]!).toString('utf8'), /^Fellow-Citizens of the Senate/);
  const mnist = loadBuiltin('mnist') as ImageDataset;
  assert.equal(mnist.labels.length, 10_000);
  assert.equal(mnist.pixels.length, 10_000 * 784);
  assert.ok(mnist.pixels.every((p) => p >= 0 && p <= 1));
  const iris = loadBuiltin('iris') as TabularDataset;
  assert.deepEqual(
    [iris.rows, iris.features.length, iris.target.type === 'class' && iris.target.classes.length],
    [150, 4, 3],
  );
  const penguins = loadBuiltin('penguins') as TabularDataset;
  assert.deepEqual([penguins.rows, penguins.features.length], [344, 6]);
  assert.ok(Number.isNaN(penguins.x[3 * 6]!), 'a missing beak length stays missing');
  const sim = loadBuiltin('lorenz96-sim') as TabularDataset;
  const obs = loadBuiltin('lorenz96-obs') as TabularDataset;
  assert.equal(sim.rows, 20000);
  assert.equal(obs.rows, 1000);
  const mean = (t: TabularDataset) => t.x.reduce((a, b) => a + b, 0) / t.x.length;
  assert.ok(mean(obs) - mean(sim) > 0.2, 'the observations are biased');
});

test('splits are deterministic, disjoint and 80/10/10', () => {
  const d = loadBuiltin('iris');
  const [tr, va, te] = (['train', 'validation', 'test'] as const).map((s) => splitIndices(d, s));
  assert.deepEqual([tr!.length, va!.length, te!.length], [120, 15, 15]);
  assert.equal(new Set([...tr!, ...va!, ...te!]).size, 150);
  assert.deepEqual(splitIndices(d, 'train'), tr);
  assert.equal(
    exampleCount(openDataset({ uri: 'builtin:mnist', split: 'test', maxExamples: 100 }, { dataRoots: [] })),
    100,
  );
});

test('batchers restore exactly from their state', () => {
  const stream = byteStream(loadBuiltin('spam-assassin') as TextDataset);
  const a = new LmBatcher(stream, 3);
  a.next(4, 32);
  const state = a.getState();
  const next = a.next(4, 32);
  const b = new LmBatcher(stream, 3);
  b.setState(state);
  assert.deepEqual(b.next(4, 32), next);
  assert.deepEqual(next.x.slice(1, 32), next.y.slice(0, 31), 'y is x shifted by one byte');
  const e = new ExampleBatcher(10, 1);
  e.next(7);
  const s = e.getState();
  const n1 = [e.next(7), e.next(7)];
  const f = new ExampleBatcher(10, 1);
  f.setState(s);
  assert.deepEqual([f.next(7), f.next(7)], n1);
  // Restored over fewer examples (the file shrank): the rest of the epoch skips the ones gone.
  const g = new ExampleBatcher(6, 1);
  g.setState(s);
  const rest = (s.order as number[]).slice(s.position).filter((i) => i < 6);
  assert.deepEqual([...g.next(rest.length)], rest);
  assert.ok([...g.next(12)].every((i) => i < 6));
});

test('a batcher balanced by class: each epoch holds every class as often as the most common, each example as evenly; it restores exactly', () => {
  // 10 examples of class 0, 3 of class 1, 1 of class 2: an epoch of 30, ten of each class.
  const labels = Int32Array.from([0, 0, 1, 0, 0, 0, 2, 0, 1, 0, 0, 0, 1, 0]);
  const b = new ExampleBatcher(labels.length, 4, labels);
  const epoch = [...b.next(30)];
  assert.deepEqual(
    [0, 1, 2].map((c) => epoch.filter((i) => labels[i] === c).length),
    [10, 10, 10],
  );
  const times = (i: number) => epoch.filter((e) => e === i).length;
  for (const i of [2, 8, 12]) assert.ok(times(i) === 3 || times(i) === 4, `example ${i} of class 1: ${times(i)}`);
  assert.equal(times(6), 10, 'the one example of class 2');
  for (let i = 0; i < labels.length; i++) if (labels[i] === 0) assert.equal(times(i), 1);
  b.next(5);
  const state = b.getState();
  const after = [b.next(9), b.next(9)];
  const c = new ExampleBatcher(labels.length, 4, labels);
  c.setState(state);
  assert.deepEqual([c.next(9), c.next(9)], after);
});

test('file: text folders, CSV and JSON lines; size limits are RESOURCE_EXHAUSTED', () => {
  const dir = tempDir();
  try {
    mkdirSync(join(dir.path, 'docs'));
    writeFileSync(join(dir.path, 'docs', 'a.txt'), 'hello');
    writeFileSync(join(dir.path, 'docs', 'b.md'), 'world');
    writeFileSync(join(dir.path, 't.csv'), 'a,b,label\n1,x,yes\n2,y,no\n3,"x",yes\n');
    writeFileSync(
      join(dir.path, 't.jsonl'),
      '{"u":1.5,"target":0.25}\n{"u":2.5,"target":0.75}\n{"u":3,"target":0.1}\n',
    );
    const roots = [dir.path];
    assert.equal((openDataset({ uri: 'file:docs' }, { dataRoots: roots }) as TextDataset).documents.length, 2);
    const csv = openDataset({ uri: 'file:t.csv' }, { dataRoots: roots }) as TabularDataset;
    assert.deepEqual([csv.rows, csv.features, csv.target.type], [3, ['a', 'b'], 'class']);
    const jl = openDataset({ uri: 'file:t.jsonl' }, { dataRoots: roots }) as TabularDataset;
    assert.equal(jl.target.type, 'regression');
    assert.throws(
      () => openDataset({ uri: 'file:docs' }, { dataRoots: roots, maxBytes: 4 }),
      (e: FloeError) => e.kind === 'resource_exhausted',
    );
    assert.throws(
      () => openDataset({ uri: 'builtin:mnist' }, { dataRoots: roots, maxBytes: 1000 }),
      (e: FloeError) => e.kind === 'resource_exhausted',
    );
  } finally {
    dir.remove();
  }
});

test('tabular files: a column is numeric or categorical as a whole; missing cells, quotes, BOMs and ragged rows', () => {
  const dir = tempDir();
  // loadFile keeps the file's row order (a split is a permutation); openDataset names the request's field.
  const open = (name: string, text: string) => {
    writeFileSync(join(dir.path, name), text);
    return loadFile(join(dir.path, name), 1e6) as TabularDataset;
  };
  const refused = (name: string, text: string, message: RegExp) =>
    assert.throws(
      () => {
        writeFileSync(join(dir.path, name), text);
        openDataset({ uri: `file:${name}` }, { dataRoots: [dir.path] });
      },
      (e: FloeError) =>
        e.kind === 'invalid_argument' && e.violations[0]?.field === 'dataset.uri' && message.test(e.message),
    );
  try {
    // One "?" among numbers makes the whole column categorical: numbers and category codes never share it.
    const mixed = open('mixed.csv', 'a,b,label\n1.5,NA,0\n?,2,1\n3,,0\n1.5,4,1\n');
    assert.deepEqual(mixed.categories, { a: ['1.5', '?', '3'] });
    assert.deepEqual(Array.from(mixed.x.filter((_, i) => i % 2 === 0)), [0, 1, 2, 0]);
    // pandas' missing markers in a numeric column are missing values; the column stays numeric.
    assert.deepEqual(
      Array.from(mixed.x.filter((_, i) => i % 2 === 1)).map((v) => (Number.isNaN(v) ? 'NaN' : v)),
      ['NaN', 2, 'NaN', 4],
    );
    // A quoted field may hold commas, quotes and line breaks; a byte order mark does not join the first name.
    const quoted = open('quoted.csv', '\uFEFFa,note,label\r\n1,"one, ""two""\nthree",x\r\n2,plain,y\r\n');
    assert.deepEqual([quoted.rows, quoted.features], [2, ['a', 'note']]);
    assert.deepEqual(quoted.categories!.note, ['one, "two"\nthree', 'plain']);
    // Rows without a target are left out and counted; a numeric target with a gap stays a regression.
    const gap = open('gap.csv', 'x,y\n1,0.5\n2,\n3,1.25\n4,NaN\n5,inf\n');
    assert.equal(gap.rows, 2);
    assert.equal(gap.rowsWithoutTarget, 3);
    assert.equal(gap.target.type, 'regression');
    // Numeric classes: 1 and 1.0 are one class, ordered as numbers (2 before 10).
    const classes = open('classes.csv', 'x,label\n1,10\n2,2\n3,1.0\n4,1\n');
    assert.ok(classes.target.type === 'class');
    assert.deepEqual(classes.target.classes, ['1', '2', '10']);
    assert.deepEqual(Array.from(classes.target.labels), [2, 1, 0, 0]);
    assert.equal(classes.target.name, 'label');
    // A short row's missing fields are missing; a long one is refused with its line.
    assert.ok(Number.isNaN(open('short.csv', 'a,label,b\n1,0,2\n3,1\n').x[3]!));
    refused('long.csv', 'a,b,label\n1,2,0\n"x\ny",2,1,9\n', /long\.csv: line 3 has 4 fields where the header has 3/);
    refused('twice.csv', 'a,a,label\n1,2,0\n', /column "a" appears twice/);
    refused('untargeted.csv', 'a,label\n1,\n2,NA\n', /no row has a value in the target column "label"/);
    // JSON lines: booleans are 0 / 1, objects are categories by their JSON, keys absent from a record are missing.
    const jl = open(
      'r.jsonl',
      '{"a":1,"flag":true,"meta":{"k":1},"label":"x"}\n{"a":2,"flag":false,"meta":{"k":2},"label":"y"}\n{"a":3,"extra":7,"label":"x"}\n',
    );
    assert.deepEqual(jl.features, ['a', 'flag', 'meta', 'extra']);
    assert.deepEqual(
      Array.from(jl.x.slice(0, 4)).map((v) => (Number.isNaN(v) ? 'NaN' : v)),
      [1, 1, 0, 'NaN'],
    );
    assert.deepEqual(jl.categories, { meta: ['{"k":1}', '{"k":2}'] });
    refused('array.jsonl', '[1,2]\n', /line 1 is not a JSON object/);
  } finally {
    dir.remove();
  }
});

test('delimited files as spreadsheets write them: ";" with decimal commas and points grouping thousands, commas grouping thousands, tabs, "|", UTF-16', () => {
  const dir = tempDir();
  const open = (name: string, content: string | Buffer) => {
    writeFileSync(join(dir.path, name), content);
    return loadFile(join(dir.path, name), 1e6);
  };
  const table = (name: string, content: string | Buffer) => open(name, content) as TabularDataset;
  const rows = (d: TabularDataset) => Array.from(d.x).map((v) => (Number.isNaN(v) ? 'NaN' : v));
  try {
    // A ";" file (read from its header, quotes respected) writes decimals with a comma; a cell with a point or two
    // commas is not a decimal, so its column is categorical.
    const semi = table('eu.csv', '"a;1";b;note;label\n1,5;2;x,y;p\n-0,25;3;1,2,3;q\n7;;z;p\n');
    assert.deepEqual(semi.features, ['a;1', 'b', 'note']);
    assert.deepEqual(rows(semi), [1.5, 2, 0, -0.25, 3, 1, 7, 'NaN', 2]);
    assert.deepEqual(semi.categories, { note: ['x,y', '1,2,3', 'z'] });
    // Points grouping thousands, as Excel writes them with decimal commas: in a column that writes decimal commas
    // a point groups thousands ("1.000" is 1000); in one that writes a point no grouping explains ("0.5"), it is a
    // decimal point; a column of integers and "2.500" follows the file (here: decimal commas, so 2500).
    const grouped = table(
      'eu-thousands.csv',
      'amount;ratio;count;label\n1.234,5;0.5;2.500;p\n12,75;1.250;12;q\n1.000;2;1.000.000;p\n-2.000.000,01;3;7;q\n',
    );
    assert.deepEqual([grouped.features, grouped.categories], [['amount', 'ratio', 'count'], {}]);
    assert.deepEqual(rows(grouped), [1234.5, 0.5, 2500, 12.75, 1.25, 12, 1000, 2, 1e6, Math.fround(-2000000.01), 3, 7]);
    // A ";" file with no decimal comma anywhere writes decimal points ("1.000" is 1).
    assert.deepEqual(rows(table('points.csv', 'count;label\n1.000;p\n2.5;q\n')), [1, 2.5]);
    assert.deepEqual(rows(table('points-only.csv', 'count;label\n1.000;p\n2;q\n')), [1, 2]);
    // In a comma file a comma is only a delimiter; tabs and "|" are read from the header too.
    assert.deepEqual(table('us.csv', 'a,b,label\n1.5,"2,5",p\n2,3,q\n').categories, { b: ['2,5', '3'] });
    // Except in a column of numbers some of which group thousands with commas, as US spreadsheets write them.
    const us = table(
      'us-thousands.csv',
      'amount,mixed,label\n"1,234.5","1,000",p\n"12,500",7,q\n3.25,"2,5",p\n"-2,000,000",8,q\n',
    );
    assert.deepEqual(us.categories, { mixed: ['1,000', '7', '2,5', '8'] }, 'a "2,5" among them: not numbers');
    assert.deepEqual(
      rows(us).filter((_, i) => i % 2 === 0),
      [1234.5, 12500, 3.25, -2e6],
    );
    const tsv = table('thousands.tsv', 'n\tlabel\n1,234\tp\n5\tq\n');
    assert.deepEqual([tsv.categories, rows(tsv)], [{}, [1234, 5]]);
    // Percentages and amounts of money, as spreadsheets export formatted cells: fractions and amounts, when every
    // cell of the column is one (one currency); mixed with plain numbers or another symbol, the column stays text.
    const money = table(
      'money.csv',
      'rate,price,euros,mixed,label\n12.5%,"$1,234.50",12 €,5%,p\n-3 %,-$5,€7.25,0.5,q\n100%,$0.99,€ 1,1%,p\n',
    );
    assert.deepEqual(Object.keys(money.categories ?? {}), ['mixed']);
    const cols = (d: TabularDataset, j: number) => rows(d).filter((_, i) => i % d.features.length === j);
    assert.deepEqual(cols(money, 0), [0.125, -0.03, 1].map(Math.fround));
    assert.deepEqual(cols(money, 1), [1234.5, -5, 0.99].map(Math.fround));
    assert.deepEqual(cols(money, 2), [12, 7.25, 1]);
    const dollarsAndPounds = table('two.csv', 'price,label\n$5,p\n£5,q\n');
    assert.deepEqual(dollarsAndPounds.categories, { price: ['$5', '£5'] });
    // In a ";" file the amounts write decimal commas and points group thousands.
    const eu = table('eu-money.csv', 'preis;anteil;label\n1.234,50 €;12,5 %;p\n-7,25 €;3 %;q\n');
    assert.deepEqual([cols(eu, 0), cols(eu, 1)], [[1234.5, -7.25], [0.125, 0.03].map(Math.fround)]);
    for (const [file, text] of [
      ['tabs.tsv', 'a\tb\tlabel\n1\t2,5\tp\n3\t4\tq\n'],
      ['tabs.csv', 'a\tb\tlabel\n1\t2,5\tp\n3\t4\tq\n'],
      ['pipes.csv', 'a|b|label\n1|2,5|p\n3|4|q\n'],
    ] as const) {
      const d = table(file, text);
      assert.deepEqual([d.features, d.categories], [['a', 'b'], { b: ['2,5', '4'] }], file);
    }
    // UTF-16 with its byte order mark (both byte orders): a table's names and a text's bytes as UTF-8.
    const utf16 = (text: string, order: 'le' | 'be') => {
      const le = Buffer.from('\uFEFF' + text, 'utf16le');
      return order === 'le' ? le : Buffer.from(le.map((_, i) => le[i ^ 1]!));
    };
    for (const order of ['le', 'be'] as const) {
      const d = table(`u16${order}.csv`, utf16('größe,label\n1,ä\n2,b\n', order));
      assert.deepEqual([d.features, d.target.type === 'class' && d.target.classes], [['größe'], ['b', 'ä']]);
      const text = open(`u16${order}.txt`, utf16('naïve text', order));
      assert.ok(text.kind === 'text');
      assert.equal(Buffer.from(text.documents[0]!).toString('utf8'), 'naïve text');
    }
    // Without its byte order mark, UTF-16 (like any binary file) holds NUL bytes: refused as such, not as a table
    // without rows.
    const noMark = Buffer.from('a,label\n1,x\n2,y\n', 'utf16le');
    for (const file of ['u16.csv', 'u16.jsonl'])
      assert.throws(
        () => open(file, noMark),
        (e: FloeError) => e.kind === 'invalid_argument' && /holds NUL bytes.*save it as UTF-8/.test(e.message),
      );
  } finally {
    dir.remove();
  }
});

test('Parquet: a file (Snappy, gzip, Brotli) or a folder of part files is a table; 64-bit integers are numbers, timestamps days', () => {
  const dir = tempDir();
  // The writer compresses with what it is given (zstd has no compressor in Node 20; its reader is fzstd).
  const compressors = {
    GZIP: (b: Uint8Array) => new Uint8Array(gzipSync(b)),
    BROTLI: (b: Uint8Array) => new Uint8Array(brotliCompressSync(b)),
  };
  const write = (
    file: string,
    columnData: Parameters<typeof parquetWriteBuffer>[0]['columnData'],
    codec: 'SNAPPY' | keyof typeof compressors = 'SNAPPY',
  ) => {
    mkdirSync(join(dir.path, file, '..'), { recursive: true });
    writeFileSync(join(dir.path, file), new Uint8Array(parquetWriteBuffer({ columnData, codec, compressors })));
  };
  const rows = (d: TabularDataset) => Array.from(d.x).map((v) => (Number.isNaN(v) ? 'NaN' : v));
  const columns = [
    { name: 'size', data: new Float64Array([1.5, 2.5, 3.5]) },
    { name: 'count', data: [1n, null, 2n ** 40n], type: 'INT64' as const },
    { name: 'colour', data: ['red', null, 'blue'] },
    { name: 'when', data: [new Date(0), new Date(1000), new Date(86_400_000)] },
    { name: 'label', data: ['a', 'b', 'a'] },
  ];
  try {
    for (const codec of ['SNAPPY', 'GZIP', 'BROTLI'] as const) {
      write(`${codec}.parquet`, columns, codec);
      const t = loadFile(join(dir.path, `${codec}.parquet`), 1e6) as TabularDataset;
      assert.deepEqual(
        [t.features, t.rows, t.categories, t.dates],
        [['size', 'count', 'colour', 'when'], 3, { colour: ['red', 'blue'] }, ['when']],
      );
      // Timestamps as days since 1970, as a CSV's ISO 8601 dates read.
      assert.deepEqual(rows(t), [1.5, 1, 0, 0, 2.5, 'NaN', 'NaN', Math.fround(1 / 86_400), 3.5, 2 ** 40, 1, 1]);
      assert.ok(t.target.type === 'class');
      assert.deepEqual(Array.from(t.target.labels), [0, 1, 0]);
    }
    // Spark's layout: part files (one without a column, which is then missing there) beside a _SUCCESS marker.
    write('spark/part-00000.parquet', [
      { name: 'x', data: new Float64Array([1, 2]) },
      { name: 'y', data: ['p', 'q'] },
    ]);
    write('spark/part-00001.parquet', [{ name: 'x', data: new Float64Array([3]) }]);
    writeFileSync(join(dir.path, 'spark', '_SUCCESS'), '');
    const parts = openDataset({ uri: 'file:spark' }, { dataRoots: [dir.path] }) as TabularDataset;
    assert.deepEqual([parts.features, parts.rows], [['x'], 2]);
    assert.equal(parts.rowsWithoutTarget, 1);
    // A partitioned table (Hive's layout, as Spark and pyarrow write it): each key=value folder is a column.
    write('sales/year=2023/region=north%20east/part-0.parquet', [
      { name: 'x', data: new Float64Array([1]) },
      { name: 'y', data: ['p'] },
    ]);
    write('sales/year=2024/region=south/part-0.parquet', [
      { name: 'x', data: new Float64Array([2, 3]) },
      { name: 'y', data: ['q', 'p'] },
    ]);
    write('sales/year=2024/region=__HIVE_DEFAULT_PARTITION__/part-0.parquet', [
      { name: 'x', data: new Float64Array([4]) },
      { name: 'y', data: ['q'] },
    ]);
    const all = openDataset({ uri: 'file:sales' }, { dataRoots: [dir.path] }) as TabularDataset;
    assert.deepEqual([all.features, all.categories], [['year', 'region', 'x'], { region: ['north east', 'south'] }]);
    const missingRegion = [0, 1, 2, 3].find((r) => all.x[r * 3 + 2] === 4)!;
    assert.ok(Number.isNaN(all.x[missingRegion * 3 + 1]), 'the default partition is a missing value');
    rmSync(join(dir.path, 'sales/year=2024/region=__HIVE_DEFAULT_PARTITION__'), { recursive: true });
    const sales = openDataset({ uri: 'file:sales' }, { dataRoots: [dir.path] }) as TabularDataset;
    const triples = [0, 1, 2].map((r) => rows(sales).slice(r * 3, r * 3 + 3));
    assert.deepEqual(
      triples.sort((a, b) => Number(a[2]) - Number(b[2])),
      [
        [2023, 0, 1],
        [2024, 1, 2],
        [2024, 1, 3],
      ],
    );
    // What counts against the size limit is what a file decodes to: 20,000 rows of zeros fit in a small file.
    write('zeros.parquet', [
      { name: 'x', data: new Float64Array(20_000) },
      { name: 'label', data: new Float64Array(20_000) },
    ]);
    assert.throws(
      () => loadFile(join(dir.path, 'zeros.parquet'), 100_000),
      (e: FloeError) =>
        e.kind === 'resource_exhausted' &&
        /zeros\.parquet: the Parquet data decodes to about 320000 bytes/.test(e.message),
    );
    // A file that is not Parquet is refused, naming it and the request's field.
    writeFileSync(join(dir.path, 'spark', 'part-00002.parquet'), 'not parquet');
    assert.throws(
      () => openDataset({ uri: 'file:spark' }, { dataRoots: [dir.path] }),
      (e: FloeError) =>
        e.kind === 'invalid_argument' &&
        e.violations[0]?.field === 'dataset.uri' &&
        /part-00002\.parquet: not a Parquet file that can be read/.test(e.message),
    );
  } finally {
    dir.remove();
  }
});

test('compressed files read as what they hold: .csv.gz, .jsonl.gz, .txt.zst; the limit counts what they decompress to', () => {
  const dir = tempDir();
  const at = (file: string) => join(dir.path, file);
  // Written by zstd 1.5 (Node 20 has no Zstandard compressor): "a,label\n1,x\n2,y\n3,x\n", and 200,000 zero bytes.
  const zstdTable = Buffer.from('28b52ffd0458a10000612c6c6162656c0a312c780a322c790a332c780a5aa495b4', 'hex');
  const zstdZeros = Buffer.from('28b52ffd04585400001000000100fbff39c002036a0800c4e97470', 'hex');
  try {
    writeFileSync(at('t.csv.gz'), gzipSync('a;label\n1,5;x\n2;y\n'));
    const csv = loadFile(at('t.csv.gz'), 1e6) as TabularDataset;
    assert.deepEqual([csv.name, csv.features, Array.from(csv.x)], ['t.csv.gz', ['a'], [1.5, 2]]);
    writeFileSync(at('r.jsonl.gz'), gzipSync('{"a":1,"label":"x"}\n{"a":2,"label":"y"}\n'));
    assert.equal((loadFile(at('r.jsonl.gz'), 1e6) as TabularDataset).rows, 2);
    writeFileSync(at('z.csv.zst'), zstdTable);
    assert.deepEqual(Array.from((loadFile(at('z.csv.zst'), 1e6) as TabularDataset).x), [1, 2, 3]);
    writeFileSync(at('notes.txt.gz'), gzipSync('naïve text'));
    const text = loadFile(at('notes.txt.gz'), 1e6);
    assert.ok(text.kind === 'text');
    assert.equal(Buffer.from(text.documents[0]!).toString('utf8'), 'naïve text');
    // In a folder of documents too.
    mkdirSync(at('docs'));
    writeFileSync(at('docs/a.txt.gz'), gzipSync('first'));
    writeFileSync(at('docs/b.txt'), 'second');
    const docs = loadFile(at('docs'), 1e6);
    assert.ok(docs.kind === 'text');
    assert.deepEqual(
      docs.documents.map((d) => Buffer.from(d).toString('utf8')),
      ['first', 'second'],
    );
    // 200,000 bytes in a file of a few dozen: over a limit of 100,000, whichever the compression.
    writeFileSync(at('zeros.txt.gz'), gzipSync(Buffer.alloc(200_000)));
    writeFileSync(at('zeros.txt.zst'), zstdZeros);
    for (const file of ['zeros.txt.gz', 'zeros.txt.zst'])
      assert.throws(
        () => loadFile(at(file), 100_000),
        (e: FloeError) =>
          e.kind === 'resource_exhausted' && /decompresses to more than 100000 bytes, the limit/.test(e.message),
        file,
      );
    // A file its suffix does not describe is refused, named.
    writeFileSync(at('fake.csv.gz'), 'a,label\n1,x\n');
    assert.throws(
      () => openDataset({ uri: 'file:fake.csv.gz' }, { dataRoots: [dir.path] }),
      (e: FloeError) =>
        e.kind === 'invalid_argument' &&
        e.violations[0]?.field === 'dataset.uri' &&
        /fake\.csv\.gz: not a gzip file/.test(e.message),
    );
  } finally {
    dir.remove();
  }
});

test('a Parquet file loads off the event loop: openDatasetAsync gives it turns while the worker reads, and a cancel stops it', async () => {
  const dir = tempDir();
  try {
    const n = 200_000;
    writeFileSync(
      join(dir.path, 'big.parquet'),
      new Uint8Array(
        parquetWriteBuffer({
          columnData: [
            { name: 'x', data: Float64Array.from({ length: n }, (_, i) => i) },
            { name: 'label', data: Float64Array.from({ length: n }, (_, i) => i % 2) },
          ],
        }),
      ),
    );
    let turns = 0;
    const ticker = setInterval(() => turns++, 1);
    const data = await openDatasetAsync({ uri: 'file:big.parquet' }, { dataRoots: [dir.path], sliceMs: 5 });
    clearInterval(ticker);
    assert.equal(exampleCount(data), n);
    assert.ok(turns >= 2, `the event loop ran ${turns} times while the file loaded`);
    const cancel = new AbortController();
    setTimeout(() => cancel.abort(new Error('cancelled')), 10);
    await assert.rejects(
      openDatasetAsync({ uri: 'file:big.parquet' }, { dataRoots: [dir.path], sliceMs: 5, signal: cancel.signal }),
      /cancelled/,
    );
  } finally {
    dir.remove();
  }
});
