// Date columns: ISO 8601 cells read as days since 1970-01-01 UTC (closed forms), a column of them is a number
// (not a category per day), and one cell that is not a date leaves the column categorical; Parquet's dates and
// timestamps read as the same days.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { tempDir } from './temp-dir.js';
import { dateCellDays, numericDateDays, openDataset, type TabularDataset } from '../src/index.js';

test('dateCellDays: days since 1970-01-01 UTC, zones applied, days and times that do not exist refused', () => {
  assert.equal(dateCellDays('1970-01-01'), 0);
  assert.equal(dateCellDays('1970-01-02T12:00'), 1.5);
  assert.equal(dateCellDays('1970-01-02 06:00:00Z'), 1.25);
  assert.equal(dateCellDays('2000-03-01'), 11017); // 30 years, 7 leap days, Jan + Feb 2000 (60 days)
  assert.equal(dateCellDays('2024-05-01T10:00:00+02:00'), dateCellDays('2024-05-01T08:00:00Z'));
  assert.equal(dateCellDays('2024-05-01T10:00-0530'), dateCellDays('2024-05-01T15:30Z'));
  assert.equal(dateCellDays('1970-01-01T00:00:43.2'), 43.2 / 86_400);
  assert.equal(dateCellDays(' 2024-02-29 '), dateCellDays('2024-02-28')! + 1);
  for (const notADate of [
    '2023-02-29',
    '2024-13-01',
    '2024-04-31',
    '2024-05-01T25:00',
    '05/01/2024',
    '2024-5-1',
    'soon',
    '',
  ])
    assert.ok(Number.isNaN(dateCellDays(notADate)), notADate);
  assert.ok(Number.isNaN(dateCellDays(19845)), 'a number is not a date cell');
});

test('dateCellDays: dates whose cells say which number is which — year first with slashes, months by name', () => {
  const iso = (t: string) => dateCellDays(t);
  const same = [
    ['2001/01/31 00:47', '2001-01-31T00:47'],
    ['2001/1/5', '2001-01-05'],
    ['2024.05.01', '2024-05-01'],
    ['Jun 12 1998', '1998-06-12'],
    ['june 12, 1998', '1998-06-12'],
    ['June 12th, 1998 10:30 PM', '1998-06-12T22:30'],
    ['Sept. 3, 2021', '2021-09-03'],
    ['12 Jun 1998', '1998-06-12'],
    ['12-Jun-1998', '1998-06-12'],
    ['1st December 2020 12:15:30.5 AM', '2020-12-01T00:15:30.5'],
    ['Fri, 12 Jun 1998 10:30:00 +0200', '1998-06-12T08:30Z'],
    ['Friday, June 12, 1998 10:30 GMT', '1998-06-12T10:30Z'],
    ['Jun 12 1998 10:30 -05:00', '1998-06-12T15:30Z'],
  ] as const;
  for (const [cell, isoText] of same) assert.equal(dateCellDays(cell), iso(isoText), cell);
  for (const notADate of [
    'Feb 30 2024', // a day that does not exist
    '12-Jun-98', // two-digit years: the century would be a guess
    'Jun 12 1998 13:00 PM',
    'Junk 12 1998',
    '2001/13/01',
    '2001/01-31',
    'June 1998',
    'May the 4th',
  ])
    assert.ok(Number.isNaN(dateCellDays(notADate)), notADate);
});

test('a column of dates is days, one value that is not a date keeps a column categorical', () => {
  const dir = tempDir();
  try {
    const rows = Array.from({ length: 40 }, (_, i) => {
      const day = `2024-01-${String((i % 28) + 1).padStart(2, '0')}`;
      return `${day}T${String(i % 24).padStart(2, '0')}:00:00Z,${i === 7 ? '' : day},${i === 3 ? 'soon' : day},${i % 2}`;
    });
    writeFileSync(join(dir.path, 't.csv'), `at,day,when,label\n${rows.join('\n')}\n`);
    // As read (asRead): the file's row order, not a split's.
    const d = openDataset({ uri: 'file:t.csv' }, { dataRoots: [dir.path], asRead: true }) as TabularDataset;
    assert.deepEqual(d.dates, ['at', 'day']);
    assert.deepEqual(Object.keys(d.categories ?? {}), ['when']);
    const f = d.features.length;
    // Row 0: 2024-01-01T00:00Z; row 5: 2024-01-06T05:00Z; row 7's day is missing.
    assert.equal(d.x[0], Math.fround(dateCellDays('2024-01-01')));
    assert.equal(d.x[5 * f], Math.fround(dateCellDays('2024-01-06T05:00Z')));
    assert.equal(d.x[5 * f + 1], Math.fround(dateCellDays('2024-01-06')));
    assert.ok(Number.isNaN(d.x[7 * f + 1]!));
  } finally {
    dir.remove();
  }
});

test('numericDateDays: 5/1/2024 as either order, times on a 24- or 12-hour clock, days that do not exist refused', () => {
  const iso = (t: string) => dateCellDays(t);
  assert.equal(numericDateDays('5/1/2024', 'mdy'), iso('2024-05-01'));
  assert.equal(numericDateDays('5/1/2024', 'dmy'), iso('2024-01-05'));
  assert.equal(numericDateDays('05.01.2024 13:30', 'dmy'), iso('2024-01-05T13:30'));
  assert.equal(numericDateDays('12-31-1999 1:30:15 PM', 'mdy'), iso('1999-12-31T13:30:15'));
  assert.equal(numericDateDays('1/1/2024 12:00 AM', 'mdy'), iso('2024-01-01T00:00'));
  assert.equal(numericDateDays('1/1/2024 12:00:00.5 pm', 'mdy'), iso('2024-01-01T12:00:00.5'));
  for (const notADate of ['31/2/2024', '2/31/2024', '13/13/2024', '5/1/24', '5/1-2024', '1/1/2024 13:00 PM', '1/1/999'])
    assert.ok(Number.isNaN(numericDateDays(notADate, notADate.startsWith('2/') ? 'mdy' : 'dmy')), notADate);
});

