// npm run bench:profiler [-- --json]
// 1. text_profile_mb_s: floe's streaming text profile of builtin:spam-assassin, beside a straightforward
//    profile of the same quantities (TextDecoder, a Map of characters, words split into a Set of strings)
//    run in this process on the same documents.
// 2. drift_1m_rows_s: every drift statistic (PSI, KS with p-value, W1 raw and normalised, JS divergence
//    and distance, L∞, Cramér's V) on two 1,000,000-row numeric columns (N(0,1) and N(0.1,1)), beside
//    the time to sort the two columns alone (the floor of any exact KS or Wasserstein).
import { loadBuiltin, type TextDataset } from '@floe/data';
import { Rng } from '@floe/random';
import { TextProfiler, numericDrift } from '@floe/profiling';

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

const result = {
  text_mb: round(mb, 1),
  text_profile_mb_s: round(mb / (floeMs / 1000), 1),
  text_profile_naive_mb_s: round(mb / (naiveMs / 1000), 1),
  text_profile_speedup_vs_naive: round(naiveMs / floeMs),
  drift_rows: N,
  drift_1m_rows_s: round(driftMs / 1000, 3),
  drift_sort_only_s: round(sortMs / 1000, 3),
  drift_vs_sort_only: round(driftMs / sortMs),
};
if (json) console.log(JSON.stringify(result));
else log(JSON.stringify(result, null, 2));
