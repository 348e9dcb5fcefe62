// file: datasets: a text file or a folder of text files, a folder of images (one folder per class; images.ts),
// CSV or TSV (a header row; a CSV's delimiter may be ";", tab or "|", read from its header), JSON lines, or Parquet
// (a file, or a folder of part files; parquet.ts); text, CSV, TSV and JSON lines may also come gzip- or
// Zstandard-compressed (data.csv.gz). Tabular files use the requested target column, else the one named "label" or
// "target", else the last column: numbers with few distinct integer values, or text, make a classification; other numbers a
// regression.
import { lstatSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, extname, join, relative, sep } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { Decompress as ZstdDecompress } from 'fzstd';
import { FloeError, invalidArgument, resourceExhausted } from '@floe/errors';
import { IMAGE_EXTENSIONS, imageFolderSteps } from './images.js';
import { parquetTable } from './parquet.js';
import { finish, type Steps } from './steps.js';
import { contentKey } from './split-keys.js';
import { orderClasses, type Dataset, type TabularDataset } from './types.js';

const TEXT_EXTENSIONS = new Set([
  '.txt',
  '.md',
  '.ts',
  '.js',
  '.json',
  '.py',
  '.html',
  '.csv',
  '.tsv',
  '.log',
  '.rst',
  '',
]);

/**
 * The text files, images and Parquet files under `dir` at any depth, in name order (one walk; hidden entries
 * skipped).
 */
function listFiles(dir: string, out = { text: [] as string[], images: [] as string[], parquet: [] as string[] }) {
  for (const name of readdirSync(dir).sort()) {
    if (name.startsWith('.')) continue;
    const p = join(dir, name);
    // Links inside a folder are not followed: one could lead out of the data roots, which were checked
    // for the folder alone.
    const s = lstatSync(p);
    if (s.isDirectory()) listFiles(p, out);
    else if (s.isFile() && TEXT_EXTENSIONS.has(extname(uncompressedName(name)))) out.text.push(p);
    else if (s.isFile() && IMAGE_EXTENSIONS.has(extname(name).toLowerCase())) out.images.push(p);
    else if (s.isFile() && extname(name).toLowerCase() === '.parquet') out.parquet.push(p);
  }
  return out;
}

function checkSize(bytes: number, maxBytes: number, what: string): void {
  if (bytes > maxBytes)
    throw resourceExhausted(`${what} is ${bytes} bytes, over the limit of ${maxBytes} (FLOE_MAX_DATASET_BYTES)`);
}

/** A cell as read: CSV gives text; JSON lines may give numbers, booleans, null, objects or arrays. */
type Cell = string | number | boolean | null | object;

/** Cells read as missing: the empty cell and pandas' default `na_values` (read_csv). */
const MISSING_CELLS = new Set([
  '',
  'NA',
  'N/A',
  'n/a',
  'NaN',
  'nan',
  '-NaN',
  '-nan',
  'null',
  'NULL',
  'None',
  '#N/A',
  '<NA>',
]);

const isMissing = (v: Cell | undefined): boolean =>
  v === null ||
  v === undefined ||
  (typeof v === 'number' && Number.isNaN(v)) ||
  (typeof v === 'string' && MISSING_CELLS.has(v.trim()));

/** A cell as a number (booleans 0 / 1, "inf" and "-inf" infinite); NaN when it is not one. */
function numberCell(v: Cell): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (typeof v !== 'string') return NaN;
  const t = v.trim();
  if (t === '') return NaN;
  if (/^[+-]?inf(inity)?$/i.test(t)) return t.startsWith('-') ? -Infinity : Infinity;
  return Number(t);
}

const cellText = (v: Cell): string => (typeof v === 'string' ? v : JSON.stringify(v));

// ISO 8601 as spreadsheets, databases and pandas write it: a date, or a date and a time (T or a space between),
// with seconds, fractions and a zone (Z or ±hh[:mm]) optional.
const ISO_DATE_TIME =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(\.\d{1,9})?)?)?\s*(Z|[+-]\d{2}(?::?\d{2})?)?$/i;
/** Milliseconds in a day: a date column's unit is a day. */
export const DAY_MS = 86_400_000;

// How often a table's reading yields (finishYielding decides whether to give the event loop its turn): every
// 4,096 rows of a column, every 65,536 characters of a CSV.
const ROWS_PER_STEP_MASK = 4095;
const CHARS_PER_STEP_MASK = 65_535;

/**
 * Milliseconds since 1970-01-01 00:00 UTC of a calendar date and time (month 1–12, years from 1000); NaN when it
 * names a day or time that does not exist (2023-02-29, 25:00).
 */
function utcMilliseconds(year: number, month: number, day: number, hour: number, minute: number, second: number) {
  if (!(hour >= 0) || year < 1000 || month < 1 || month > 12 || hour > 23 || minute > 59 || second > 59) return NaN;
  const ms = Date.UTC(year, month - 1, day, hour, minute, second);
  // Date.UTC rolls a day past the month's end into the next month: such a day does not exist.
  return day < 1 || new Date(ms).getUTCDate() !== day ? NaN : ms;
}

// A time after a date that is not ISO's: 13:30, 1:30:15.250 PM (groups: hour, minute, second, fraction, AM/PM).
const CLOCK = String.raw`(?:[ T]+(\d{1,2}):(\d{2})(?::(\d{2})(\.\d{1,9})?)?(?:\s*([ap]m))?)?`;
// A zone after such a time: Z, UTC, GMT, +0200, -05:00.
const ZONE = String.raw`(?:\s*(z|utc|gmt|[+-]\d{2}:?\d{2}))?`;
// English months, in full or cut (Sep, Sept., September); their index is the first three letters'.
const MONTH_NAME = String.raw`(jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t|tember)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?`;
const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
// A weekday before a date (Fri, 12 Jun 1998 as e-mail headers write it), which the date alone decides.
const WEEKDAY = String.raw`(?:(?:mon|tue|wed|thu|fri|sat|sun)[a-z]*\.?,?\s+)?`;
const ORDINAL = '(?:st|nd|rd|th)?';

