// Double-descent detection over seeded synthetic curves (200 points each, x = 0..199):
//   double descent:       0.5 + e^(−x/15) + h·e^(−((x−c)/12)²) − d·σ((x − c − 25)/8) + N(0, 0.02²),
//                         h ∈ [0.15, 0.35], c ∈ [70, 110], d ∈ [0, 0.2];
//   monotone:             0.5 + e^(−x/τ) + N(0, 0.02²), τ ∈ [10, 60];
//   noisy single descent: 0.5 + e^(−x/τ) + N(0, 0.05²), τ ∈ [10, 60].
// Targets: ≥ 95 % found on the first kind, ≤ 5 % false positives on each of the others.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '@floe/random';
import { detectDoubleDescent } from '../src/index.js';

const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));

function curve(kind: 'dd' | 'monotone' | 'noisy', seed: number): { x: number; y: number }[] {
  const r = new Rng(seed);
  const h = 0.15 + 0.2 * r.next();
  const c = 70 + 40 * r.next();
  const d = 0.2 * r.next();
  const tau = 10 + 50 * r.next();
  const sigma = kind === 'noisy' ? 0.05 : 0.02;
  return Array.from({ length: 200 }, (_, x) => {
    const base =
      kind === 'dd'
        ? 0.5 + Math.exp(-x / 15) + h * Math.exp(-(((x - c) / 12) ** 2)) - d * sigmoid((x - c - 25) / 8)
        : 0.5 + Math.exp(-x / tau);
    return { x, y: base + sigma * r.normal() };
  });
}

test('double descent found on ≥ 95 of 100 curves; false positives ≤ 5 of 100 on monotone and noisy single-descent curves', () => {
  const rate = (kind: 'dd' | 'monotone' | 'noisy') =>
    Array.from(
      { length: 100 },
      (_, i) => detectDoubleDescent(curve(kind, 1000 * (kind.length + 1) + i)).hasDoubleDescent,
    ).filter(Boolean).length;
  const found = rate('dd');
  const monotone = rate('monotone');
  const noisy = rate('noisy');
  process.stderr.write(
    `double descent found ${found}/100; false positives: monotone ${monotone}/100, noisy single descent ${noisy}/100\n`,
  );
  assert.ok(found >= 95, `found ${found}`);
  assert.ok(monotone <= 5, `monotone ${monotone}`);
  assert.ok(noisy <= 5, `noisy ${noisy}`);
});

test('where: t1 < t2 < t3 around the bump, and whether the second descent goes below the first minimum', () => {
  const pts = Array.from({ length: 200 }, (_, x) => ({
    x,
    y: 0.5 + Math.exp(-x / 15) + 0.3 * Math.exp(-(((x - 90) / 12) ** 2)) - 0.3 * sigmoid((x - 120) / 8),
  }));
  const d = detectDoubleDescent(pts);
  assert.ok(d.hasDoubleDescent);
  assert.ok(d.t1 < d.t2 && d.t2 < d.t3);
  assert.ok(Math.abs(d.t2 - 90) <= 5, `peak at ${d.t2}`);
  assert.ok(d.secondDescentBelowFirst);
  const shallow = detectDoubleDescent(
    pts.map((p) => ({
      x: p.x,
      y: 0.5 + Math.exp(-p.x / 15) + 0.3 * Math.exp(-(((p.x - 90) / 12) ** 2)) + 0.1 * sigmoid((p.x - 120) / 8),
    })),
  );
  assert.ok(
    shallow.hasDoubleDescent && !shallow.secondDescentBelowFirst,
    'the second descent stops above the first minimum',
  );
  // Overfitting (a U) is not a double descent: there is no second descent.
  assert.ok(
    !detectDoubleDescent(Array.from({ length: 100 }, (_, x) => ({ x, y: (x - 50) ** 2 / 2500 }))).hasDoubleDescent,
  );
  assert.ok(
    !detectDoubleDescent([
      { x: 0, y: 1 },
      { x: 1, y: 0 },
    ]).hasDoubleDescent,
    'too few points',
  );
});
