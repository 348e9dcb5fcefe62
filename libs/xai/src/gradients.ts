// Gradient attributions. Integrated Gradients: φ = (x − x′) ⊙ ∫₀¹ ∇f(x′ + t(x − x′)) dt by Gauss–Legendre
// quadrature (Captum's default, 50 nodes); its convergence delta Σφ − (f(x) − f(x′)) shrinks as nodes grow.
// GradientSHAP (expected gradients): baselines drawn from a background and a uniform t per sample; the
// average of (x − b) ⊙ ∇f(b + t(x − b)), with a standard error per feature.
import { rngFor } from '@floe/random';
import { meanStandardError, sum, type Attribution, type BatchModel } from './types.js';

/** Gauss–Legendre nodes and weights on [0, 1] (weights sum to 1), by Newton's method on P_n. */
export function gaussLegendre(n: number): { nodes: Float64Array; weights: Float64Array } {
  const nodes = new Float64Array(n);
  const weights = new Float64Array(n);
  for (let i = 0; i < Math.ceil(n / 2); i++) {
    let z = Math.cos((Math.PI * (i + 0.75)) / (n + 0.5));
    let derivative = 1;
    for (let iter = 0; iter < 100; iter++) {
      // P_n(z) by the three-term recurrence; P_{n−1}(z) kept for the derivative.
      let p1 = 1;
      let p2 = 0;
      for (let j = 1; j <= n; j++) [p1, p2] = [((2 * j - 1) * z * p1 - (j - 1) * p2) / j, p1];
      derivative = (n * (z * p1 - p2)) / (z * z - 1);
      const step = p1 / derivative;
      z -= step;
      if (Math.abs(step) < 1e-15) break;
    }
    const w = 2 / ((1 - z * z) * derivative * derivative);
    // [−1, 1] → [0, 1]: nodes ascending, weights halved.
    nodes[i] = (1 - z) / 2;
    nodes[n - 1 - i] = (1 + z) / 2;
    weights[i] = weights[n - 1 - i] = w / 2;
  }
  return { nodes, weights };
}

function requireGradient(model: BatchModel): (x: Float32Array, rows: number) => Float32Array {
  if (!model.gradient) throw new Error('this model has no gradient');
  return model.gradient.bind(model);
}

export interface IntegratedGradientsOptions {
  /** Quadrature nodes; default 50. */
  steps?: number;
  /** Rows per gradient call. */
  batch?: number;
}

export function integratedGradients(
  model: BatchModel,
  x: Float32Array,
  baseline: Float32Array,
  opts: IntegratedGradientsOptions = {},
): Attribution {
  const t0 = performance.now();
  const gradient = requireGradient(model);
  const d = model.inputs;
  const steps = opts.steps ?? 50;
  const batch = Math.max(1, opts.batch ?? 64);
  const { nodes, weights } = gaussLegendre(steps);
  const avgGrad = new Float64Array(d);
  for (let start = 0; start < steps; start += batch) {
    const rows = Math.min(batch, steps - start);
    const points = new Float32Array(rows * d);
    for (let r = 0; r < rows; r++) {
      const t = nodes[start + r]!;
      for (let i = 0; i < d; i++) points[r * d + i] = baseline[i]! + t * (x[i]! - baseline[i]!);
    }
    const g = gradient(points, rows);
    for (let r = 0; r < rows; r++) {
      const w = weights[start + r]!;
      for (let i = 0; i < d; i++) avgGrad[i]! += w * g[r * d + i]!;
    }
  }
  const values = avgGrad.map((g, i) => g * (x[i]! - baseline[i]!));
  const ends = new Float32Array(2 * d);
  ends.set(baseline);
  ends.set(x, d);
  const [baseValue, output] = model.predict(ends, 2);
  return {
    values,
    baseValue: baseValue!,
    output: output!,
    delta: sum(values) - (output! - baseValue!),
    evaluations: steps + 2,
    wallMs: performance.now() - t0,
  };
}

export interface GradientShapOptions {
  /** Gradient samples; default 200. */
  samples?: number;
  /** Rows per gradient call. */
  batch?: number;
  seed?: number;
}

/** `background` holds rows of model.inputs values. */
export function gradientShap(
  model: BatchModel,
  x: Float32Array,
  background: Float32Array,
  opts: GradientShapOptions = {},
): Attribution {
  const t0 = performance.now();
  const gradient = requireGradient(model);
  const d = model.inputs;
  const backgroundRows = background.length / d;
  const samples = opts.samples ?? 200;
  const batch = Math.max(1, opts.batch ?? 64);
  const rng = rngFor(opts.seed ?? 0, 'gradient-shap');
  const mean = new Float64Array(d);
  const sq = new Float64Array(d);
  for (let start = 0; start < samples; start += batch) {
    const rows = Math.min(batch, samples - start);
    const points = new Float32Array(rows * d);
    const diffs = new Float32Array(rows * d);
    for (let r = 0; r < rows; r++) {
      const b = rng.int(backgroundRows) * d;
      const t = rng.next();
      for (let i = 0; i < d; i++) {
        const diff = x[i]! - background[b + i]!;
        diffs[r * d + i] = diff;
        points[r * d + i] = background[b + i]! + t * diff;
      }
    }
    const g = gradient(points, rows);
    for (let k = 0; k < rows * d; k++) {
      const c = g[k]! * diffs[k]!;
      mean[k % d]! += c;
      sq[k % d]! += c * c;
    }
  }
  const values = mean.map((s) => s / samples);
  const standardErrors = values.map((m, i) => meanStandardError(m, sq[i]!, samples));
  const outputs = model.predict(background, backgroundRows);
  const baseValue = sum(outputs) / backgroundRows;
  const output = model.predict(x, 1)[0]!;
  return {
    values,
    baseValue,
    output,
    delta: sum(values) - (output - baseValue),
    standardErrors,
    evaluations: samples + backgroundRows + 1,
    wallMs: performance.now() - t0,
  };
}