/**
 * Dates whose cells say which number is which, as logs, e-mails and reports write them (groups: year, month,
 * day, then CLOCK's and ZONE's): year first with slashes or points (2001/01/31 00:47, 2024.05.01); the month by
 * name, before the day (Jun 12 1998, June 12th, 1998 10:30 AM) or after it (12 Jun 1998, 12-Jun-1998,
 * Fri, 12 Jun 1998 10:30:00 +0000). Two-digit years are not read: their century would be a guess.
 */
const WORDED_DATES: { pattern: RegExp; year: number; month: number; day: number }[] = [
  {
    pattern: new RegExp(String.raw`^(\d{4})([/.])(\d{1,2})\2(\d{1,2})${CLOCK}${ZONE}$`, 'i'),
    year: 1,
    month: 3,
    day: 4,
  },
  {
    pattern: new RegExp(String.raw`^${WEEKDAY}${MONTH_NAME}[ -](\d{1,2})${ORDINAL},?[ -](\d{4})${CLOCK}${ZONE}$`, 'i'),
    year: 3,
    month: 1,
    day: 2,
  },
  {
    pattern: new RegExp(String.raw`^${WEEKDAY}(\d{1,2})${ORDINAL}[ -]${MONTH_NAME},?[ -](\d{4})${CLOCK}${ZONE}$`, 'i'),
    year: 3,
    month: 2,
    day: 1,
  },
];

/** A month's number (1–12) from its number or its English name. */
const monthNumber = (text: string) =>
  /^\d/.test(text) ? Number(text) : MONTHS.indexOf(text.slice(0, 3).toLowerCase()) + 1;

/** A zone's offset from UTC in minutes: Z, UTC, GMT, ±hh, ±hhmm, ±hh:mm; 0 without one. */
function zoneOffsetMinutes(zone: string | undefined): number {
  if (!zone || !/^[+-]/.test(zone)) return 0;
  const digits = zone.slice(1).replace(':', '');
  return (zone[0] === '-' ? -1 : 1) * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2) || 0));
}

/**
 * An hour of a CLOCK (12-hour when AM or PM follows: 12 AM is midnight) as 0–23; NaN for an hour a 12-hour
 * clock does not have.
 */
function hourOfDay(hour: number, meridiem: string | undefined): number {
  if (!meridiem) return hour;
  if (hour < 1 || hour > 12) return NaN;
  return (hour % 12) + (meridiem.toUpperCase() === 'PM' ? 12 : 0);
}

/**
 * A date or date-time whose cells say which number is which — ISO 8601, or WORDED_DATES — as days since
 * 1970-01-01 00:00 UTC (a time without a zone is read as UTC); NaN when the cell is not one, or names a day or
 * time that does not exist (2023-02-29, 25:00, Feb 30 2024).
 */
export function dateCellDays(v: Cell): number {
  if (typeof v !== 'string') return NaN;
  const text = v.trim();
  const m = ISO_DATE_TIME.exec(text);
  if (m) {
    const [year, month, day, hour, minute, second] = m.slice(1, 7).map((x) => Number(x ?? 0)) as number[];
    const ms = utcMilliseconds(year!, month!, day!, hour!, minute!, second!);
    const fraction = m[7] ? Number(m[7]) * 1000 : 0;
    return (ms + fraction - zoneOffsetMinutes(m[8]) * 60_000) / DAY_MS;
  }
  for (const form of WORDED_DATES) {
    const w = form.pattern.exec(text);
    if (!w) continue;
    // The clock's groups follow the date's: the last six of the match.
    const [hour, minute, second, fraction, meridiem, zone] = w.slice(-6);
    const ms = utcMilliseconds(
      Number(w[form.year]),
      monthNumber(w[form.month]!),
      Number(w[form.day]),
      hourOfDay(Number(hour ?? 0), meridiem),
      Number(minute ?? 0),
      Number(second ?? 0),
    );
    return (ms + (fraction ? Number(fraction) * 1000 : 0) - zoneOffsetMinutes(zone) * 60_000) / DAY_MS;
  }
  return NaN;
}

/**
 * A date as spreadsheets write it, day and month by number: 5/1/2024, 05.01.2024, 5-1-2024, with a time perhaps
 * (13:30, 1:30:15 PM). Whether 5/1 is the fifth of January or May the first is its column's to decide
 * (numericDateOrder).
 */
const NUMERIC_DATE =
  /^(\d{1,2})([/.-])(\d{1,2})\2(\d{4})(?:[ T]+(\d{1,2}):(\d{2})(?::(\d{2})(\.\d{1,9})?)?(?:\s*([AaPp][Mm]))?)?$/;

/** Which number of a NUMERIC_DATE comes first: the day (most of the world) or the month (the United States). */
export type DayMonthOrder = 'dmy' | 'mdy';

/** A NUMERIC_DATE cell as days since 1970-01-01 00:00 UTC read in `order`; NaN when it is not one or does not exist. */
export function numericDateDays(v: Cell, order: DayMonthOrder): number {
  if (typeof v !== 'string') return NaN;
  const m = NUMERIC_DATE.exec(v.trim());
  if (!m) return NaN;
  const [a, b, year, hour12, minute, second] = [m[1], m[3], m[4], m[5], m[6], m[7]].map((x) =>
    Number(x ?? 0),
  ) as number[];
  const [day, month] = order === 'dmy' ? [a!, b!] : [b!, a!];
  const ms = utcMilliseconds(year!, month, day, hourOfDay(hour12!, m[9]), minute!, second!);
  return (ms + (m[8] ? Number(m[8]) * 1000 : 0)) / DAY_MS;
}

