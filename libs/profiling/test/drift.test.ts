// Drift statistics against closed forms: identical samples give 0; KS and Wasserstein-1 between large
// samples of N(0,1) and N(μ,1) match 2Φ(μ/2)−1 and |μ|; PSI and JS on hand-computed histograms.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '@floe/random';
import {
  categoricalDrift,
  cramersV,
  jsDivergence,
  ksTwoSample,
  linf,
  numericDrift,
  psi,
  sortedFinite,
  wasserstein1,
} from '../src/index.js';

function normals(n: number, mu: number, seed: number): Float64Array {
  const r = new Rng(seed);
  return Float64Array.from({ length: n }, () => mu + r.normal());
}

/** Φ by the Abramowitz–Stegun 7.1.26 erf (|error| < 1.5e-7). */
function phi(x: number): number {
  const z = Math.abs(x) / Math.SQRT2;
  const t = 1 / (1 + 0.3275911 * z);
  const erf =
    1 -
    ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-z * z);
  return 0.5 * (1 + Math.sign(x) * erf);
}

test('identical samples: every statistic is 0 and the verdict stable', () => {
  const a = normals(5000, 0, 1);
  const d = numericDrift('x', a, Float64Array.from(a));
  for (const k of [
    'psi',
    'ksStatistic',
    'wasserstein',
    'wassersteinNormalized',
    'jsDivergence',
    'jsDistance',
    'linf',
    'cramersV',
  ] as const)
    assert.equal(d[k], 0, k);
  assert.equal(d.ksPValue, 1);
  assert.equal(d.verdict, 'stable');
  const c = categoricalDrift('c', [5, 0, 3], [5, 0, 3]);
  assert.equal(c.psi, 0);
  assert.equal(c.jsDistance, 0);
});

test('N(0,1) against N(μ,1): KS = 2Φ(μ/2) − 1 and W1 = |μ| to 1e-2', () => {
  for (const mu of [0.25, 0.5, 1, 2]) {
    const a = sortedFinite(normals(200_000, 0, 3));
    const b = sortedFinite(normals(200_000, mu, 4));
    const ks = ksTwoSample(a, b);
    assert.ok(
      Math.abs(ks.statistic - (2 * phi(mu / 2) - 1)) < 1e-2,
      `μ=${mu}: D=${ks.statistic} vs ${2 * phi(mu / 2) - 1}`,
    );
    assert.ok(ks.pValue < 1e-10);
    assert.ok(Math.abs(wasserstein1(a, b) - mu) < 1e-2, `μ=${mu}: W1=${wasserstein1(a, b)}`);
    const d = numericDrift('x', a, b);
    assert.ok(Math.abs(d.wassersteinNormalized - mu) < 2e-2, 'the reference std is 1');
    assert.equal(d.verdict, mu >= 1 ? 'shifted' : 'moderate', `μ=${mu}: PSI ${d.psi}`);
  }
  // Same distribution, independent samples: the p-value is not small.
  assert.ok(ksTwoSample(sortedFinite(normals(20_000, 0, 5)), sortedFinite(normals(20_000, 0, 6))).pValue > 0.001);
});

