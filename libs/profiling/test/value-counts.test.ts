// Counted samples against their sorted selves: every drift statistic on value counts equals the same statistic
// computed by brute force on the plain sample (KS from both ECDFs at every value, W1 as the mean gap between
// order statistics of equal-size samples, type-7 quantiles of the sorted sample), the grid's counting pass gives
// exactly what sorting gives, and an image's drift counted in place equals its channels copied out.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '@floe/random';
import { turnsDuring } from '@floe/testing';
import { finishYielding, type ImageDataset } from '@floe/data';
import {
  compareDatasets,
  compareSteps,
  meanStd,
  numericDrift,
  quantileSorted,
  runLengths,
  sortedFinite,
  valueCounts,
} from '../src/index.js';
import { binCounts, ecdfDistances, meanStdOfCounts, quantilesOfCounts } from '../src/value-counts.js';

type Sample = { name: string; make: (r: Rng, n: number) => Float64Array | Float32Array };

const SAMPLES: Sample[] = [
  { name: 'small integers', make: (r, n) => Float64Array.from({ length: n }, () => Math.floor(r.next() * 7) - 3) },
  { name: '8-bit pixels as float32', make: (r, n) => Float32Array.from({ length: n }, () => r.int(256) / 255) },
  { name: '8-bit pixels as float64', make: (r, n) => Float64Array.from({ length: n }, () => r.int(256) / 255) },
  { name: 'normals', make: (r, n) => Float64Array.from({ length: n }, () => r.normal()) },
  {
    // On the byte grid but for one value a hair off it: the grid must notice and sort instead.
    name: 'pixels with one value off the grid',
    make: (r, n) => Float64Array.from({ length: n }, (_, i) => r.int(256) / 255 + (i === n >> 1 ? 1e-9 : 0)),
  },
  {
    name: 'levels with NaN and infinities',
    make: (r, n) =>
      Float64Array.from({ length: n }, (_, i) =>
        i % 17 === 0 ? NaN : i % 23 === 0 ? Infinity : i % 29 === 0 ? -Infinity : r.int(40),
      ),
  },
];

/** D = max over every sample value of |F_a(x) − F_b(x)|, each ECDF counted afresh. */
function bruteKs(a: Float64Array, b: Float64Array): number {
  let d = 0;
  for (const x of [...a, ...b]) {
    const fa = a.filter((v) => v <= x).length / a.length;
    const fb = b.filter((v) => v <= x).length / b.length;
    d = Math.max(d, Math.abs(fa - fb));
  }
  return d;
}

test('value counts: the counting pass gives exactly what sorting gives, strided or not', () => {
  const r = new Rng(3);
  for (const s of SAMPLES) {
    const xs = s.make(r, 3000);
    // The dropped NaN and infinities are counted (the drift's missing share).
    const nonFinite = (ys: ArrayLike<number>) => Array.from(ys).filter((v) => !Number.isFinite(v)).length;
    const sorted = runLengths(sortedFinite(xs));
    assert.deepEqual(valueCounts(xs), { ...sorted, nonFinite: nonFinite(xs) }, s.name);
    const every3rd = Float64Array.from({ length: 1000 }, (_, i) => xs[i * 3 + 1]!);
    assert.deepEqual(
      valueCounts(xs, 1, 3),
      { ...runLengths(sortedFinite(every3rd)), nonFinite: nonFinite(every3rd) },
      `${s.name}, strided`,
    );
    // numericDrift reads a sample with missing values and its counts alike.
    const other = s.make(r, 500);
    assert.deepEqual(numericDrift('x', valueCounts(xs), valueCounts(other)), numericDrift('x', xs, other), s.name);
  }
  assert.deepEqual(
    [valueCounts(new Float64Array([NaN, Infinity])).total, valueCounts(new Float64Array([NaN, Infinity])).nonFinite],
    [0, 2],
  );
});