/**
 * How a column of NUMERIC_DATE cells orders day and month, or undefined when it is not such a column (a cell of
 * another form, two separators, or cells that only read one way and cells that only read the other). A first
 * number past 12 says day first, a second past 12 month first; a column where neither happens (every day of it
 * 12 or less) is ambiguous and takes `ambiguousOrder` — `decided` tells which.
 */
function* numericDateOrder(
  c: number,
  rows: Cell[][],
  ambiguousOrder: DayMonthOrder,
): Steps<{ order: DayMonthOrder; decided: boolean } | undefined> {
  let separator: string | undefined;
  let dayFirst = false;
  let monthFirst = false;
  let any = false;
  for (const [i, r] of rows.entries()) {
    if ((i & ROWS_PER_STEP_MASK) === ROWS_PER_STEP_MASK) yield;
    const v = r[c];
    if (isMissing(v)) continue;
    const m = typeof v === 'string' ? NUMERIC_DATE.exec(v.trim()) : null;
    if (!m || (separator !== undefined && m[2] !== separator)) return undefined;
    separator = m[2];
    any = true;
    if (Number(m[1]) > 12) dayFirst = true;
    if (Number(m[3]) > 12) monthFirst = true;
  }
  if (!any || (dayFirst && monthFirst)) return undefined;
  const decided = dayFirst || monthFirst;
  // Nobody writes month-first dates with points (05.01.2024 is the fifth of January wherever it is written).
  const order: DayMonthOrder = dayFirst ? 'dmy' : monthFirst ? 'mdy' : separator === '.' ? 'dmy' : ambiguousOrder;
  const valid = yield* everyRow(rows, (r) => isMissing(r[c]) || !Number.isNaN(numericDateDays(r[c]!, order)));
  return valid ? { order, decided: decided || separator === '.' } : undefined;
}

/** A decimal comma read as a point ("3,5" → "3.5"; a cell with a point or a second comma is left as it is). */
const commaDecimal = (v: Cell): Cell => (typeof v === 'string' && /^[^.,]*,[^.,]*$/.test(v) ? v.replace(',', '.') : v);

/** A number written with a decimal comma, points perhaps grouping its thousands ("1.234,5", "12,75"). */
const COMMA_DECIMAL_NUMBER = /^\s*[+-]?\d{1,3}(?:\.\d{3})*,\d+\s*$|^\s*[+-]?\d+,\d+\s*$/;
/** Points grouping thousands, a decimal comma optional ("1.234,5", "1.000"). */
const POINT_THOUSANDS = /^\s*[+-]?\d{1,3}(?:\.\d{3})+(?:,\d*)?\s*$/;

/** A number with a decimal point ("0.5", ".5"; "1.000" too, which POINT_THOUSANDS tells apart). */
const POINT_DECIMAL_NUMBER = /^\s*[+-]?\d*\.\d+\s*$/;

/** A number read with points grouping thousands before a decimal comma ("1.234,5" → 1234.5, "1.000" → 1000). */
const groupedNumber = (v: Cell) =>
  numberCell(
    typeof v === 'string' && POINT_THOUSANDS.test(v) ? v.replace(/\./g, '').replace(',', '.') : commaDecimal(v),
  );
/** A number read with a point as the decimal point, a lone comma as one too. */
const pointNumber = (v: Cell) => numberCell(commaDecimal(v));

/**
 * How each column of a ";"-delimited file reads numbers. A column that writes decimal commas ("12,75") has points
 * grouping thousands ("1.234,5" and "1.000" are 1234.5 and 1000, as Excel writes them across most of Europe); one
 * that writes a point no grouping can explain ("0.5") has decimal points, so that a file of ";" and points reads as
 * it is written. A column that shows neither (integers, "1.000") follows the file: grouping thousands when another
 * column writes decimal commas (one locale wrote the file), else decimal points.
 */
function* semicolonNumberSteps(rows: Cell[][], columns: number): Steps<(c: number) => (v: Cell) => number> {
  const commas = new Uint8Array(columns);
  const points = new Uint8Array(columns);
  for (const [i, r] of rows.entries()) {
    if ((i & ROWS_PER_STEP_MASK) === ROWS_PER_STEP_MASK) yield;
    for (let c = 0; c < columns; c++) {
      const v = r[c];
      if (typeof v !== 'string') continue;
      if (!commas[c] && COMMA_DECIMAL_NUMBER.test(v)) commas[c] = 1;
      else if (!points[c] && POINT_DECIMAL_NUMBER.test(v) && !POINT_THOUSANDS.test(v)) points[c] = 1;
    }
  }
  const fileWritesDecimalCommas = commas.includes(1);
  return (c) => (commas[c] || (!points[c] && fileWritesDecimalCommas) ? groupedNumber : pointNumber);
}

/** Commas grouping thousands before an optional decimal point ("1,234", "12,500.75"), as US spreadsheets write. */
const COMMA_THOUSANDS = /^\s*[+-]?\d{1,3}(?:,\d{3})+(?:\.\d+)?\s*$/;

/** A number with its thousands' commas taken out ("12,500.75" → 12500.75). */
const commaGroupedNumber = (v: Cell) => numberCell(typeof v === 'string' ? v.replace(/,/g, '') : v);

/**
 * How each column of a file not delimited by ";" reads numbers: one whose cells are numbers, some with commas
 * grouping thousands ("1,234", quoted in a CSV) and the rest plain, reads them without the commas; any other
 * column reads numbers as they are (a lone "12,5" is no number there: such a column stays categorical).
 */
function* commaThousandsNumberSteps(rows: Cell[][], columns: number): Steps<(c: number) => (v: Cell) => number> {
  const grouped = new Uint8Array(columns);
  const other = new Uint8Array(columns);
  for (const [i, r] of rows.entries()) {
    if ((i & ROWS_PER_STEP_MASK) === ROWS_PER_STEP_MASK) yield;
    for (let c = 0; c < columns; c++) {
      const v = r[c];
      if (other[c] || typeof v !== 'string' || !v.includes(',')) continue;
      if (COMMA_THOUSANDS.test(v)) grouped[c] = 1;
      else other[c] = 1;
    }
  }
  return (c) => (grouped[c] && !other[c] ? commaGroupedNumber : numberCell);
}

