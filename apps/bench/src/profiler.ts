// npm run bench:profiler [-- --json]
// 1. text_profile_mb_s: floe's streaming text profile of builtin:spam-assassin, beside a straightforward
//    profile of the same quantities (TextDecoder, a Map of characters, words split into a Set of strings)
//    run in this process on the same documents.
// 2. drift_1m_rows_s: every drift statistic (PSI, KS with p-value, W1 raw and normalised, JS divergence
//    and distance, L∞, Cramér's V) on two 1,000,000-row numeric columns (N(0,1) and N(0.1,1)), beside
//    the time to sort the two columns alone (the floor of any exact KS or Wasserstein).
// 3. image_drift: CompareDatasets' drift of two image datasets of 8-bit pixels (400 and 300 images of
//    224×224×3 — 20 M values a channel), beside the way it was computed before: each channel copied out and
//    sorted. Now each channel's values are counted in place (at most 256 distinct); the results are equal.
//    Also the event loop's longest stall (the largest gap a 1 ms timer saw) while the data-profiler compares
//    them as it now does (in slices, finishYielding), against the sorted way (one synchronous call).
import { loadBuiltin, type TextDataset } from '@floe/data';
import { Rng } from '@floe/random';
import { measureStall } from './stats.js';
import { finishYielding, type ImageDataset } from '@floe/data';
import { TextProfiler, compareDatasets, compareSteps, numericDrift, sortedFinite } from '@floe/profiling';

const json = process.argv.includes('--json');
const log = (s: string) => process.stderr.write(s + '\n');
const round = (x: number, d = 2) => Math.round(x * 10 ** d) / 10 ** d;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function time(fn: () => void, reps: number): number {
  fn();
  const ms: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    fn();
    ms.push(performance.now() - t0);
  }
  return median(ms);
}

/** The same statistics the obvious way, as a baseline. */
function naiveTextProfile(docs: Uint8Array[]): number {
  const decoder = new TextDecoder();
  const bytes = new Array<number>(256).fill(0);
  const chars = new Map<string, number>();
  const words = new Set<string>();
  const seen = new Set<string>();
  const bigrams = new Set<number>();
  let dup = 0;
  for (const doc of docs) {
    for (let i = 0; i < doc.length; i++) {
      bytes[doc[i]!]!++;
      if (i) bigrams.add((doc[i - 1]! << 8) | doc[i]!);
    }
    const text = decoder.decode(doc);
    if (seen.has(text)) dup++;
    else seen.add(text);
    for (const ch of text) chars.set(ch, (chars.get(ch) ?? 0) + 1);
    for (const w of text.split(/\s+/)) if (w) words.add(w);
  }
  return dup + words.size + chars.size + bigrams.size;
}

const spam = loadBuiltin('spam-assassin') as TextDataset;
const mb = spam.documents.reduce((n, d) => n + d.length, 0) / 1e6;
const floeMs = time(() => {
  const p = new TextProfiler();
  for (const d of spam.documents) p.add(d);
  p.finish();
}, 5);
const naiveMs = time(() => naiveTextProfile(spam.documents), 3);
log(
  `text profile of spam-assassin (${mb.toFixed(1)} MB): floe ${floeMs.toFixed(0)} ms = ${(mb / (floeMs / 1000)).toFixed(1)} MB/s; straightforward ${naiveMs.toFixed(0)} ms = ${(mb / (naiveMs / 1000)).toFixed(1)} MB/s`,
);

const rng = new Rng(1);
const N = 1_000_000;
const a = Float64Array.from({ length: N }, () => rng.normal());
const b = Float64Array.from({ length: N }, () => 0.1 + rng.normal());
let drift: ReturnType<typeof numericDrift> | undefined;
const driftMs = time(() => (drift = numericDrift('x', a, b)), 3);
const sortMs = time(() => {
  Float64Array.from(a).sort();
  Float64Array.from(b).sort();
}, 3);
log(
  `drift of two 1M-row columns: ${driftMs.toFixed(0)} ms for every statistic; sorting both alone ${sortMs.toFixed(0)} ms`,
);
log(
  `  PSI ${drift!.psi.toFixed(4)}, KS ${drift!.ksStatistic.toFixed(4)} (p ${drift!.ksPValue.toExponential(2)}), W1 ${drift!.wasserstein.toFixed(4)}, JS ${drift!.jsDistance.toFixed(4)}`,
);

