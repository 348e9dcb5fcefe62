// Parameters are tf.Variables named by their path ("block.2.attn.wq"). Initial values come from our own
// seeded generator, one stream per (seed, name): identical on every backend and machine, and any
// parameter can be regenerated from the seed alone (FreezeNet stores only what it trained).
import * as tf from '@tensorflow/tfjs-core';
import { rngFor } from '@floe/random';

export type Init =
  | { normal: number }
  | { uniform: number }
  | 'zeros'
  | 'ones'
  /** Mamba's S4D-real A: log(1..N) along the last axis. */
  | { aLog: number }
  /** Mamba's Δ bias: softplus⁻¹ of a log-uniform draw in [min, max]. */
  | { dtBias: [number, number] };

export interface Param {
  /** Full name, unique in the model. */
  name: string;
  variable: tf.Variable;
  /** How it was initialised (for regeneration). */
  init: Init;
}

/** The initial values of a parameter, from (seed, name) alone. */
export function initialValues(seed: number, name: string, shape: number[], init: Init): Float32Array {
  const n = shape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(n);
  if (init === 'zeros') return out;
  if (init === 'ones') return out.fill(1);
  if ('aLog' in init) {
    for (let i = 0; i < n; i++) out[i] = Math.log(1 + (i % init.aLog));
    return out;
  }
  const rng = rngFor(seed, name);
  if ('normal' in init) for (let i = 0; i < n; i++) out[i] = rng.normal() * init.normal;
  else if ('uniform' in init) for (let i = 0; i < n; i++) out[i] = (2 * rng.next() - 1) * init.uniform;
  else {
    const [lo, hi] = init.dtBias;
    for (let i = 0; i < n; i++) {
      const dt = Math.exp(Math.log(lo) + rng.next() * (Math.log(hi) - Math.log(lo)));
      out[i] = dt + Math.log(-Math.expm1(-dt)); // softplus⁻¹(dt)
    }
  }
  return out;
}

let variableCounter = 0;

export function makeParam(seed: number, name: string, shape: number[], init: Init): Param {
  const values = initialValues(seed, name, shape, init);
  // Variable names must be unique per process; the parameter name stays the model-level identity.
  const variable = tf.variable(tf.tensor(values, shape), true, `${name}#${variableCounter++}`);
  return { name, variable, init };
}

/** A new parameter with a copy (or a transformation) of another's value. */
export function copyParam(source: Param, name: string, zero = false): Param {
  const value = zero ? tf.zerosLike(source.variable) : tf.clone(source.variable);
  const variable = tf.variable(value, true, `${name}#${variableCounter++}`);
  value.dispose();
  return { name, variable, init: source.init };
}