/** A percentage ("12.5%", "-3 %"): the number before the sign. */
const PERCENT = /^\s*(.*?\d)\s*%\s*$/;
/** An amount of money with its symbol before or after it ("$1,234.50", "-$5", "€ 12,50", "12,50 €", "£3"). */
const CURRENCY = /^\s*([+-]?)\s*([$€£¥₹])\s*([+-]?[\d.,]*\d)\s*$|^\s*([+-]?[\d.,]*\d)\s*([$€£¥₹])\s*$/;

/**
 * How each column reads numbers once percentages and amounts of money are known: a column whose every cell is a
 * percentage reads them as fractions ("12.5%" → 0.125), one whose every cell is an amount with the same currency
 * symbol reads the amounts ("$1,234.50" → 1234.5; the number read as its file writes numbers, thousands grouped);
 * any other column reads as `plainNumberOf` says. A column that mixes them (or "%" with plain numbers) is left
 * as it was: categorical.
 */
function* percentAndCurrencySteps(
  rows: Cell[][],
  columns: number,
  plainNumberOf: (c: number) => (v: Cell) => number,
  semicolonFile: boolean,
): Steps<(c: number) => (v: Cell) => number> {
  // The number inside: as the file writes numbers, thousands grouped by points (";" files) or commas.
  const inner = semicolonFile
    ? groupedNumber
    : (t: string) => (COMMA_THOUSANDS.test(t) ? commaGroupedNumber(t) : numberCell(t));
  const kind: ('percent' | string | null | undefined)[] = new Array(columns).fill(undefined);
  for (const [i, r] of rows.entries()) {
    if ((i & ROWS_PER_STEP_MASK) === ROWS_PER_STEP_MASK) yield;
    for (let c = 0; c < columns; c++) {
      const v = r[c];
      if (kind[c] === null || isMissing(v)) continue;
      let cellKind: string | null = null;
      if (typeof v === 'string') {
        const p = PERCENT.exec(v);
        const m = p ? null : CURRENCY.exec(v);
        if (p && !Number.isNaN(inner(p[1]!))) cellKind = 'percent';
        else if (m && !Number.isNaN(inner(m[3] ?? m[4]!))) cellKind = m[2] ?? m[5]!;
      }
      kind[c] = kind[c] === undefined || kind[c] === cellKind ? cellKind : null;
    }
  }
  const percent = (v: Cell) => inner(PERCENT.exec(v as string)![1]!) / 100;
  const money = (v: Cell) => {
    const m = CURRENCY.exec(v as string)!;
    return (m[1] === '-' ? -1 : 1) * inner(m[3] ?? m[4]!);
  };
  return (c) => (kind[c] === 'percent' ? percent : kind[c] ? money : plainNumberOf(c));
}

/**
 * Rows of cells under a header → a tabular dataset. Each column is numeric when every cell that is not missing
 * reads as a number, a date when every one reads as an ISO 8601 date or date-time (then its days since 1970-01-01
 * UTC: a number, where a category per day would be as many one-hot inputs as days), else categorical (every cell a
 * category, numbers included): deciding per cell would put numbers and category codes in one column. Rows without
 * a target are left out and counted. `storedDays` are columns a typed file stored as dates (Parquet), whose cells
 * are already days.
 */
function* tabularSteps(
  name: string,
  rawHeader: string[],
  rows: Cell[][],
  decimalComma: boolean,
  read: FileReadOptions,
  storedDays: readonly string[] = [],
): Steps<TabularDataset> {
  // A file delimited by ";" writes decimals with a comma (the spreadsheets of most of Europe do both); others may
  // group thousands with commas.
  const plainNumberOf = decimalComma
    ? yield* semicolonNumberSteps(rows, rawHeader.length)
    : yield* commaThousandsNumberSteps(rows, rawHeader.length);
  const cellNumberOf = yield* percentAndCurrencySteps(rows, rawHeader.length, plainNumberOf, decimalComma);
  const header = rawHeader.map((h, i) => (h.trim() === '' ? `column_${i + 1}` : h));
  if (header.length < (read.featuresOnly ? 1 : 2))
    throw new FloeError('invalid_argument', `${name}: a tabular file needs at least two columns`);
  const twice = header.find((h, i) => header.indexOf(h) !== i);
  if (twice !== undefined)
    throw new FloeError('invalid_argument', `${name}: column ${JSON.stringify(twice)} appears twice in the header`);
  const ignored = ignoredColumnIndices(name, header, read);
  if (read.featuresOnly)
    return yield* featureColumnSteps(name, header, rows, cellNumberOf, storedDays, decimalComma, read, ignored);
  let t = read.targetColumn
    ? header.indexOf(read.targetColumn)
    : header.findIndex((h) => h === 'label' || h === 'target');
  if (t < 0 && read.targetColumn)
    throw invalidArgument(
      'target_column',
      `${name} has no column ${JSON.stringify(read.targetColumn)}; its columns: ${header.join(', ')}`,
    );
  if (t < 0) t = header.length - 1;
  // A default target is not passed over for the next column: which one the model learns is said, not guessed.
  if (ignored.has(t))
    throw invalidArgument(
      `ignore_columns[${read.ignoreColumns!.indexOf(header[t]!)}]`,
      `${JSON.stringify(header[t])} is the target column${read.targetColumn ? '' : ' (by default: the one named label or target, else the last)'}; a target cannot be left out${read.targetColumn ? '' : ' — name the column to learn in target_column'}`,
    );
  if (header.length - ignored.size < 2)
    throw invalidArgument(
      'ignore_columns',
      `leaves ${name} no column to read beside its target ${JSON.stringify(header[t])}`,
    );
  const cellNumber = cellNumberOf(t);
  // An infinite target has no loss to learn from: left out like a missing one.
  const labelled = rows.filter((r) => !isMissing(r[t]) && Math.abs(cellNumber(r[t]!)) !== Infinity);
  if (labelled.length === 0)
    throw new FloeError(
      'invalid_argument',
      `${name}: no row has a value in the target column ${JSON.stringify(header[t])}`,
    );
  const featureIdx = header.map((_, i) => i).filter((i) => i !== t && !ignored.has(i));
  const { x, categories, dates, dateOrders, identifiers } = yield* encodeColumnSteps(
    labelled,
    featureIdx,
    header,
    cellNumberOf,
    storedDays,
    ambiguousDateOrder(decimalComma),
  );
  const splitKeys = yield* rowSplitKeySteps(header, labelled);
  const tv = labelled.map((r) => r[t]!);
  const numericTarget = yield* numericColumn(t, labelled, cellNumber);
  const targetNumbers = numericTarget ? tv.map(cellNumber) : [];
  const distinct = new Set(numericTarget ? targetNumbers.map(String) : tv.map(cellText));
  const isClass = !numericTarget || (distinct.size <= 20 && targetNumbers.every((v) => Number.isInteger(v)));
  const base = {
    kind: 'tabular' as const,
    name,
    splitKeys,
    features: featureIdx.map((i) => header[i]!),
    x,
    rows: labelled.length,
    categories,
    ...(dates.length > 0 && { dates }),
    ...(Object.keys(dateOrders).length > 0 && { dateOrders }),
    ...(identifiers.length > 0 && { identifiers }),
    ...(ignored.size > 0 && { ignoredColumns: [...ignored].map((i) => header[i]!) }),
    ...(labelled.length < rows.length && { rowsWithoutTarget: rows.length - labelled.length }),
  };
  if (isClass) {
    const classes = orderClasses(distinct);
    const keys = numericTarget ? targetNumbers.map(String) : tv.map(cellText);
    return {
      ...base,
      target: { type: 'class', labels: Int32Array.from(keys, (k) => classes.indexOf(k)), classes, name: header[t]! },
    };
  }
  return { ...base, target: { type: 'regression', y: Float32Array.from(targetNumbers), names: [header[t]!] } };
}

