// Runs one computation on the cpu backend and on wasm (with whatever kernels are registered there) from
// the same inputs, and compares every output: |wasm − cpu| ≤ tol · (1 + max|cpu|) per output — float32
// sums in a different order, whose rounding error scales with the size of the terms, not of the result.
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import type { Rng } from '@floe/random';

/** Standard-normal values for a tensor of `shape`. */
export function randomValues(rng: Rng, shape: number[]): Float32Array {
  return Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rng.normal());
}

export interface Input {
  shape: number[];
  values: Float32Array | Int32Array;
  dtype?: 'float32' | 'int32';
}

export async function sameOnCpuAndWasm(
  name: string,
  inputs: Input[],
  f: (...xs: tf.Tensor[]) => tf.Tensor | tf.Tensor[],
  tol = 1e-4,
): Promise<void> {
  const run = async (backend: string) => {
    await tf.setBackend(backend);
    return tf.tidy(() => {
      const xs = inputs.map((i) => tf.tensor(i.values, i.shape, i.dtype ?? 'float32'));
      const out = f(...xs);
      return (Array.isArray(out) ? out : [out]).map((t) => ({ shape: t.shape, values: t.dataSync().slice() }));
    });
  };
  const cpu = await run('cpu');
  const wasm = await run('wasm');
  for (let o = 0; o < cpu.length; o++) {
    assert.deepEqual(wasm[o]!.shape, cpu[o]!.shape, `${name}: output ${o} shape`);
    const a = cpu[o]!.values;
    const b = wasm[o]!.values;
    let scale = 0;
    for (let i = 0; i < a.length; i++) scale = Math.max(scale, Math.abs(a[i]!));
    for (let i = 0; i < a.length; i++) {
      if (Math.abs(a[i]! - b[i]!) > tol * (1 + scale))
        assert.fail(`${name}: output ${o}[${i}] cpu ${a[i]} wasm ${b[i]}`);
    }
  }
}
