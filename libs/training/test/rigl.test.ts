// RigL's drop/grow: density kept, the smallest active magnitudes dropped, the largest inactive gradients
// grown (at zero), and the cosine schedule of the fraction.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rngFor } from '@floe/random';
import { riglFraction, riglUpdate } from '../src/rigl.js';

test('the drop fraction follows (α/2)(1 + cos(πt/T_end)) every ΔT steps, and stops after T_end', () => {
  const s = { every: 10, end: 100, alpha: 0.4 };
  assert.equal(riglFraction(5, s), 0);
  assert.ok(Math.abs(riglFraction(10, s) - 0.2 * (1 + Math.cos(Math.PI / 10))) < 1e-12);
  assert.ok(Math.abs(riglFraction(50, s) - 0.2) < 1e-12);
  assert.ok(Math.abs(riglFraction(100, s)) < 1e-12);
  assert.equal(riglFraction(110, s), 0);
});

test('a drop/grow keeps the density, drops the smallest active weights and grows the largest gradients at zero', () => {
  const rng = rngFor(1, 'rigl');
  const n = 1000;
  const weights = Float32Array.from({ length: n }, () => rng.normal());
  const grads = Float32Array.from({ length: n }, () => rng.normal());
  const mask = Float32Array.from({ length: n }, () => (rng.next() < 0.1 ? 1 : 0));
  for (let k = 0; k < n; k++) if (!mask[k]) weights[k] = 0;
  const density = mask.reduce((a, b) => a + b, 0);
  const activeBefore = [...mask.keys()].filter((k) => mask[k]);
  const inactiveBefore = [...mask.keys()].filter((k) => !mask[k]);
  const before = Float32Array.from(weights);
  const { dropped, grown } = riglUpdate(weights, grads, mask, 0.3);
  assert.equal(dropped.length, Math.floor(0.3 * density));
  assert.equal(grown.length, dropped.length);
  assert.equal(
    mask.reduce((a, b) => a + b, 0),
    density,
    'density kept',
  );
  const smallestKept = Math.min(...activeBefore.filter((k) => !dropped.includes(k)).map((k) => Math.abs(before[k]!)));
  for (const k of dropped) assert.ok(Math.abs(before[k]!) <= smallestKept, 'dropped the smallest magnitudes');
  const largestNotGrown = Math.max(...inactiveBefore.filter((k) => !grown.includes(k)).map((k) => Math.abs(grads[k]!)));
  for (const k of grown) {
    assert.ok(Math.abs(grads[k]!) >= largestNotGrown, 'grew the largest gradients');
    assert.equal(weights[k], 0, 'grown at zero');
    assert.equal(mask[k], 1);
  }
  for (const k of dropped) assert.equal(weights[k], 0);
});