/**
 * The header's indices of the columns a read was asked to leave out (FileReadOptions.ignoreColumns), in the order
 * asked; INVALID_ARGUMENT naming `ignore_columns[i]` for a column the table lacks or one named twice.
 */
function ignoredColumnIndices(name: string, header: string[], read: FileReadOptions): Set<number> {
  const ignored = new Set<number>();
  for (const [i, column] of (read.ignoreColumns ?? []).entries()) {
    const c = header.indexOf(column);
    if (c < 0)
      throw invalidArgument(
        `ignore_columns[${i}]`,
        `${name} has no column ${JSON.stringify(column)}; its columns: ${header.join(', ')}`,
      );
    if (ignored.has(c)) throw invalidArgument(`ignore_columns[${i}]`, `${JSON.stringify(column)} is named twice`);
    ignored.add(c);
  }
  return ignored;
}

/** Whether every cell of column `c` that is not missing reads as a number. */
const numericColumn = (c: number, rows: Cell[][], cellNumber: (v: Cell) => number) =>
  everyRow(rows, (r) => isMissing(r[c]) || !Number.isNaN(cellNumber(r[c]!)));

/**
 * Which number comes first in a column of 5/1/2024-style dates whose cells do not say: the day in a file delimited
 * by ";" (the spreadsheets of most of Europe write it), else the month (pandas' default, as the United States).
 */
const ambiguousDateOrder = (semicolonFile: boolean): DayMonthOrder => (semicolonFile ? 'dmy' : 'mdy');

/** Whether column `c` has a value and every one that is not missing reads as a date (dateCellDays). */
function* dateColumn(c: number, rows: Cell[][]): Steps<boolean> {
  return (
    rows.some((r) => !isMissing(r[c])) &&
    (yield* everyRow(rows, (r) => isMissing(r[c]) || !Number.isNaN(dateCellDays(r[c]!))))
  );
}

/** Whether `holds` is true of every row, yielding as it goes. */
function* everyRow(rows: Cell[][], holds: (row: Cell[]) => boolean): Steps<boolean> {
  for (const [i, r] of rows.entries()) {
    if ((i & ROWS_PER_STEP_MASK) === ROWS_PER_STEP_MASK) yield;
    if (!holds(r)) return false;
  }
  return true;
}

/** What encodeColumnSteps makes of a table's columns. */
interface EncodedColumns {
  x: Float32Array;
  categories: Record<string, string[]>;
  dates: string[];
  /** Date columns written day and month by number (5/1/2024): which comes first, and whether the cells said so. */
  dateOrders: Record<string, { order: DayMonthOrder; decided: boolean }>;
  identifiers: string[];
}

/**
 * Columns `columns` of `rows` as a row-major table: numbers as they read, dates as days since 1970-01-01 UTC
 * (`storedDays` are date columns whose cells are already days; a column of 5/1/2024-style dates whose cells do not
 * say which number is the day takes `ambiguousOrder`), other columns as category codes.
 */