test('a column of 5/1/2024-style dates is days: its cells decide which number is the day, else its file does', () => {
  const dir = tempDir();
  const read = (file: string, text: string) => {
    writeFileSync(join(dir.path, file), text);
    return openDataset({ uri: `file:${file}` }, { dataRoots: [dir.path], asRead: true }) as TabularDataset;
  };
  try {
    // One column per case; 40 rows, day i % 28 + 1 of January–March in turn.
    const rows = Array.from({ length: 40 }, (_, i) => {
      const [d, m] = [(i % 28) + 1, (i % 3) + 1];
      const early = `${(i % 12) + 1}/${m}/2024`; // both numbers 12 or less: undecided
      return [
        `${d}/${m}/2024`,
        `${m}/${d}/2024`,
        early,
        `${d}.${m}.2024`,
        i === 5 ? `${d}-${m}-2024` : `${d}/${m}/2024`,
        i % 2,
      ];
    });
    const header = 'dayFirst,monthFirst,early,dotted,mixed,label';
    const csv = read('t.csv', `${header}\n${rows.map((r) => r.join(',')).join('\n')}\n`);
    assert.deepEqual(csv.dates, ['dayFirst', 'monthFirst', 'early', 'dotted']);
    assert.deepEqual(csv.dateOrders, {
      dayFirst: { order: 'dmy', decided: true },
      monthFirst: { order: 'mdy', decided: true },
      early: { order: 'mdy', decided: false }, // a comma-delimited file: pandas' default, month first
      dotted: { order: 'dmy', decided: true }, // nobody writes month-first dates with points
    });
    assert.deepEqual(Object.keys(csv.categories ?? {}), ['mixed'], 'two separators in one column: not dates');
    const f = csv.features.length;
    // Row 14: 15 March 2024 (d = 15, m = 3); its early column 3/3/2024.
    for (let j = 0; j < 4; j++)
      assert.equal(csv.x[14 * f + j], Math.fround(dateCellDays(j === 2 ? '2024-03-03' : '2024-03-15')));
    // The same undecided column in a ";" file reads day first, as Europe's spreadsheets write it.
    const semicolon = read('t2.csv', `early;label\n${rows.map((r) => `${r[2]};${r[5]}`).join('\n')}\n`);
    assert.deepEqual(semicolon.dateOrders, { early: { order: 'dmy', decided: false } });
    assert.equal(semicolon.x[1], Math.fround(dateCellDays('2024-02-02')));
    assert.equal(semicolon.x[3], Math.fround(dateCellDays('2024-01-04'))); // row 3: 4/1/2024
    // A column whose cells read only day first beside cells that read only month first is no date column.
    const both = read(
      't3.csv',
      `at,label\n${['13/1/2024', '1/13/2024', ...Array(20).fill('1/1/2024')].map((d, i) => `${d},${i % 2}`).join('\n')}\n`,
    );
    assert.deepEqual([both.dates, Object.keys(both.categories ?? {})], [undefined, ['at']]);
  } finally {
    dir.remove();
  }
});

test("a Parquet file's dates and timestamps read as the same days as a CSV's ISO 8601 dates", () => {
  const dir = tempDir();
  try {
    const at = ['2024-01-01T00:00:00Z', '2024-03-10T18:30:00Z', null, '1969-12-31T12:00:00Z'];
    const day = ['2024-01-01', null, '2000-02-29', '1970-01-02'];
    const label = [0, 1, 0, 1];
    const csv = at.map((a, i) => `${a ?? ''},${day[i] ?? ''},${label[i]}`);
    writeFileSync(join(dir.path, 't.csv'), `at,day,label\n${csv.join('\n')}\n`);
    const date = (iso: string | null) => (iso === null ? null : new Date(iso));
    // Microsecond timestamps (pandas' and Spark's unit) and DATE (days), as written by pyarrow.
    const schema = [
      { name: 'root', num_children: 3 },
      {
        name: 'at',
        type: 'INT64' as const,
        converted_type: 'TIMESTAMP_MICROS' as const,
        repetition_type: 'OPTIONAL' as const,
      },
      { name: 'day', type: 'INT32' as const, converted_type: 'DATE' as const, repetition_type: 'OPTIONAL' as const },
      { name: 'label', type: 'INT32' as const, repetition_type: 'REQUIRED' as const },
    ];
    const columnData = [
      { name: 'at', data: at.map(date) },
      { name: 'day', data: day.map(date) },
      { name: 'label', data: Int32Array.from(label) },
    ];
    writeFileSync(join(dir.path, 't.parquet'), new Uint8Array(parquetWriteBuffer({ columnData, schema })));
    const read = (file: string) =>
      openDataset({ uri: `file:${file}` }, { dataRoots: [dir.path], asRead: true }) as TabularDataset;
    const fromCsv = read('t.csv');
    const fromParquet = read('t.parquet');
    assert.deepEqual(
      [fromParquet.features, fromParquet.dates],
      [
        ['at', 'day'],
        ['at', 'day'],
      ],
    );
    assert.deepEqual(fromParquet.dates, fromCsv.dates);
    assert.deepEqual(Array.from(fromParquet.x), Array.from(fromCsv.x));
    assert.equal(fromParquet.x[2], Math.fround(dateCellDays('2024-03-10T18:30Z')));
    assert.equal(fromParquet.x[6], -0.5);
  } finally {
    dir.remove();
  }
});
