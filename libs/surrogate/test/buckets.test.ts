// Bucket distributions in closed form: a uniform over [0, 1] (mean 1/2, variance 1/12, P(y > t) = 1 − t,
// EI = (1 − t)²/2, quantile q = q), a point mass inside one bucket, and PI/EI consistency on random ones.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '@floe/random';
import {
  bucketExceedance,
  bucketExpectedImprovement,
  bucketLogDensity,
  bucketMean,
  bucketQuantile,
  bucketSharpen,
  bucketVariance,
} from '../src/index.js';

const close = (a: number, b: number, tol = 1e-9, what = '') =>
  assert.ok(Math.abs(a - b) <= tol, `${what} ${a} vs ${b}`);

test('a uniform bucket distribution has the uniform law’s mean, variance, exceedance, EI and quantiles', () => {
  const n = 100;
  const p = new Float64Array(n).fill(1 / n);
  close(bucketMean(p, n), 0.5);
  close(bucketVariance(p, n), 1 / 12, 1e-12);
  for (const t of [0, 0.005, 0.123, 0.5, 0.999, 1]) {
    close(bucketExceedance(p, n, t), 1 - t, 1e-12, `P(y > ${t})`);
    close(bucketExpectedImprovement(p, n, t), (1 - t) ** 2 / 2, 1e-12, `EI at ${t}`);
  }
  for (const q of [0.01, 0.25, 0.5, 0.9]) close(bucketQuantile(p, n, q), q, 1e-12);
  close(bucketLogDensity(p, n, 0.37), 0, 1e-12);
});

test('all mass in one bucket: mean at its centre, PI is the covered fraction, rows are independent', () => {
  const n = 10;
  const p = new Float64Array(2 * n);
  p[3] = 1; // row 0: bucket [0.3, 0.4)
  p[n + 9] = 1; // row 1: bucket [0.9, 1]
  close(bucketMean(p, n, 0), 0.35);
  close(bucketMean(p, n, 1), 0.95);
  close(bucketExceedance(p, n, 0.375, 0), 0.25);
  close(bucketExceedance(p, n, 0.5, 0), 0);
  close(bucketExpectedImprovement(p, n, 0.2, 0), 0.15);
  close(bucketQuantile(p, n, 0.5, 1), 0.95);
});

test('on random distributions, EI = ∫ P(y > s) ds above the threshold, and PI falls as the threshold rises', () => {
  const rng = new Rng(4);
  const n = 64;
  for (let r = 0; r < 20; r++) {
    const p = new Float64Array(n).map(() => rng.next() ** 4);
    const s = p.reduce((a, b) => a + b, 0);
    p.forEach((v, i) => (p[i] = v / s));
    const t = rng.next();
    let integral = 0;
    const steps = 20_000;
    for (let k = 0; k < steps; k++)
      integral += bucketExceedance(p, n, t + ((k + 0.5) / steps) * (1 - t)) * ((1 - t) / steps);
    close(bucketExpectedImprovement(p, n, t), integral, 1e-6, 'EI vs ∫PI');
    assert.ok(bucketExceedance(p, n, t) >= bucketExceedance(p, n, Math.min(1, t + 0.05)) - 1e-15);
  }
});

test('sharpening: T = 1 copies, the result sums to 1, keeps the order of buckets, and T → 0 tends to the mode', () => {
  const n = 64;
  const rng = new Rng(3);
  const probs = new Float32Array(2 * n);
  for (let r = 0; r < 2; r++) {
    let s = 0;
    for (let i = 0; i < n; i++) s += probs[r * n + i] = rng.next() ** 3;
    for (let i = 0; i < n; i++) probs[r * n + i]! /= s;
  }
  const copy = bucketSharpen(probs, n, 1, 1);
  for (let i = 0; i < n; i++) assert.ok(Math.abs(copy[i]! - probs[n + i]!) < 1e-6);
  const mode = probs.subarray(n).indexOf(Math.max(...probs.subarray(n)));
  let previousModeMass = probs[n + mode]!;
  for (const t of [0.5, 0.2, 0.1, 0.02]) {
    const sharp = bucketSharpen(probs, n, t, 1);
    assert.ok(Math.abs(sharp.reduce((a, b) => a + b, 0) - 1) < 1e-12);
    // p_i^(1/T) is increasing in p_i: the order of any two buckets is kept.
    for (let i = 1; i < n; i++)
      assert.equal(Math.sign(sharp[i]! - sharp[i - 1]!), Math.sign(probs[n + i]! - probs[n + i - 1]!));
    assert.ok(sharp[mode]! > previousModeMass, `mode's mass grows as T falls (T = ${t})`);
    previousModeMass = sharp[mode]!;
    // Closed form: each bucket's mass relative to the mode's is (p_i / p_mode)^(1/T).
    for (let i = 0; i < n; i++)
      close(sharp[i]! / sharp[mode]!, (probs[n + i]! / probs[n + mode]!) ** (1 / t), 1e-9, `bucket ${i}, T = ${t}`);
  }
  // Powers far below the smallest double still give a distribution, not 0/0.
  const tiny = bucketSharpen(new Float32Array([1e-8, 2e-8, 0, 1e-8]), 4, 0.001);
  assert.deepEqual(
    [...tiny].map((p) => Math.round(p)),
    [0, 1, 0, 0],
  );
  assert.throws(() => bucketSharpen(probs, n, 0), /temperature must be > 0/);
});