function* encodeColumnSteps(
  rows: Cell[][],
  columns: number[],
  header: string[],
  cellNumberOf: (c: number) => (v: Cell) => number,
  storedDays: readonly string[],
  ambiguousOrder: DayMonthOrder,
): Steps<EncodedColumns> {
  const categories: Record<string, string[]> = {};
  const dates: string[] = [];
  const dateOrders: EncodedColumns['dateOrders'] = {};
  const identifiers: string[] = [];
  const x = new Float32Array(rows.length * columns.length);
  for (const [j, c] of columns.entries()) {
    const cellNumber = cellNumberOf(c);
    const numeric = yield* numericColumn(c, rows, cellNumber);
    const isoDate = !numeric && (yield* dateColumn(c, rows));
    const written = !numeric && !isoDate ? yield* numericDateOrder(c, rows, ambiguousOrder) : undefined;
    const date = storedDays.includes(header[c]!) || isoDate || written !== undefined;
    if (date) dates.push(header[c]!);
    if (written) dateOrders[header[c]!] = written;
    const dateDays = written ? (v: Cell) => numericDateDays(v, written.order) : dateCellDays;
    const codes = new Map<string, number>();
    for (const [i, r] of rows.entries()) {
      if ((i & ROWS_PER_STEP_MASK) === ROWS_PER_STEP_MASK) yield;
      const v = r[c];
      let value = NaN; // missing
      if (!isMissing(v) && numeric) value = cellNumber(v!);
      else if (!isMissing(v) && date) value = dateDays(v!);
      else if (!isMissing(v)) {
        const text = cellText(v!);
        if (!codes.has(text)) codes.set(text, codes.size);
        value = codes.get(text)!;
      }
      x[i * columns.length + j] = value;
    }
    if (!numeric && !date) categories[header[c]!] = [...codes.keys()];
    const cellValue = (i: number) => (isMissing(rows[i]![c]) ? NaN : cellNumber(rows[i]![c]!));
    if (!date && (yield* identifierColumn(rows.length, header[c]!, numeric ? cellValue : codes)))
      identifiers.push(header[c]!);
  }
  return { x, categories, dates, dateOrders, identifiers };
}

/** A table needs this many rows before a column whose values are all distinct reads as an identifier. */
export const MIN_IDENTIFIER_ROWS = 20;
/** The share of a table's rows a text column's distinct values reach to name rows (identifierColumn). */
export const NEARLY_UNIQUE = 0.9;

/**
 * Names that say a column identifies rows: id, uuid, key, index, row…, customer_id, customerId, ID, pandas'
 * unnamed index ("Unnamed: 0"; an empty header reads as column_1).
 */
const IDENTIFIER_NAME =
  /^(id|uuid|guid|key|index|idx|row|rowid|row[_ -]?(id|number|no)|unnamed: ?\d+|column_1)$|[_ .-]id$|[a-z]Id$|ID$|^id[_ .-]/i;

/**
 * Whether a column (its categories, or each row's number) identifies rows rather than describes them, in a table
 * of at least MIN_IDENTIFIER_ROWS rows: text with as many distinct values as nine rows in ten or more (e-mail
 * addresses with a few repeats, names, free text: as one-hot or a code it says nothing of any other row, and two
 * tables share almost none of it), or whole numbers, a value in every row, each one distinct, under a name that
 * says so — a column `year`, one row a year, is all distinct and whole too, and means something. Models do not
 * read identifiers, and drift on them (new rows, new ids) is not drift.
 */
function* identifierColumn(
  rows: number,
  name: string,
  values: Map<string, number> | ((row: number) => number),
): Steps<boolean> {
  if (rows < MIN_IDENTIFIER_ROWS) return false;
  if (values instanceof Map) return values.size >= NEARLY_UNIQUE * rows;
  if (!IDENTIFIER_NAME.test(name.trim())) return false;
  // Numbers as the cells read them (float64): ids past 2^24 would collide as the float32 a model reads.
  const seen = new Set<number>();
  for (let i = 0; i < rows; i++) {
    if ((i & ROWS_PER_STEP_MASK) === ROWS_PER_STEP_MASK) yield;
    const v = values(i);
    if (!Number.isInteger(v) || seen.has(v)) return false;
    seen.add(v);
  }
  return true;
}

/**
 * Each row's identity for its split: its cells by column name (so reordered columns keep it), missing as null —
 * the same key whether or not the row is read with its target.
 */
function* rowSplitKeySteps(header: string[], rows: Cell[][]): Steps<Float64Array> {
  const byName = header.map((_, i) => i).sort((a, b) => (header[a]! < header[b]! ? -1 : 1));
  const keys = new Float64Array(rows.length);
  for (const [k, r] of rows.entries()) {
    if ((k & ROWS_PER_STEP_MASK) === ROWS_PER_STEP_MASK) yield;
    keys[k] = contentKey(JSON.stringify(byName.map((i) => [header[i], isMissing(r[i]) ? null : cellText(r[i]!)])));
  }
  return keys;
}

/**
 * Every column of a table as a feature, every row kept (a target column, if the file has one, is a column like
 * the others): what a model is asked to predict from. The target is left empty; only openPredictionInputs reads
 * this.
 */
function* featureColumnSteps(
  name: string,
  header: string[],
  rows: Cell[][],
  cellNumberOf: (c: number) => (v: Cell) => number,
  storedDays: readonly string[],
  decimalComma: boolean,
  read: FileReadOptions,
  ignored: ReadonlySet<number>,
): Steps<TabularDataset> {
  const textColumn = read.textColumn;
  const columns = header.map((_, i) => i).filter((i) => !ignored.has(i));
  if (columns.length === 0) throw invalidArgument('ignore_columns', `leaves ${name} no column to read`);
  const { x, categories, dates, dateOrders, identifiers } = yield* encodeColumnSteps(
    rows,
    columns,
    header,
    cellNumberOf,
    storedDays,
    ambiguousDateOrder(decimalComma),
  );
  const splitKeys = yield* rowSplitKeySteps(header, rows);
  const t = textColumn === undefined ? -1 : header.indexOf(textColumn);
  return {
    ...(t >= 0 && {
      columnText: { name: textColumn!, values: rows.map((r) => (isMissing(r[t]) ? null : cellText(r[t]!))) },
    }),
    kind: 'tabular',
    name,
    splitKeys,
    features: columns.map((i) => header[i]!),
    x,
    rows: rows.length,
    categories,
    ...(dates.length > 0 && { dates }),
    ...(Object.keys(dateOrders).length > 0 && { dateOrders }),
    ...(identifiers.length > 0 && { identifiers }),
    ...(ignored.size > 0 && { ignoredColumns: [...ignored].map((i) => header[i]!) }),
    target: { type: 'regression', y: new Float32Array(0), names: [] },
  };
}