/** Photos-like 8-bit pixels: smooth gradients with noise, stored as the loaders store them (v / 255). */
function photos(count: number, shift: number): ImageDataset {
  const [h, w, c] = [224, 224, 3];
  const pixels = new Float32Array(count * h * w * c);
  for (let i = 0, p = 0; i < count; i++)
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++)
        for (let ch = 0; ch < c; ch++, p++)
          pixels[p] = Math.min(255, Math.floor((x + y * ch + i * 7) % 200) + shift + rng.int(40)) / 255;
  const labels = Int32Array.from({ length: count }, (_, i) => i % 4);
  return {
    kind: 'image',
    name: 'photos',
    height: h,
    width: w,
    channels: c,
    pixels,
    labels,
    classes: ['a', 'b', 'c', 'd'],
  };
}
const reference = photos(400, 0);
const current = photos(300, 15);
/** Before: every channel copied out of the pixels and sorted, then the same statistics. */
const sortedChannels = () =>
  Array.from({ length: 3 }, (_, ch) => {
    const channel = (d: ImageDataset) => {
      const out = new Float64Array(d.pixels.length / 3);
      for (let i = 0; i < out.length; i++) out[i] = d.pixels[i * 3 + ch]!;
      return sortedFinite(out);
    };
    return numericDrift(`channel.${ch}`, channel(reference), channel(current));
  });
let before: ReturnType<typeof sortedChannels> | undefined;
let now: ReturnType<typeof compareDatasets> | undefined;
const imageBeforeMs = time(() => (before = sortedChannels()), 1);
const imageNowMs = time(() => (now = compareDatasets(reference, current)), 3);
const same = before!.every((f, ch) => JSON.stringify(f) === JSON.stringify(now!.features[ch]));
log(
  `image drift (400 and 300 images of 224×224×3, ${reference.pixels.length / 3 / 1e6} M values a channel): sorted channels ${imageBeforeMs.toFixed(0)} ms; counted in place ${imageNowMs.toFixed(0)} ms — ${(imageBeforeMs / imageNowMs).toFixed(1)}x faster; statistics ${same ? 'equal' : 'DIFFER'}`,
);
if (!same) process.exitCode = 1;

const { stallMs: stallSortedMs } = await measureStall(async () => sortedChannels());
const { stallMs: stallSlicedMs } = await measureStall(() => finishYielding(compareSteps(reference, current)));
log(
  `  longest event-loop stall: sorted, one call ${stallSortedMs.toFixed(0)} ms; counted in slices ${stallSlicedMs.toFixed(0)} ms — ${(stallSortedMs / stallSlicedMs).toFixed(0)}x shorter`,
);

const result = {
  text_mb: round(mb, 1),
  text_profile_mb_s: round(mb / (floeMs / 1000), 1),
  text_profile_naive_mb_s: round(mb / (naiveMs / 1000), 1),
  text_profile_speedup_vs_naive: round(naiveMs / floeMs),
  drift_rows: N,
  drift_1m_rows_s: round(driftMs / 1000, 3),
  drift_sort_only_s: round(sortMs / 1000, 3),
  drift_vs_sort_only: round(driftMs / sortMs),
  image_drift_sorted_s: round(imageBeforeMs / 1000, 3),
  image_drift_counted_s: round(imageNowMs / 1000, 3),
  image_drift_speedup: round(imageBeforeMs / imageNowMs, 1),
  image_drift_equal: same,
  image_drift_stall_sorted_ms: round(stallSortedMs, 0),
  image_drift_stall_sliced_ms: round(stallSlicedMs, 0),
};
if (json) console.log(JSON.stringify(result));
else log(JSON.stringify(result, null, 2));
