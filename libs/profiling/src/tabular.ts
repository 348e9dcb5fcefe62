// Tabular and image profiles, and the per-feature drift of any two datasets of the same kind.
import type { Dataset, ImageDataset, TabularDataset, TextDataset } from '@floe/data';
import {
  categoricalDrift,
  numericDrift,
  worstVerdict,
  type DriftThresholds,
  type FeatureDrift,
  type Verdict,
} from './drift.js';
import { binOf, meanStd, quantileSorted, sortedFinite, DEFAULT_QUANTILES } from './stats.js';
import type { Histogram } from './text.js';

export interface ColumnProfile {
  name: string;
  /** numeric, integer, boolean, categorical or constant. */
  inferredType: string;
  missing: number;
  distinct: number;
  mean: number;
  std: number;
  quantiles: number[];
  histogram: Histogram & { labels: string[] };
}

export interface TabularProfile {
  rows: number;
  columns: ColumnProfile[];
  /** Pearson correlations between numeric columns (pairwise complete rows), row-major. */
  correlations: { names: string[]; values: number[] };
}

function column(d: TabularDataset, c: number): Float64Array {
  const out = new Float64Array(d.rows);
  const f = d.features.length;
  for (let r = 0; r < d.rows; r++) out[r] = d.x[r * f + c]!;
  return out;
}

function inferType(values: Float64Array, sorted: Float64Array, categories?: string[]): string {
  if (categories) return 'categorical';
  if (sorted.length && sorted[0] === sorted.at(-1)) return 'constant';
  let integer = true;
  for (const v of sorted) if (!Number.isInteger(v)) integer = false;
  if (integer && sorted.length && sorted[0]! >= 0 && sorted.at(-1)! <= 1) return 'boolean';
  return integer ? 'integer' : 'numeric';
}

export function profileTabular(d: TabularDataset, bins = 20): TabularProfile {
  const cats = (d as TabularDataset & { categories?: Record<string, string[]> }).categories ?? {};
  const columns: ColumnProfile[] = [];
  const numeric: { name: string; values: Float64Array }[] = [];
  d.features.forEach((name, c) => {
    const values = column(d, c);
    const sorted = sortedFinite(values);
    const type = inferType(values, sorted, cats[name]);
    let distinct = 0;
    for (let i = 0; i < sorted.length; i++) if (i === 0 || sorted[i] !== sorted[i - 1]) distinct++;
    const { mean, std } = meanStd(sorted);
    let histogram: ColumnProfile['histogram'];
    if (type === 'categorical') {
      const labels = cats[name]!;
      const counts = new Array<number>(labels.length).fill(0);
      for (const v of sorted) counts[v]!++;
      histogram = { edges: [], labels, counts };
    } else {
      const lo = sorted[0] ?? 0;
      const hi = Math.max(lo + 1e-12, sorted.at(-1) ?? 1);
      const edges = Array.from({ length: bins + 1 }, (_, i) => lo + ((hi - lo) * i) / bins);
      const counts = new Array<number>(bins).fill(0);
      const inner = edges.slice(1, -1);
      for (const v of sorted) counts[Math.min(bins - 1, binOf(inner, v))]!++;
      histogram = { edges, labels: [], counts };
      numeric.push({ name, values });
    }
    columns.push({
      name,
      inferredType: type,
      missing: d.rows - sorted.length,
      distinct,
      mean,
      std,
      quantiles: type === 'categorical' ? [] : DEFAULT_QUANTILES.map((q) => quantileSorted(sorted, q)),
      histogram,
    });
  });
  const k = numeric.length;
  const values = new Array<number>(k * k).fill(0);
  for (let i = 0; i < k; i++) {
    values[i * k + i] = 1;
    for (let j = i + 1; j < k; j++)
      values[i * k + j] = values[j * k + i] = pearson(numeric[i]!.values, numeric[j]!.values);
  }
  return { rows: d.rows, columns, correlations: { names: numeric.map((n) => n.name), values } };
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
}

export function profileImages(d: ImageDataset): ImageProfile {
  const c = d.channels;
  const sum = new Float64Array(c);
  const sq = new Float64Array(c);
  for (let i = 0; i < d.pixels.length; i++) {
    const v = d.pixels[i]!;
    sum[i % c] += v;
    sq[i % c] += v * v;
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
  };
}

export interface DriftReport {
  features: FeatureDrift[];
  verdict: Verdict;
  /** Text: the byte distribution's PSI; otherwise the mean PSI over features. */
  overallPsi: number;
}

function docLengths(d: TextDataset): Float64Array {
  return Float64Array.from(d.documents, (doc) => doc.length);
}

function byteHistogram(d: TextDataset): Float64Array {
  const counts = new Float64Array(256);
  for (const doc of d.documents) for (let i = 0; i < doc.length; i++) counts[doc[i]!]++;
  return counts;
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
  if (reference.kind !== current.kind)
    throw new Error(`cannot compare a ${reference.kind} dataset with a ${current.kind} dataset`);
  const features: FeatureDrift[] = [];
  if (reference.kind === 'text') {
    const cur = current as TextDataset;
    features.push(categoricalDrift('byte', byteHistogram(reference), byteHistogram(cur), opts));
    features.push(numericDrift('document_length', docLengths(reference), docLengths(cur), opts));
    return { features, verdict: worstVerdict(features.map((f) => f.verdict)), overallPsi: features[0]!.psi };
  }
  if (reference.kind === 'tabular') {
    const cur = current as TabularDataset;
    const cats = (reference as TabularDataset & { categories?: Record<string, string[]> }).categories ?? {};
    const curCats = (cur as TabularDataset & { categories?: Record<string, string[]> }).categories ?? {};
    reference.features.forEach((name, c) => {
      const j = cur.features.indexOf(name);
      if (j < 0) return;
      const a = column(reference, c);
      const b = column(cur, j);
      if (cats[name]) {
        // Align categories by label: the two files may have met them in different orders.
        const labels = [...new Set([...cats[name]!, ...(curCats[name] ?? [])])];
        const count = (values: Float64Array, own: string[]) => {
          const out = new Float64Array(labels.length);
          for (const v of values) if (Number.isFinite(v)) out[labels.indexOf(own[v]!)]++;
          return out;
        };
        features.push(categoricalDrift(name, count(a, cats[name]!), count(b, curCats[name] ?? cats[name]!), opts));
      } else features.push(numericDrift(name, a, b, opts));
    });
  } else {
    const cur = current as ImageDataset;
    for (let ch = 0; ch < reference.channels; ch++) {
      const take = (d: ImageDataset) => {
        const out = new Float64Array(d.pixels.length / d.channels);
        for (let i = 0; i < out.length; i++) out[i] = d.pixels[i * d.channels + ch]!;
        return out;
      };
      features.push(numericDrift(`channel.${ch}`, take(reference), take(cur), opts));
    }
    const classes = Math.max(...reference.labels, ...cur.labels) + 1;
    const count = (l: Int32Array) => {
      const out = new Float64Array(classes);
      for (const v of l) out[v]++;
      return out;
    };
    features.push(categoricalDrift('label', count(reference.labels), count(cur.labels), opts));
  }
  return {
    features,
    verdict: worstVerdict(features.map((f) => f.verdict)),
    overallPsi: features.reduce((s, f) => s + f.psi, 0) / Math.max(1, features.length),
  };
}
