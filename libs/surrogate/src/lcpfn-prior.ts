// The LC-PFN prior (docs/ALGORITHMS.md §4; Adriaensen et al. 2023), as a seeded sampler of single learning
// curves on y ∈ [0, 1] (higher is better): a Dirichlet(1,1,1)-weighted sum of pow3 c − a·t^(−α),
// ilog2 c − a/ln(t + 1) and Janoschek α − (α − β)·exp(−κ·t^δ) sharing their asymptote, with log-normal
// noise σ = exp(N(−4, 1)); curves that do not improve or leave [0, 1] are rejected and drawn again.
// Reconstruction: the parameter ranges are ours (the paper's code was not available here).
import type { Rng } from '@floe/random';
import { sampleDirichlet } from './distributions.js';

export interface LcCurve {
  /** y at t = 1 … length. */
  values: Float64Array;
  /** The noiseless curve. */
  mean: Float64Array;
  sigma: number;
}

export function sampleLcPfnCurve(rng: Rng, length: number): LcCurve {
  for (;;) {
    const yInf = rng.uniform(0.2, 1);
    const y0 = rng.uniform(0, yInf);
    const gap = yInf - y0;
    const w = sampleDirichlet(rng, [1, 1, 1]);
    const alpha = Math.exp(rng.normal() * 0.7);
    const kappa = Math.exp(rng.normal() - 2);
    const delta = Math.exp(rng.normal() * 0.5);
    const sigma = Math.exp(rng.normal() - 4);
    const mean = new Float64Array(length);
    const values = new Float64Array(length);
    let ok = true;
    for (let i = 0; i < length; i++) {
      const t = i + 1;
      // Each family starts at y0 (t = 1) and approaches yInf.
      const pow3 = yInf - gap * Math.pow(t, -alpha);
      const ilog2 = yInf - (gap * Math.LN2) / Math.log(t + 1);
      const janoschek = yInf - gap * Math.exp(-kappa * (Math.pow(t, delta) - 1));
      mean[i] = w[0]! * pow3 + w[1]! * ilog2 + w[2]! * janoschek;
      values[i] = mean[i]! + rng.normal() * sigma;
      if (!(values[i]! >= 0 && values[i]! <= 1)) ok = false;
    }
    if (ok && mean[length - 1]! > mean[0]!) return { values, mean, sigma };
  }
}
