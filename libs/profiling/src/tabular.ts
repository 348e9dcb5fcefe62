// Tabular and image profiles, and the per-feature drift of any two datasets of the same kind.
import { finish, type Dataset, type ImageDataset, type Steps, type TabularDataset, type TextDataset } from '@floe/data';
import {
  categoricalDrift,
  numericDrift,
  worstVerdict,
  type DriftThresholds,
  type FeatureDrift,
  type Verdict,
} from './drift.js';
import { binOf, distinctSorted, meanStd, quantileSorted, sortedFinite, DEFAULT_QUANTILES } from './stats.js';
import type { Histogram } from './text.js';
import { valueCountSteps } from './value-counts.js';

export interface ColumnProfile {
  name: string;
  /**
   * numeric, integer, boolean, categorical, datetime, constant, empty (every value missing), or identifier (names
   * each row: TabularDataset.identifiers; a numeric one keeps its numbers' statistics).
   */
  inferredType: string;
  /** Missing values (NaN). */
  missing: number;
  /** Infinite values (±∞): not missing, but outside the mean, quantiles and histogram. */
  infinite: number;
  distinct: number;
  mean: number;
  std: number;
  quantiles: number[];
  /** Categorical: at most MAX_LISTED_CATEGORIES labels; `otherCategories` more categories hold `otherCount` values. */
  histogram: Histogram & { labels: string[]; otherCategories?: number; otherCount?: number };
}

export interface TabularProfile {
  rows: number;
  /** The feature columns. */
  columns: ColumnProfile[];
  /** The target: the class column (categorical), or each regression target. */
  targets: ColumnProfile[];
  /** Rows of the file left out because their target was missing. */
  rowsWithoutTarget: number;
  /** Pearson correlations between numeric columns (pairwise complete rows), row-major. */
  correlations: { names: string[]; values: number[] };
}

function column(d: TabularDataset, c: number): Float64Array {
  const out = new Float64Array(d.rows);
  const f = d.features.length;
  for (let r = 0; r < d.rows; r++) out[r] = d.x[r * f + c]!;
  return out;
}

function inferType(sorted: Float64Array, infinite: number, categories?: string[], date = false): string {
  if (categories) return 'categorical';
  if (date) return 'datetime';
  // No finite value: nothing to call integer or constant.
  if (sorted.length === 0) return infinite === 0 ? 'empty' : 'numeric';
  if (sorted.length && sorted[0] === sorted.at(-1)) return 'constant';
  let integer = true;
  for (const v of sorted) if (!Number.isInteger(v)) integer = false;
  if (integer && sorted.length && sorted[0]! >= 0 && sorted.at(-1)! <= 1) return 'boolean';
  return integer ? 'integer' : 'numeric';
}

/**
 * One column's profile; `categories` (the text of each code) makes it categorical, `date` a datetime (its values
 * days since 1970-01-01 UTC, profiled as numbers).
 */
function profileColumn(
  name: string,
  values: Float64Array,
  bins: number,
  categories?: string[],
  date = false,
  identifier = false,
): ColumnProfile {
  const sorted = sortedFinite(values);
  let infinite = 0;
  for (const v of values) if (v === Infinity || v === -Infinity) infinite++;
  const distinct = distinctSorted(sorted);
  // Text that names each row: its values are the rows' names, not a distribution (no histogram of a million
  // labels counted once each).
  if (identifier && categories)
    return {
      name,
      inferredType: 'identifier',
      missing: values.length - sorted.length,
      infinite: 0,
      distinct,
      mean: 0,
      std: 0,
      quantiles: [],
      histogram: { edges: [], labels: [], counts: [] },
    };
  const type = identifier ? 'identifier' : inferType(sorted, infinite, categories, date);
  // Categories' codes are numbers without an order or a scale: no mean, no std (0, as the contract says).
  const { mean, std } = type === 'categorical' ? { mean: 0, std: 0 } : meanStd(sorted);
  let histogram: ColumnProfile['histogram'];
  if (type === 'categorical') {
    const all = new Array<number>(categories!.length).fill(0);
    for (const v of sorted) all[v]!++;
    histogram = listedCategories(categories!, all);
  } else if (type === 'constant') {
    histogram = { edges: [sorted[0]!, sorted[0]!], labels: [], counts: [sorted.length] };
  } else {
    const lo = sorted[0] ?? 0;
    const hi = Math.max(lo + 1e-12, sorted.at(-1) ?? 1);
    const edges = Array.from({ length: bins + 1 }, (_, i) => lo + ((hi - lo) * i) / bins);
    const counts = new Array<number>(bins).fill(0);
    const inner = edges.slice(1, -1);
    for (const v of sorted) counts[Math.min(bins - 1, binOf(inner, v))]!++;
    histogram = { edges, labels: [], counts };
  }
  return {
    name,
    inferredType: type,
    missing: values.length - sorted.length - infinite,
    infinite,
    distinct,
    mean,
    std,
    quantiles: type === 'categorical' ? [] : DEFAULT_QUANTILES.map((q) => quantileSorted(sorted, q)),
    histogram,
  };
}

