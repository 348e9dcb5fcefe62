// Shapley methods on their axioms and closed forms: efficiency, a linear model's φ_i = w_i(x_i − E[x_i]),
// dummy and symmetric features, x equal to the background, KernelSHAP with every coalition equal to
// exact, exact equal to the brute-force definition over all orders, determinism and batch = row by row.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rngFor } from '@floe/random';
import {
  exactShapley,
  explainRows,
  kernelShap,
  permutationShap,
  sum,
  tabularValue,
  type BatchModel,
  type ValueFunction,
} from '../src/index.js';

function fnModel(inputs: number, f: (x: Float32Array, at: number) => number): BatchModel {
  return {
    inputs,
    predict(x, rows) {
      const out = new Float64Array(rows);
      for (let r = 0; r < rows; r++) out[r] = f(x, r * inputs);
      return out;
    },
  };
}

function randomRows(rows: number, m: number, seed: number): Float32Array {
  const rng = rngFor(seed, 'rows');
  return Float32Array.from({ length: rows * m }, () => rng.normal());
}

/** A non-linear function with interactions; the last feature is never read. */
const nonlinear = (m: number) =>
  fnModel(m, (x, a) => {
    let y = Math.sin(x[a]! + x[a + 1]!) + x[a]! * x[a + 1]! * x[a + 2]!;
    for (let i = 2; i < m - 1; i++) y += Math.tanh(x[a + i]! * (i % 3)) * x[a + ((i + 1) % (m - 1))]!;
    return y;
  });

/** φ by the definition: the mean marginal contribution over all M! orders. */
function bruteForce(value: ValueFunction, m: number): Float64Array {
  const phi = new Float64Array(m);
  const cache = new Map<number, number>();
  const v = (set: number) => {
    if (!cache.has(set)) {
      const mask = new Uint8Array(m);
      for (let i = 0; i < m; i++) if (set & (1 << i)) mask[i] = 1;
      cache.set(set, value(mask, 1)[0]!);
    }
    return cache.get(set)!;
  };
  let orders = 0;
  const permute = (prefix: number[], rest: number[]) => {
    if (!rest.length) {
      orders++;
      let set = 0;
      for (const i of prefix) {
        phi[i]! += v(set | (1 << i)) - v(set);
        set |= 1 << i;
      }
      return;
    }
    rest.forEach((r, k) => permute([...prefix, r], [...rest.slice(0, k), ...rest.slice(k + 1)]));
  };
  permute(
    [],
    Array.from({ length: m }, (_, i) => i),
  );
  return phi.map((p) => p / orders);
}

const close = (a: ArrayLike<number>, b: ArrayLike<number>, tol: number, what: string) => {
  for (let i = 0; i < a.length; i++)
    assert.ok(Math.abs(a[i]! - b[i]!) <= tol, `${what}[${i}]: ${a[i]} vs ${b[i]} (tolerance ${tol})`);
};

test('exact Shapley equals the brute-force definition on a random non-linear function', () => {
  const m = 6;
  const model = nonlinear(m);
  const background = randomRows(5, m, 2);
  const x = randomRows(1, m, 3);
  const value = tabularValue(model, x, background);
  close(exactShapley(value, m).values, bruteForce(value, m), 1e-9, 'φ');
});

test('efficiency: exact within 1e-6 relative, KernelSHAP within 1e-4, permutation exactly', () => {
  for (const m of [5, 10, 14]) {
    const model = nonlinear(m);
    const value = tabularValue(model, randomRows(1, m, 10 + m), randomRows(8, m, m));
    for (const [name, r, tol] of [
      ['exact', exactShapley(value, m), 1e-6],
      ['kernel', kernelShap(value, m, { seed: 1 }), 1e-4],
      ['permutation', permutationShap(value, m, { seed: 1 }), 1e-9],
    ] as const) {
      const gap = r.output - r.baseValue;
      assert.ok(Math.abs(r.delta) <= tol * Math.max(1, Math.abs(gap)), `${name} M=${m}: Σφ off by ${r.delta}`);
      assert.ok(Math.abs(sum(r.values) - gap - r.delta) < 1e-12);
    }
  }
});

