// Our own distribution functions against closed forms: Φ at tabulated points, Φ⁻¹ ∘ Φ = id, the Gamma CDF
// for integer shapes (Erlang: 1 − Σ e^−x x^k / k!) and a = 1/2 (erf), its inverse, the exponential inverse,
// and the samplers' moments (Gamma mean a and variance a; Dirichlet means α/Σα).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '@floe/random';
import {
  erfc,
  exponentialInverseCdf,
  gammaCdf,
  gammaInverseCdf,
  logGamma,
  normalCdf,
  normalInverseCdf,
  sampleDirichlet,
  sampleGamma,
} from '../src/index.js';

const close = (a: number, b: number, tol: number, what = '') =>
  assert.ok(Math.abs(a - b) <= tol, `${what} ${a} vs ${b}`);

test('Φ at tabulated points and Φ⁻¹ its inverse over (1e-12, 1 − 1e-6)', () => {
  close(normalCdf(0), 0.5, 1e-7);
  close(normalCdf(1.959963984540054), 0.975, 1e-7);
  close(normalCdf(-1), 0.15865525393145707, 1e-7);
  close(normalInverseCdf(0.975), 1.959963984540054, 1e-8);
  close(normalInverseCdf(0.001), -3.090232306167813, 1e-8);
  close(normalInverseCdf(1e-10), -6.361340902404056, 1e-7);
  close(normalInverseCdf(0.5), 0, 1e-9);
  for (const p of [1e-12, 1e-6, 0.01, 0.02425, 0.1, 0.3, 0.7, 0.9, 0.99, 1 - 1e-6]) {
    const x = normalInverseCdf(p);
    // Φ here is erfc's Chebyshev fit (relative error 1.2e-7), so the round trip holds to that.
    close(normalCdf(x), p, 3e-7 * Math.min(p, 1 - p) + 1e-15, `Φ(Φ⁻¹(${p}))`);
  }
  assert.equal(normalInverseCdf(0), -Infinity);
  assert.throws(() => normalInverseCdf(1.5), /\[0, 1\]/);
  close(erfc(0), 1, 1e-7);
});

test('ln Γ and the Gamma CDF match closed forms (Erlang for integer a, erf for a = 1/2)', () => {
  close(logGamma(5), Math.log(24), 1e-10);
  close(logGamma(0.5), 0.5 * Math.log(Math.PI), 1e-10);
  for (const a of [1, 2, 3, 7]) {
    for (const x of [0.1, 0.5, 1, 2.5, 6, 15]) {
      let s = 0;
      let term = 1;
      for (let k = 0; k < a; k++) {
        if (k > 0) term *= x / k;
        s += term;
      }
      close(gammaCdf(x, a), 1 - Math.exp(-x) * s, 1e-10, `P(${a}, ${x})`);
    }
  }
  for (const x of [0.01, 0.3, 1, 4]) close(gammaCdf(x, 0.5), 1 - erfc(Math.sqrt(x)), 2e-7, `P(1/2, ${x})`);
});

test('the Gamma inverse CDF inverts the CDF, and Gamma(1) equals the exponential inverse', () => {
  for (const a of [0.1, 0.5, 1, 2.5, 10, 100]) {
    for (const p of [1e-6, 0.01, 0.3, 0.5, 0.9, 0.999]) {
      const x = gammaInverseCdf(p, a);
      close(gammaCdf(x, a), p, 1e-9 + p * 1e-8, `P(${a}, P⁻¹(${p}))`);
    }
  }
  for (const p of [0.001, 0.25, 0.5, 0.99]) close(gammaInverseCdf(p, 1), exponentialInverseCdf(p), 1e-9);
  close(exponentialInverseCdf(1 - Math.exp(-2), 3), 6, 1e-12);
});

test('seeded samplers: Gamma(a) has mean a and variance a; Dirichlet means are α/Σα; same seed, same draws', () => {
  for (const a of [0.3, 1, 4]) {
    const rng = new Rng(11);
    const n = 40_000;
    let s = 0;
    let s2 = 0;
    for (let i = 0; i < n; i++) {
      const g = sampleGamma(rng, a);
      s += g;
      s2 += g * g;
    }
    const mean = s / n;
    close(mean, a, 4 * Math.sqrt(a / n) + 1e-3, `mean of Gamma(${a})`);
    close(s2 / n - mean * mean, a, 0.08 * a, `variance of Gamma(${a})`);
  }
  const rng = new Rng(3);
  const sums = [0, 0, 0];
  for (let i = 0; i < 20_000; i++) sampleDirichlet(rng, [1, 2, 5]).forEach((v, j) => (sums[j]! += v));
  [1 / 8, 2 / 8, 5 / 8].forEach((m, j) => close(sums[j]! / 20_000, m, 0.01));
  assert.deepEqual(sampleDirichlet(new Rng(5), [1, 1, 1, 1]), sampleDirichlet(new Rng(5), [1, 1, 1, 1]));
});