/**
 * The most categories a profile's histogram lists: a column of near-unique text (e-mail addresses with a few
 * repeats) in a table of 800,000 rows made a profile of 22 MB, past the largest gRPC message.
 */
export const MAX_LISTED_CATEGORIES = 1000;

/**
 * A categorical histogram of at most MAX_LISTED_CATEGORIES labels: the most frequent (ties: the first met), in the
 * order the table met them; the rest counted as `otherCategories` categories holding `otherCount` values.
 */
function listedCategories(labels: string[], counts: number[]): ColumnProfile['histogram'] {
  if (labels.length <= MAX_LISTED_CATEGORIES) return { edges: [], labels, counts };
  const kept = counts
    .map((_, i) => i)
    .sort((a, b) => counts[b]! - counts[a]! || a - b)
    .slice(0, MAX_LISTED_CATEGORIES)
    .sort((a, b) => a - b);
  const listed = kept.reduce((n, i) => n + counts[i]!, 0);
  const total = counts.reduce((n, c) => n + c, 0);
  return {
    edges: [],
    labels: kept.map((i) => labels[i]!),
    counts: kept.map((i) => counts[i]!),
    otherCategories: labels.length - kept.length,
    otherCount: total - listed,
  };
}

export function profileTabular(d: TabularDataset, bins = 20): TabularProfile {
  return finish(profileTabularSteps(d, bins));
}

/** `profileTabular` in slices: it yields after each column and each row of the correlations. */
export function* profileTabularSteps(d: TabularDataset, bins = 20): Steps<TabularProfile> {
  const cats = d.categories ?? {};
  const columns: ColumnProfile[] = [];
  const numeric: { name: string; values: Float64Array }[] = [];
  for (const [c, name] of d.features.entries()) {
    const values = column(d, c);
    const profile = profileColumn(
      name,
      values,
      bins,
      cats[name],
      d.dates?.includes(name),
      d.identifiers?.includes(name),
    );
    columns.push(profile);
    if (!cats[name] && profile.inferredType !== 'empty') numeric.push({ name, values });
    yield;
  }
  const k = numeric.length;
  const values = new Array<number>(k * k).fill(0);
  for (let i = 0; i < k; i++) {
    values[i * k + i] = 1;
    for (let j = i + 1; j < k; j++)
      values[i * k + j] = values[j * k + i] = pearson(numeric[i]!.values, numeric[j]!.values);
    yield;
  }
  const rowsWithoutTarget = d.rowsWithoutTarget ?? 0;
  const withMissing = (p: ColumnProfile) => ({ ...p, missing: p.missing + rowsWithoutTarget });
  let targets: ColumnProfile[];
  if (d.target.type === 'class') {
    targets = [
      withMissing(profileColumn(d.target.name ?? 'target', Float64Array.from(d.target.labels), bins, d.target.classes)),
    ];
  } else {
    const y = d.target.y;
    const names = d.target.names;
    const per = d.rows > 0 ? y.length / d.rows : names.length;
    targets = Array.from({ length: per }, (_, j) => {
      const values = new Float64Array(d.rows);
      for (let r = 0; r < d.rows; r++) values[r] = y[r * per + j]!;
      return withMissing(profileColumn(names[j] ?? `target_${j}`, values, bins));
    });
  }
  return {
    rows: d.rows,
    columns,
    targets,
    rowsWithoutTarget,
    correlations: { names: numeric.map((n) => n.name), values },
  };
}

function pearson(a: Float64Array, b: Float64Array): number {
  let n = 0;
  let ma = 0;
  let mb = 0;
  for (let i = 0; i < a.length; i++) {
    if (!Number.isFinite(a[i]!) || !Number.isFinite(b[i]!)) continue;
    n++;
    ma += a[i]!;
    mb += b[i]!;
  }
  if (n < 2) return NaN;
  ma /= n;
  mb /= n;
  let sab = 0;
  let saa = 0;
  let sbb = 0;
  for (let i = 0; i < a.length; i++) {
    if (!Number.isFinite(a[i]!) || !Number.isFinite(b[i]!)) continue;
    sab += (a[i]! - ma) * (b[i]! - mb);
    saa += (a[i]! - ma) ** 2;
    sbb += (b[i]! - mb) ** 2;
  }
  return saa > 0 && sbb > 0 ? sab / Math.sqrt(saa * sbb) : 0;
}

