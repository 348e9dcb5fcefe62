// What a user of stock wasm gets for a kernel it lacks: the cpu backend's kernel, run on the data read
// out of wasm memory and written back. Used as the baseline column of the benchmark, never in training.
import * as tf from '@tensorflow/tfjs-core';
import type { KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';

interface AnyBackend {
  readSync(dataId: object): tf.backend_util.BackendValues;
  makeOutput?(
    shape: number[],
    dtype: tf.DataType,
    memoryOffset?: number,
    values?: tf.backend_util.BackendValues,
  ): TensorInfo;
  makeTensorInfo?(shape: number[], dtype: tf.DataType, values?: tf.backend_util.BackendValues): TensorInfo;
  disposeData(dataId: object): void;
}

/** Registers, for each named kernel that wasm lacks, a wasm kernel that round-trips through cpu. */
export function registerCpuFallbacks(kernelNames: readonly string[]): string[] {
  const cpu = tf.findBackend('cpu') as unknown as AnyBackend;
  const added: string[] = [];
  for (const name of kernelNames) {
    if (tf.getKernel(name, 'wasm')) continue;
    const cpuKernel = tf.getKernel(name, 'cpu');
    if (!cpuKernel) continue;
    const kernelFunc: KernelFunc = ({ inputs, backend, attrs }) => {
      const wasm = backend as unknown as AnyBackend;
      const cpuInputs: Record<string, TensorInfo> = {};
      for (const [key, t] of Object.entries(inputs as Record<string, TensorInfo>)) {
        cpuInputs[key] = cpu.makeTensorInfo!(
          t.shape,
          t.dtype,
          wasm.readSync(t.dataId).slice() as tf.backend_util.BackendValues,
        );
      }
      const result = cpuKernel.kernelFunc({ inputs: cpuInputs, backend: cpu as never, attrs }) as
        TensorInfo | TensorInfo[];
      const outs = Array.isArray(result) ? result : [result];
      const wasmOuts = outs.map((o) => {
        const w = wasm.makeOutput!(o.shape, o.dtype, undefined, cpu.readSync(o.dataId));
        cpu.disposeData(o.dataId);
        return w;
      });
      for (const t of Object.values(cpuInputs)) cpu.disposeData(t.dataId);
      return Array.isArray(result) ? wasmOuts : wasmOuts[0]!;
    };
    tf.registerKernel({ kernelName: name, backendName: 'wasm', kernelFunc });
    added.push(name);
  }
  return added;
}