test("PSI, JS, L∞ and Cramér's V on hand-computed histograms (1e-9)", () => {
  // p = (0.5, 0.3, 0.2), q = (0.2, 0.3, 0.5).
  const p = [50, 30, 20];
  const q = [20, 30, 50];
  const expectedPsi = (0.2 - 0.5) * Math.log(0.2 / 0.5) + 0 + (0.5 - 0.2) * Math.log(0.5 / 0.2);
  assert.ok(Math.abs(psi(p, q) - expectedPsi) < 1e-9);
  const m = [0.35, 0.3, 0.35];
  const kl = (x: number[], y: number[]) => x.reduce((s, xi, i) => s + (xi > 0 ? xi * Math.log2(xi / y[i]!) : 0), 0);
  const expectedJs = 0.5 * kl([0.5, 0.3, 0.2], m) + 0.5 * kl([0.2, 0.3, 0.5], m);
  assert.ok(Math.abs(jsDivergence(p, q) - expectedJs) < 1e-9);
  assert.ok(Math.abs(linf(p, q) - 0.3) < 1e-9);
  // Disjoint supports: JS divergence is exactly 1 bit, Cramér's V is 1.
  assert.ok(Math.abs(jsDivergence([1, 0], [0, 1]) - 1) < 1e-9);
  assert.ok(Math.abs(cramersV([10, 0], [0, 30]) - 1) < 1e-9);
  // χ² by hand for [[50,30,20],[20,30,50]]: n = 200, expected 35/30/35 per row.
  const chi2 = 2 * ((50 - 35) ** 2 / 35 + 0 + (20 - 35) ** 2 / 35);
  assert.ok(Math.abs(cramersV(p, q) - Math.sqrt(chi2 / 200)) < 1e-9);
  // An empty bin costs ε, not infinity.
  assert.ok(Number.isFinite(psi([10, 0], [5, 5])));
});

test('missing values are a bin of their own: PSI in closed form, KS and W1 on the finite values, shares reported', () => {
  const reference = Float64Array.from({ length: 1000 }, (_, i) => i);
  const missing = 300;
  // The same finite values with 300 NaN: only the share of missing values changed.
  const current = Float64Array.from([...reference, ...Array.from({ length: missing }, () => NaN)]);
  const d = numericDrift('x', reference, current);
  assert.equal(d.ksStatistic, 0);
  assert.equal(d.wasserstein, 0);
  assert.equal(d.missingShareReference, 0);
  assert.equal(d.missingShareCurrent, missing / 1300);
  // Ten equal-mass bins of 100 values each: p = 0.1 per bin, q = 100 / 1300; the missing bin p = ε, q = 300 / 1300.
  const [p, q, m] = [0.1, 100 / 1300, missing / 1300];
  const expected = 10 * (q - p) * Math.log(q / p) + (m - 1e-4) * Math.log(m / 1e-4);
  assert.ok(Math.abs(d.psi - expected) < 1e-9, `PSI ${d.psi} against ${expected}`);
  assert.equal(d.verdict, 'shifted');
  // Infinite values are missing too, also in a sorted sample (which is otherwise taken as it is).
  const withInfinity = Float64Array.from([-Infinity, ...reference, Infinity]);
  const e = numericDrift('x', reference, withInfinity);
  assert.deepEqual([e.ksStatistic, e.wasserstein, e.missingShareCurrent], [0, 0, 2 / 1002]);
  // No missing value on either side: the empty missing bin changes nothing.
  const shifted = Float64Array.from(reference, (v) => v + 50);
  const f = numericDrift('x', reference, shifted);
  const binned = (xs: Float64Array) => {
    const counts = new Array<number>(10).fill(0);
    for (const v of xs) counts[Math.min(9, Math.max(0, Math.floor((v - 99.9) / 100) + 1))]!++;
    return counts;
  };
  assert.ok(Math.abs(f.psi - psi(binned(reference), binned(shifted))) < 1e-12);
});

test('a side with no finite value: KS and W1 are 0, PSI and the shares tell', () => {
  const values = normals(500, 0, 9);
  const empty = new Float64Array(200).fill(NaN);
  for (const [reference, current, shares] of [
    [values, empty, [0, 1]],
    [empty, values, [1, 0]],
  ] as const) {
    const d = numericDrift('x', reference, current);
    assert.deepEqual([d.ksStatistic, d.ksPValue, d.wasserstein, d.wassersteinNormalized], [0, 1, 0, 0]);
    assert.deepEqual([d.missingShareReference, d.missingShareCurrent], shares);
    assert.ok(Number.isFinite(d.psi) && d.psi > 5, `PSI ${d.psi}`);
    assert.equal(d.verdict, 'shifted');
  }
});