export interface ImageProfile {
  count: number;
  height: number;
  width: number;
  channels: number;
  channelMeans: number[];
  channelStds: number[];
  classCounts: Record<string, number>;
  resizedImages: number;
}

export function profileImages(d: ImageDataset): ImageProfile {
  return finish(profileImageSteps(d));
}

/** Pixels read between two yields of `profileImageSteps`. */
const PIXELS_PER_STEP = 1 << 20;

/** `profileImages` in slices of PIXELS_PER_STEP values. */
export function* profileImageSteps(d: ImageDataset): Steps<ImageProfile> {
  const c = d.channels;
  const sum = new Float64Array(c);
  const sq = new Float64Array(c);
  // Whole pixels a slice, so that index % c is the channel in every slice.
  const slice = Math.max(c, PIXELS_PER_STEP - (PIXELS_PER_STEP % c));
  for (let from = 0; from < d.pixels.length; from += slice) {
    addChannelSums(d.pixels, from, Math.min(d.pixels.length, from + slice), c, sum, sq);
    yield;
  }
  const per = d.pixels.length / c;
  const classCounts: Record<string, number> = {};
  const names = (d as ImageDataset & { classes?: string[] }).classes;
  for (const l of d.labels) {
    const key = names?.[l] ?? String(l);
    classCounts[key] = (classCounts[key] ?? 0) + 1;
  }
  const means = Array.from(sum, (s) => s / per);
  return {
    count: d.labels.length,
    height: d.height,
    width: d.width,
    channels: c,
    channelMeans: means,
    channelStds: Array.from(sq, (s, i) => Math.sqrt(Math.max(0, s / per - means[i]! ** 2))),
    classCounts,
    resizedImages: d.resizedImages ?? 0,
  };
}

function addChannelSums(
  pixels: Float32Array,
  from: number,
  to: number,
  channels: number,
  sum: Float64Array,
  sq: Float64Array,
): void {
  for (let i = from; i < to; i++) {
    const v = pixels[i]!;
    sum[(i - from) % channels]! += v;
    sq[(i - from) % channels]! += v * v;
  }
}

export interface DriftReport {
  features: FeatureDrift[];
  verdict: Verdict;
  /** Text: the byte distribution's PSI; otherwise the mean PSI over features. */
  overallPsi: number;
  /** Tables: columns only one side has (schema drift), each side's in its own order. */
  onlyInReference: string[];
  onlyInCurrent: string[];
}

function docLengths(d: TextDataset): Float64Array {
  return Float64Array.from(d.documents, (doc) => doc.length);
}

function byteHistogram(d: TextDataset): Float64Array {
  const counts = new Float64Array(256);
  for (const doc of d.documents) for (let i = 0; i < doc.length; i++) counts[doc[i]!]++;
  return counts;
}

/** Categorical drift of two columns by the text of their values (a code's label, or a number as text). */
function textDrift(
  name: string,
  a: ArrayLike<number>,
  aLabels: string[] | undefined,
  b: ArrayLike<number>,
  bLabels: string[] | undefined,
  opts: { bins?: number; thresholds?: DriftThresholds },
): FeatureDrift {
  const text = (v: number, own: string[] | undefined) => (own ? own[v]! : String(v));
  const labels = new Map<string, number>();
  const texts = (values: ArrayLike<number>, own: string[] | undefined) => {
    const out: number[] = [];
    for (let i = 0; i < values.length; i++) {
      const v = values[i]!;
      if (!Number.isFinite(v)) continue;
      const t = text(v, own);
      if (!labels.has(t)) labels.set(t, labels.size);
      out.push(labels.get(t)!);
    }
    return out;
  };
  const ka = texts(a, aLabels);
  const kb = texts(b, bLabels);
  // Missing values count as a category of their own (last), so that a change in how often a value is missing shows.
  const count = (keys: number[], missing: number) => {
    const out = new Float64Array(labels.size + 1);
    for (const k of keys) out[k]++;
    out[labels.size] = missing;
    return out;
  };
  const missingA = a.length - ka.length;
  const missingB = b.length - kb.length;
  return categoricalDrift(name, count(ka, missingA), count(kb, missingB), {
    ...opts,
    missingShares: { reference: a.length ? missingA / a.length : 0, current: b.length ? missingB / b.length : 0 },
  });
}

