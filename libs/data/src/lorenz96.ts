// Lorenz-96: dx_i/dt = (x_{i+1} − x_{i−2})·x_{i−1} − x_i + F, integrated with RK4. The "sim" dataset is
// plentiful and exact; the "obs" variant is scarcer, noisier and biased (a different forcing and an
// offset sensor), for transfer-learning studies. Task: predict the state one output step ahead.
import { rngFor } from '@floe/random';
import type { TabularDataset } from './types.js';

function derivative(x: Float64Array, forcing: number, out: Float64Array): void {
  const n = x.length;
  for (let i = 0; i < n; i++) out[i] = (x[(i + 1) % n]! - x[(i - 2 + n) % n]!) * x[(i - 1 + n) % n]! - x[i]! + forcing;
}

function rk4(x: Float64Array, forcing: number, dt: number): void {
  const n = x.length;
  const k1 = new Float64Array(n),
    k2 = new Float64Array(n),
    k3 = new Float64Array(n),
    k4 = new Float64Array(n),
    t = new Float64Array(n);
  derivative(x, forcing, k1);
  for (let i = 0; i < n; i++) t[i] = x[i]! + 0.5 * dt * k1[i]!;
  derivative(t, forcing, k2);
  for (let i = 0; i < n; i++) t[i] = x[i]! + 0.5 * dt * k2[i]!;
  derivative(t, forcing, k3);
  for (let i = 0; i < n; i++) t[i] = x[i]! + dt * k3[i]!;
  derivative(t, forcing, k4);
  for (let i = 0; i < n; i++) x[i] = x[i]! + (dt / 6) * (k1[i]! + 2 * k2[i]! + 2 * k3[i]! + k4[i]!);
}

export interface Lorenz96Options {
  variables: number;
  forcing: number;
  samples: number;
  /** Steps of dt = 0.01 between input and target, and between samples. */
  stepsAhead: number;
  noise: number;
  bias: number;
  seed: number;
}

export const LORENZ96_SIM: Lorenz96Options = {
  variables: 8,
  forcing: 8,
  samples: 20000,
  stepsAhead: 5,
  noise: 0,
  bias: 0,
  seed: 96,
};
export const LORENZ96_OBS: Lorenz96Options = {
  variables: 8,
  forcing: 8.8,
  samples: 1000,
  stepsAhead: 5,
  noise: 0.5,
  bias: 0.3,
  seed: 97,
};

export function lorenz96(name: string, o: Lorenz96Options): TabularDataset {
  const rng = rngFor(o.seed, 'lorenz96');
  const n = o.variables;
  const x = new Float64Array(n).fill(o.forcing);
  x[0]! += 0.01;
  for (let s = 0; s < 1000; s++) rk4(x, o.forcing, 0.01); // spin up onto the attractor
  const features = new Float32Array(o.samples * n);
  const targets = new Float32Array(o.samples * n);
  const observe = (v: number) => v + o.bias + o.noise * rng.normal();
  for (let s = 0; s < o.samples; s++) {
    for (let i = 0; i < n; i++) features[s * n + i] = observe(x[i]!);
    for (let k = 0; k < o.stepsAhead; k++) rk4(x, o.forcing, 0.01);
    for (let i = 0; i < n; i++) targets[s * n + i] = observe(x[i]!);
  }
  const names = Array.from({ length: n }, (_, i) => `x${i}`);
  return {
    kind: 'tabular',
    name,
    features: names,
    x: features,
    rows: o.samples,
    target: { type: 'regression', y: targets, names: names.map((c) => `${c}_next`) },
  };
}