/** How a file is read: as a dataset (a table's target taken out), or a table's columns all as features. */
export interface FileReadOptions {
  featuresOnly?: boolean;
  /** A table's target column (INVALID_ARGUMENT on "target_column" when it lacks it); else "label", "target", the last. */
  targetColumn?: string;
  /** Features only: a column whose cells are also kept as text, row by row (an identifier to join results on). */
  textColumn?: string;
  /**
   * A table's columns to leave out (INVALID_ARGUMENT on "ignore_columns[i]" for one it lacks, or the target): not
   * features; rows split as if they were read.
   */
  ignoreColumns?: readonly string[];
}

/**
 * Records (column → value, as JSON lines hold them) as a table: every key any record has is a column, in the
 * order the keys first appear; a record without one has it missing. Nested values read as their JSON text.
 */
export function tableOfRecords(
  name: string,
  records: readonly Record<string, unknown>[],
  read: FileReadOptions,
): TabularDataset {
  return finish(tableOfRecordSteps(name, records, read));
}

function* tableOfRecordSteps(
  name: string,
  records: readonly Record<string, unknown>[],
  read: FileReadOptions,
): Steps<TabularDataset> {
  const header = [...new Set(records.flatMap((r) => Object.keys(r)))];
  return yield* tabularSteps(
    name,
    header,
    records.map((r) => header.map((h) => (r[h] ?? null) as Cell)),
    false,
    read,
  );
}

/**
 * RFC 4180 CSV: quoted fields may hold commas, doubled quotes and line breaks; records end at CRLF or LF.
 * Returns each record's cells and the line it starts on (for errors); blank lines are skipped.
 */
function* parseCsvSteps(text: string, delimiter = ','): Steps<{ cells: string[]; line: number }[]> {
  const records: { cells: string[]; line: number }[] = [];
  let cells: string[] = [];
  let cur = '';
  let quoted = false;
  let line = 1;
  let start = 1;
  const endRecord = () => {
    cells.push(cur);
    if (cells.length > 1 || cells[0]!.trim() !== '') records.push({ cells, line: start });
    cells = [];
    cur = '';
  };
  for (let i = 0; i < text.length; i++) {
    if ((i & CHARS_PER_STEP_MASK) === CHARS_PER_STEP_MASK) yield;
    const ch = text[i]!;
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        cur += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else {
        if (ch === '\n') line++;
        cur += ch;
      }
    } else if (ch === '"') quoted = true;
    else if (ch === delimiter) {
      cells.push(cur);
      cur = '';
    } else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && text[i + 1] === '\n') i++;
      endRecord();
      line++;
      start = line;
    } else cur += ch;
  }
  if (cur !== '' || cells.length > 0) endRecord();
  return records;
}

/** Compressed files read as what they hold (`data.csv.gz` is a CSV): gzip by Node, Zstandard by fzstd. */
const COMPRESSIONS: Record<string, (bytes: Buffer, maxBytes: number) => Buffer> = {
  '.gz': (bytes, maxBytes) => gunzipSync(bytes, { maxOutputLength: maxBytes }),
  '.zst': (bytes, maxBytes) => {
    // Streamed, so that a frame that expands past the limit stops there rather than being allocated whole.
    const chunks: Uint8Array[] = [];
    let total = 0;
    const stream = new ZstdDecompress((chunk) => {
      total += chunk.length;
      if (total > maxBytes) throw Object.assign(new RangeError('over the limit'), { code: 'ERR_BUFFER_TOO_LARGE' });
      chunks.push(chunk);
    });
    stream.push(bytes, true);
    return Buffer.concat(chunks);
  },
};

/** A file's name without a compression suffix: what decides how it is read. */
const uncompressedName = (name: string) =>
  COMPRESSIONS[extname(name).toLowerCase()] ? name.slice(0, -extname(name).length) : name;

/**
 * A file's bytes, decompressed when its name says so; what it decompresses to counts against `maxBytes` (a small
 * file can hold far more), and a file its suffix does not match is INVALID_ARGUMENT.
 */