test('statistics on value counts equal brute force on the sample', () => {
  const r = new Rng(5);
  for (const s of SAMPLES) {
    // Equal sizes after dropping non-finite values, so W1 has its closed form.
    const finite = (xs: ArrayLike<number>) => sortedFinite(xs);
    const a = finite(s.make(r, 800));
    const b = finite(s.make(r, 800)).map((v) => v + 0.02 * Math.round(r.next() * 3));
    const n = Math.min(a.length, b.length);
    const [sa, sb] = [a.subarray(0, n), Float64Array.from(b.subarray(0, n)).sort()];
    const [ca, cb] = [valueCounts(sa), valueCounts(sb)];
    const { supremum, area } = ecdfDistances(ca, cb);
    assert.equal(supremum, bruteKs(sa, sb), `${s.name}: KS`);
    let gap = 0;
    for (let i = 0; i < n; i++) gap += Math.abs(sa[i]! - sb[i]!);
    assert.ok(Math.abs(area - gap / n) < 1e-12, `${s.name}: W1`);
    const qs = [0, 0.1, 0.25, 0.5, 0.77, 0.9, 1];
    assert.deepEqual(
      quantilesOfCounts(ca, qs),
      qs.map((q) => quantileSorted(sa, q)),
      `${s.name}: quantiles`,
    );
    const edges = [sa[Math.floor(n / 4)]!, sa[Math.floor(n / 2)]!, sa[Math.floor((3 * n) / 4)]! + 1e-6];
    const byValue = new Float64Array(edges.length + 1);
    for (const v of sa) byValue[edges.filter((e) => v >= e).length]!++;
    assert.deepEqual(binCounts(ca, edges), byValue, `${s.name}: bins`);
    const [m1, m2] = [meanStdOfCounts(ca), meanStd(sa)];
    assert.ok(Math.abs(m1.mean - m2.mean) < 1e-12 && Math.abs(m1.std - m2.std) < 1e-12, `${s.name}: mean, std`);
    // numericDrift reads a plain sample and its counts alike.
    assert.deepEqual(numericDrift('x', ca, cb), numericDrift('x', sa, sb));
  }
});

test("an image's drift counted in place equals its channels copied out and sorted", () => {
  const r = new Rng(11);
  const image = (n: number, channels: number, shift: number): ImageDataset =>
    ({
      kind: 'image',
      name: 'photos',
      channels,
      height: 4,
      width: 4,
      pixels: Float32Array.from({ length: n * 16 * channels }, () => Math.min(255, r.int(200) + shift) / 255),
      labels: Int32Array.from({ length: n }, (_, i) => i % 2),
      classes: ['cat', 'dog'],
    }) as unknown as ImageDataset;
  const reference = image(30, 3, 0);
  const current = image(20, 1, 40);
  const report = compareDatasets(reference, current);
  for (let ch = 0; ch < 3; ch++) {
    const copy = (d: ImageDataset) => {
      const own = d.channels === 1 ? 0 : ch;
      return Float64Array.from({ length: d.pixels.length / d.channels }, (_, i) => d.pixels[i * d.channels + own]!);
    };
    assert.deepEqual(report.features[ch], numericDrift(`channel.${ch}`, copy(reference), copy(current)));
  }
  assert.equal(report.features[0]!.verdict, 'shifted');
});

test('comparing images in slices gives the event loop turns while it counts, and the same report', async () => {
  const r = new Rng(13);
  const image = (n: number): ImageDataset =>
    ({
      kind: 'image',
      name: 'photos',
      channels: 3,
      height: 64,
      width: 64,
      pixels: Float32Array.from({ length: n * 64 * 64 * 3 }, () => r.int(256) / 255),
      labels: Int32Array.from({ length: n }, (_, i) => i % 2),
      classes: ['cat', 'dog'],
    }) as ImageDataset;
  // 400 images: 1.6 M values a channel, several slices of counting each.
  const [reference, current] = [image(400), image(300)];
  const { result: report, turns } = await turnsDuring(() =>
    finishYielding(compareSteps(reference, current), { sliceMs: 0 }),
  );
  assert.deepEqual(report, compareDatasets(reference, current));
  // Each channel of each dataset is read twice (its range, then its counts), in slices of 2^19 values.
  assert.ok(turns >= 3 * 2 * 2, `the event loop turned ${turns} times`);
});