test("a linear model's values are w_i(x_i − E[x_i]) for every method", () => {
  const m = 7;
  const w = [0.5, -2, 3, 0, 1.25, -0.75, 2];
  const b = 0.3;
  const model: BatchModel = {
    ...fnModel(m, (x, a) => b + w.reduce((s, wi, i) => s + wi * x[a + i]!, 0)),
    gradient: (_x, rows) => Float32Array.from({ length: rows * m }, (_, k) => w[k % m]!),
  };
  const background = randomRows(20, m, 4);
  const x = randomRows(1, m, 5);
  const mean = Array.from({ length: m }, (_, i) => {
    let s = 0;
    for (let r = 0; r < 20; r++) s += background[r * m + i]!;
    return s / 20;
  });
  const expected = w.map((wi, i) => wi * (x[i]! - mean[i]!));
  for (const method of ['exact', 'kernel', 'permutation', 'integrated-gradients'] as const) {
    const [r] = explainRows(model, x, background, { method, seed: 3, budget: 500 });
    close(r!.values, expected, 1e-4, method);
  }
  // Expected gradients samples baselines: within a few standard errors of the closed form.
  const [g] = explainRows(model, x, background, { method: 'gradient-shap', steps: 4000, seed: 3 });
  g!.values.forEach((v, i) =>
    assert.ok(
      Math.abs(v - expected[i]!) <= 4 * g!.standardErrors![i]! + 1e-6,
      `gradient-shap[${i}] ${v} vs ${expected[i]}`,
    ),
  );
});

test('a dummy feature gets 0, symmetric features get equal values, x equal to the background gives 0', () => {
  const m = 6;
  // Symmetric in features 0 and 1; feature 5 is never read.
  const model = fnModel(
    m,
    (x, a) => Math.sin(x[a]! + x[a + 1]!) + x[a]! * x[a + 1]! * x[a + 2]! + Math.tanh(x[a + 3]!) * x[a + 4]!,
  );
  const background = randomRows(6, m, 7);
  const x = randomRows(1, m, 8);
  // Features 0 and 1 enter symmetrically only if x and the background agree on that symmetry.
  x[1] = x[0]!;
  for (let r = 0; r < 6; r++) background[r * m + 1] = background[r * m]!;
  for (const method of ['exact', 'kernel'] as const) {
    const [r] = explainRows(model, x, background, { method, seed: 1 });
    assert.ok(Math.abs(r!.values[m - 1]!) < 1e-9, `${method}: the dummy got ${r!.values[m - 1]}`);
    assert.ok(Math.abs(r!.values[0]! - r!.values[1]!) < 1e-6, `${method}: ${r!.values[0]} vs ${r!.values[1]}`);
  }
  const [same] = explainRows(model, x, x, { method: 'exact' });
  close(same!.values, new Float64Array(m), 1e-12, 'φ at the background');
});

test('KernelSHAP with a budget of every coalition equals exact Shapley (M ≤ 10)', () => {
  for (const m of [3, 4, 7, 10]) {
    const value = tabularValue(nonlinear(m), randomRows(1, m, 20 + m), randomRows(4, m, 30 + m));
    const kernel = kernelShap(value, m, { budget: 2 ** m - 2, seed: 5 });
    assert.equal(kernel.standardErrors, undefined, 'every coalition: nothing sampled');
    close(kernel.values, exactShapley(value, m).values, 1e-6, `M=${m}`);
  }
});

test('sampled KernelSHAP lands near exact, within its standard errors', () => {
  const m = 12;
  const value = tabularValue(nonlinear(m), randomRows(1, m, 41), randomRows(4, m, 42));
  const exact = exactShapley(value, m).values;
  const kernel = kernelShap(value, m, { budget: 600, seed: 2 });
  const z = kernel.values.map((v, i) => Math.abs(v - exact[i]!) / Math.max(kernel.standardErrors![i]!, 1e-9));
  assert.ok(Math.max(...z) < 5, `largest error in standard errors: ${Math.max(...z).toFixed(2)}`);
});

test('the same seed gives the same values; a batch equals its rows explained one by one', () => {
  const m = 9;
  const model = nonlinear(m);
  const background = randomRows(5, m, 50);
  const instances = randomRows(3, m, 51);
  for (const method of ['kernel', 'permutation'] as const) {
    const batch = explainRows(model, instances, background, { method, seed: 7, budget: 300 });
    const again = explainRows(model, instances, background, { method, seed: 7, budget: 300 });
    batch.forEach((r, k) => {
      assert.deepEqual(r.values, again[k]!.values, `${method}: same seed`);
      const [alone] = explainRows(model, instances.slice(k * m, (k + 1) * m), background, {
        method,
        seed: 7,
        budget: 300,
      });
      assert.deepEqual(r.values, alone!.values, `${method}: row ${k}`);
    });
    const other = explainRows(model, instances, background, { method, seed: 8, budget: 300 });
    assert.notDeepEqual(batch[0]!.values, other[0]!.values, `${method}: another seed samples differently`);
  }
});

test('exact refuses more than 14 features; KernelSHAP a budget below 2M + 2', () => {
  const value: ValueFunction = (_m, n) => new Float64Array(n);
  assert.throws(() => exactShapley(value, 15), /1 to 14 features/);
  assert.throws(() => kernelShap(value, 20, { budget: 41 }), /below 2M \+ 2 = 42/);
});
