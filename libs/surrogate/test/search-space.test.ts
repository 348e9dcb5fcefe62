import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng, rngFor } from '@floe/random';
import {
  configurationKey,
  encodeForSurrogate,
  encodedDimensions,
  sampleConfiguration,
  sampleUntried,
  spaceSize,
  validateSearchSpace,
  type ParameterSpec,
} from '../src/index.js';

const space: ParameterSpec[] = [
  { name: 'lr', domain: { kind: 'float', min: 1e-5, max: 1e-1, log: true } },
  { name: 'layers', domain: { kind: 'int', min: 1, max: 8, log: false } },
  { name: 'norm', domain: { kind: 'categorical', choices: ['layer', 'rms', 'none'] } },
];

test('a good space has no problems; each bad part is named', () => {
  assert.deepEqual(validateSearchSpace(space), []);
  const problems = validateSearchSpace([
    { name: 'a', domain: { kind: 'float', min: 0, max: 1, log: true } },
    { name: 'a', domain: { kind: 'int', min: 3, max: 2, log: false } },
    { name: 'c', domain: { kind: 'categorical', choices: ['x', 'x'] } },
    { name: 'd', domain: undefined },
    { name: 'e', domain: { kind: 'float', min: NaN, max: 1, log: false } },
  ]);
  assert.deepEqual(
    problems.map((p) => p.field),
    [
      'search_space.parameters[0].float_range.min',
      'search_space.parameters[1].name',
      'search_space.parameters[1].int_range.max',
      'search_space.parameters[2].categorical.choices',
      'search_space.parameters[3]',
      'search_space.parameters[4].float_range.min',
    ],
  );
});

test('samples stay in their domains, are seeded, and encode into [0,1]^d', () => {
  assert.equal(encodedDimensions(space), 3);
  const rng = new Rng(3);
  let logSum = 0;
  for (let i = 0; i < 2000; i++) {
    const c = sampleConfiguration(space, rng);
    assert.ok((c.lr as number) >= 1e-5 && (c.lr as number) <= 1e-1);
    assert.ok(Number.isInteger(c.layers) && (c.layers as number) >= 1 && (c.layers as number) <= 8);
    const e = encodeForSurrogate(space, c);
    assert.equal(e.length, 3);
    assert.ok(e.every((x) => x >= 0 && x <= 1));
    logSum += Math.log10(c.lr as number);
  }
  // Log-uniform on [1e-5, 1e-1]: the mean of log10 is -3.
  assert.ok(Math.abs(logSum / 2000 + 3) < 0.1);
  assert.deepEqual(sampleConfiguration(space, rngFor(9, 't')), sampleConfiguration(space, rngFor(9, 't')));
});

test('untried configurations: a finite space is drawn without repeats until it runs out; a float space as sampled', () => {
  const discrete = space.slice(1);
  assert.equal(spaceSize(discrete), 24);
  assert.equal(spaceSize(space), Infinity);
  const tried = new Set([configurationKey(discrete, { layers: 2, norm: 'rms' })]);
  const rng = new Rng(4);
  const first = sampleUntried(discrete, rng, tried, 10);
  const rest = sampleUntried(discrete, rng, tried, 100);
  const keys = [...first, ...rest].map((c) => configurationKey(discrete, c));
  assert.deepEqual([first.length, rest.length], [10, 13], 'the 23 untried configurations, then none');
  assert.equal(new Set(keys).size, 23);
  assert.ok(!keys.includes(configurationKey(discrete, { layers: 2, norm: 'rms' })));
  assert.equal(tried.size, 24);
  assert.deepEqual(sampleUntried(discrete, rng, tried, 5), []);
  // Draws uniform over the untried: each of 23 configurations about equally often as the first of 10.
  const counts = new Map<string, number>();
  for (let i = 0; i < 4600; i++) {
    const k = configurationKey(discrete, sampleUntried(discrete, rngFor(i, 'u'), new Set([keys[0]!]), 1)[0]!);
    counts.set(k, (counts.get(k) ?? 0) + 1);
  }
  assert.equal(counts.size, 23);
  for (const n of counts.values()) assert.ok(n > 140 && n < 260, `${n} of 4600 where 200 are expected`);
  // On a float parameter draws do not collide: the same stream as sampling directly.
  const a = new Rng(7);
  const b = new Rng(7);
  assert.deepEqual(
    sampleUntried(space, a, new Set(), 50),
    Array.from({ length: 50 }, () => sampleConfiguration(space, b)),
  );
});

test('a log(1 − x) scale samples uniformly in log(1 − x), encodes monotonically, and is refused where it cannot hold', () => {
  const beta2: ParameterSpec[] = [
    { name: 'beta2', domain: { kind: 'float', min: 0.9, max: 0.9999, log: false, logOneMinus: true } },
  ];
  assert.deepEqual(validateSearchSpace(beta2), []);
  const rng = new Rng(5);
  let sum = 0;
  const n = 4000;
  for (let i = 0; i < n; i++) {
    const x = sampleConfiguration(beta2, rng).beta2 as number;
    assert.ok(x >= 0.9 && x <= 0.9999);
    sum += Math.log10(1 - x);
  }
  // Uniform in log10(1 − x) on [−4, −1]: mean −2.5 (a linear or log-x draw would put it near −1.3).
  assert.ok(Math.abs(sum / n + 2.5) < 0.05, `mean log10(1 − x) ${sum / n}`);
  // Closed form: 0.99 sits a third of the way (1 decade of 3), 0.999 two thirds; the ends at 0 and 1.
  const at = (x: number) => encodeForSurrogate(beta2, { beta2: x })[0]!;
  assert.ok(Math.abs(at(0.99) - 1 / 3) < 1e-9 && Math.abs(at(0.999) - 2 / 3) < 1e-9);
  assert.equal(at(0.9), 0);
  assert.ok(Math.abs(at(0.9999) - 1) < 1e-12);
  const problems = validateSearchSpace([
    { name: 'a', domain: { kind: 'float', min: 0.5, max: 1, log: false, logOneMinus: true } },
    { name: 'b', domain: { kind: 'float', min: 0.1, max: 0.9, log: true, logOneMinus: true } },
  ]);
  assert.deepEqual(
    problems.map((p) => p.field),
    ['search_space.parameters[0].float_range.max', 'search_space.parameters[1].float_range.log_one_minus'],
  );
});

test('Rng: uniform and normal moments, state round trip', () => {
  const r = new Rng(42);
  let s = 0,
    s2 = 0;
  const n = 200_000;
  for (let i = 0; i < n; i++) {
    const x = r.normal();
    s += x;
    s2 += x * x;
  }
  assert.ok(Math.abs(s / n) < 0.01);
  assert.ok(Math.abs(s2 / n - 1) < 0.01);
  r.normal();
  const state = r.getState();
  const a = [r.next(), r.normal(), r.normal()];
  r.setState(state);
  assert.deepEqual([r.next(), r.normal(), r.normal()], a);
});