function fileBytes(path: string, maxBytes: number): Buffer {
  const raw = readFileSync(path);
  const suffix = extname(path).toLowerCase();
  const decompress = COMPRESSIONS[suffix];
  if (!decompress) return raw;
  try {
    return decompress(raw, maxBytes);
  } catch (err) {
    if ((err as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE')
      throw resourceExhausted(
        `${path} decompresses to more than ${maxBytes} bytes, the limit (FLOE_MAX_DATASET_BYTES)`,
      );
    throw new FloeError(
      'invalid_argument',
      `${basename(path)}: not a ${suffix === '.gz' ? 'gzip' : 'Zstandard'} file that can be read (${(err as Error).message})`,
    );
  }
}

/**
 * Text by its byte order mark: UTF-16 (little- or big-endian; Windows tools write it) decoded, a UTF-8 mark
 * dropped (spreadsheets write one; it would join the first name), else UTF-8.
 */
function decodeText(bytes: Buffer): string {
  if (bytes[0] === 0xff && bytes[1] === 0xfe) return new TextDecoder('utf-16le').decode(bytes.subarray(2));
  if (bytes[0] === 0xfe && bytes[1] === 0xff) return new TextDecoder('utf-16be').decode(bytes.subarray(2));
  return bytes.toString('utf8').replace(/^\uFEFF/, '');
}

/**
 * A table file's text; a file holding NUL bytes is refused by name: no table writes them, and read as text it
 * would fail later with a message about its header or its first line.
 */
function tableText(bytes: Buffer, name: string): string {
  const text = decodeText(bytes);
  if (text.includes('\0'))
    throw new FloeError(
      'invalid_argument',
      `${name}: holds NUL bytes, so it is not a text table (a binary file, or UTF-16 without its byte order mark: save it as UTF-8)`,
    );
  return text;
}

/** A text document's bytes: UTF-8, a UTF-16 file (by its byte order mark) re-encoded, so models read its text. */
function documentBytes(bytes: Buffer): Uint8Array {
  const utf16 = (bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes[0] === 0xfe && bytes[1] === 0xff);
  return new Uint8Array(utf16 ? Buffer.from(decodeText(bytes), 'utf8') : bytes);
}

/** Delimiters a delimited file may use besides the comma. */
const DELIMITERS = [',', ';', '\t', '|'];

/**
 * A CSV's delimiter: the one its header line holds most often outside quotes (a comma on a tie or when it holds
 * none — one column), as spreadsheets export with ";" where the comma is the decimal mark.
 */
function sniffDelimiter(text: string): string {
  const counts = new Map(DELIMITERS.map((d) => [d, 0]));
  let quoted = false;
  for (const ch of text) {
    if (ch === '"') quoted = !quoted;
    else if (!quoted && (ch === '\n' || ch === '\r')) break;
    else if (!quoted && counts.has(ch)) counts.set(ch, counts.get(ch)! + 1);
  }
  return DELIMITERS.reduce((best, d) => (counts.get(d)! > counts.get(best)! ? d : best), ',');
}

/** Reads a file or folder as a dataset (loadFile), yielding between the files of a folder. */
export function* fileSteps(path: string, maxBytes: number, read: FileReadOptions = {}): Steps<Dataset> {
  const s = statSync(path);
  const name = basename(path);
  if (s.isDirectory()) {
    const { text: listed, images, parquet } = listFiles(path);
    if (parquet.length > 0) {
      // A table written in parts (Spark's part-*.parquet, beside its _SUCCESS marker and any notes).
      if (images.length > 0)
        throw new FloeError(
          'invalid_argument',
          `${name}: the folder holds Parquet files (e.g. ${relative(path, parquet[0]!)}) and images (e.g. ${relative(path, images[0]!)}); it is read as one or the other`,
        );
      checkSize(
        parquet.reduce((n, f) => n + statSync(f).size, 0),
        maxBytes,
        path,
      );
      const { header, rows, dateColumns } = yield* parquetTable(parquet, path, maxBytes);
      return yield* tabularSteps(name, header, rows as Cell[][], false, read, dateColumns);
    }
    // Beside class folders of images, top-level text files are a dataset's notes (README, LICENSE, labels.csv),
    // skipped as torchvision's ImageFolder skips them; a text file inside a class folder stays ambiguous.
    const files = images.length > 0 ? listed.filter((f) => relative(path, f).includes(sep)) : listed;
    if (files.length > 0 && images.length > 0)
      throw new FloeError(
        'invalid_argument',
        `${name}: the folder holds ${files.length} text file${files.length === 1 ? '' : 's'} (e.g. ${relative(path, files[0]!)}) and ${images.length} image${images.length === 1 ? '' : 's'} (e.g. ${relative(path, images[0]!)}); a folder is read as text documents or as images in a folder per class, not both`,
      );
    const chosen = images.length > 0 ? images : files;
    checkSize(
      chosen.reduce((n, f) => n + statSync(f).size, 0),
      maxBytes,
      path,
    );
    if (images.length > 0) return yield* imageFolderSteps(path, name, images, maxBytes, read);
    const documents: Uint8Array[] = [];
    let total = 0;
    for (const f of files) {
      documents.push(documentBytes(fileBytes(f, maxBytes)));
      // Compressed documents count as what they hold.
      checkSize((total += documents.at(-1)!.length), maxBytes, path);
      yield;
    }
    return { kind: 'text', name, documents, splitKeys: Float64Array.from(documents, contentKey) };
  }
  checkSize(s.size, maxBytes, path);
  const ext = extname(uncompressedName(path)).toLowerCase();
  if (ext === '.csv' || ext === '.tsv') {
    const text = tableText(fileBytes(path, maxBytes), name);
    const delimiter = ext === '.tsv' ? '\t' : sniffDelimiter(text);
    const [head, ...records] = yield* parseCsvSteps(text, delimiter);
    if (!head || records.length === 0)
      throw new FloeError(
        'invalid_argument',
        `${name}: a ${ext === '.tsv' ? 'TSV' : 'CSV'} file needs a header and at least one row`,
      );
    const long = records.find((r) => r.cells.length > head.cells.length);
    if (long)
      throw new FloeError(
        'invalid_argument',
        `${name}: line ${long.line} has ${long.cells.length} fields where the header has ${head.cells.length}`,
      );
    // A short row's missing fields are missing values.
    return yield* tabularSteps(
      name,
      head.cells,
      records.map((r) => r.cells),
      delimiter === ';',
      read,
    );
  }
  if (ext === '.parquet') {
    const { header, rows, dateColumns } = yield* parquetTable([path], dirname(path), maxBytes);
    return yield* tabularSteps(name, header, rows as Cell[][], false, read, dateColumns);
  }
  if (ext === '.jsonl' || ext === '.ndjson') {
    const records = tableText(fileBytes(path, maxBytes), name)
      .split(/\r?\n/)
      .map((l, i) => ({ l, i }))
      .filter(({ l }) => l.trim() !== '')
      .map(({ l, i }) => {
        let record: unknown;
        try {
          record = JSON.parse(l);
        } catch {
          throw new FloeError('invalid_argument', `${name}: line ${i + 1} is not JSON`);
        }
        if (typeof record !== 'object' || record === null || Array.isArray(record))
          throw new FloeError('invalid_argument', `${name}: line ${i + 1} is not a JSON object`);
        return record as Record<string, Cell>;
      });
    if (records.length === 0) throw new FloeError('invalid_argument', `${name}: no records`);
    return yield* tableOfRecordSteps(name, records, read);
  }
  return { kind: 'text', name, documents: [documentBytes(fileBytes(path, maxBytes))] };
}

/** Loads a resolved path (already checked against the data roots). */
export const loadFile = (path: string, maxBytes: number): Dataset => finish(fileSteps(path, maxBytes));