/**
 * Drift of `current` against `reference`, per feature: text → the byte distribution (categorical over
 * 256 values) and document length; tabular → every column; images → each channel's pixel values and the
 * labels.
 */
export function compareDatasets(
  reference: Dataset,
  current: Dataset,
  opts: { bins?: number; thresholds?: DriftThresholds } = {},
): DriftReport {
  return finish(compareSteps(reference, current, opts));
}

/** `compareDatasets` in slices: it yields after each feature and while it counts a channel's pixels. */
export function* compareSteps(
  reference: Dataset,
  current: Dataset,
  opts: { bins?: number; thresholds?: DriftThresholds } = {},
): Steps<DriftReport> {
  if (reference.kind !== current.kind)
    throw new Error(`cannot compare a ${reference.kind} dataset with a ${current.kind} dataset`);
  const features: FeatureDrift[] = [];
  const onlyInReference: string[] = [];
  const onlyInCurrent: string[] = [];
  if (reference.kind === 'text') {
    const cur = current as TextDataset;
    features.push(categoricalDrift('byte', byteHistogram(reference), byteHistogram(cur), opts));
    features.push(numericDrift('document_length', docLengths(reference), docLengths(cur), opts));
    return {
      features,
      verdict: worstVerdict(features.map((f) => f.verdict)),
      overallPsi: features[0]!.psi,
      onlyInReference: [],
      onlyInCurrent: [],
    };
  }
  if (reference.kind === 'tabular') {
    const cur = current as TabularDataset;
    const cats = reference.categories ?? {};
    const curCats = cur.categories ?? {};
    onlyInReference.push(...reference.features.filter((name) => !cur.features.includes(name)));
    onlyInCurrent.push(...cur.features.filter((name) => !reference.features.includes(name)));
    for (const [c, name] of reference.features.entries()) {
      const j = cur.features.indexOf(name);
      if (j < 0) continue;
      const a = column(reference, c);
      const b = column(cur, j);
      // A column categorical in either file is compared by its values' text (a file with one "?" in a
      // numeric column reads it as categorical); else as numbers.
      const datetime = Boolean(reference.dates?.includes(name) || cur.dates?.includes(name));
      const identifier = Boolean(reference.identifiers?.includes(name) || cur.identifiers?.includes(name));
      if (cats[name] || curCats[name]) features.push(textDrift(name, a, cats[name], b, curCats[name], opts));
      else features.push(numericDrift(name, a, b, opts));
      if (datetime) features.at(-1)!.datetime = true;
      if (identifier) features.at(-1)!.identifier = true;
      yield;
    }
    // The target's drift: class balance (prior shift) or the regression target's distribution.
    const rt = reference.target;
    const ct = cur.target;
    if (rt.type === 'class' && ct.type === 'class')
      features.push(
        textDrift(
          rt.name ?? 'target',
          Float64Array.from(rt.labels),
          rt.classes,
          Float64Array.from(ct.labels),
          ct.classes,
          opts,
        ),
      );
    else if (rt.type === 'regression' && ct.type === 'regression' && rt.names.length === 1 && ct.names.length === 1)
      features.push(numericDrift(rt.names[0]!, Float64Array.from(rt.y), Float64Array.from(ct.y), opts));
  } else {
    const cur = current as ImageDataset;
    // A grey image is its value in every channel (as a folder mixing grey and colour images reads it), so grey
    // and colour images compare channel by channel.
    const channels = Math.max(reference.channels, cur.channels);
    for (let ch = 0; ch < channels; ch++) {
      // Counted in place (8-bit pixels hold at most 256 values), not copied out and sorted.
      const channel = (d: ImageDataset) => valueCountSteps(d.pixels, d.channels === 1 ? 0 : ch, d.channels);
      const [a, b] = [yield* channel(reference), yield* channel(cur)];
      features.push(numericDrift(`channel.${ch}`, a, b, opts));
    }
    // Class balance by the classes' names: each folder numbers its own classes.
    features.push(
      textDrift(
        'label',
        Float64Array.from(reference.labels),
        reference.classes,
        Float64Array.from(cur.labels),
        cur.classes,
        opts,
      ),
    );
  }
  // A datetime column is reported but does not decide the verdict: data that arrives later is later by nature;
  // nor does an identifier: new rows bring new ids.
  const judged = features.filter((f) => !f.datetime && !f.identifier);
  return {
    features,
    verdict: worstVerdict(judged.map((f) => f.verdict)),
    overallPsi: judged.reduce((s, f) => s + f.psi, 0) / Math.max(1, judged.length),
    onlyInReference,
    onlyInCurrent,
  };
}
