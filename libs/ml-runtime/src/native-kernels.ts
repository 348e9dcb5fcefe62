// floe's native kernels as TF.js kernels on the wasm backend: the tensors stay in wasm memory and the
// addon reads and writes them in place (no copies). Transposes are absorbed by the GEMM's packing, so the
// explicit Transpose that the wasm pack needs disappears. Everything else keeps running in wasm.
import * as tf from '@tensorflow/tfjs-core';
import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { native } from '@floe/native';

interface WasmBackend {
  makeOutput(shape: number[], dtype: tf.DataType): TensorInfo;
  typedArrayFromHeap(t: TensorInfo): Float32Array;
  disposeData?(dataId: object): void;
}

const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

let fallbackMatMul: KernelFunc | undefined;

const nativeBatchMatMul: KernelFunc = (args) => {
  const backend = args.backend as unknown as WasmBackend;
  const { a, b } = args.inputs as { a: TensorInfo; b: TensorInfo };
  const { transposeA, transposeB } = args.attrs as { transposeA: boolean; transposeB: boolean };
  const [ar, ac] = a.shape.slice(-2) as [number, number];
  const [br, bc] = b.shape.slice(-2) as [number, number];
  const m = transposeA ? ac : ar;
  const k = transposeA ? ar : ac;
  const n = transposeB ? br : bc;
  const outerA = a.shape.slice(0, -2);
  const outerB = b.shape.slice(0, -2);
  const batchA = size(outerA);
  const batchB = size(outerB);
  const outOuter = tf.broadcast_util.assertAndGetBroadcastShape(outerA, outerB);
  const sameOrOne = batchA === batchB || batchA === 1 || batchB === 1;
  if (!sameOrOne) return fallbackMatMul!(args);
  const out = backend.makeOutput([...outOuter, m, n], 'float32');
  // Views after makeOutput: growing the wasm memory detaches earlier views.
  const av = backend.typedArrayFromHeap(a);
  const bv = backend.typedArrayFromHeap(b);
  const cv = backend.typedArrayFromHeap(out);
  const lda = transposeA ? m : k;
  const ldb = transposeB ? k : n;
  if (batchB === 1 && !transposeA) {
    // Every batch of A meets the same B: one tall product.
    native!.sgemmBatched(1, false, transposeB, batchA * m, n, k, 1, av, 0, k, bv, 0, ldb, 0, cv, 0, n);
  } else {
    const batch = Math.max(batchA, batchB);
    native!.sgemmBatched(batch, transposeA, transposeB, m, n, k, 1, av, batchA === 1 ? 0 : m * k, lda, bv, batchB === 1 ? 0 : k * n, ldb, 0, cv, m * n, n);
  }
  return out;
};

const nativeTranspose: KernelFunc = (args) => {
  const backend = args.backend as unknown as WasmBackend;
  const { x } = args.inputs as { x: TensorInfo };
  const { perm } = args.attrs as { perm: number[] };
  const out = backend.makeOutput(perm.map((p) => x.shape[p]!), x.dtype);
  if (x.dtype !== 'float32') {
    // int32 and bool tensors are rare here (indices); the pack's transpose handles them.
    backend.disposeData?.(out.dataId);
    return fallbackTranspose!(args);
  }
  native!.transpose(backend.typedArrayFromHeap(x), backend.typedArrayFromHeap(out), x.shape, perm);
  return out;
};

let fallbackTranspose: KernelFunc | undefined;
let registered = false;

/** Overrides the wasm pack's BatchMatMul with the native one; call after the wasm backend is ready. */
export function registerNativeKernels(): void {
  if (!native) throw new Error('the native addon is not available');
  if (registered) return;
  const current = tf.getKernel('BatchMatMul', 'wasm');
  if (!current) throw new Error('the wasm backend is not loaded');
  const transpose = tf.getKernel('Transpose', 'wasm')!;
  fallbackMatMul = current.kernelFunc;
  fallbackTranspose = transpose.kernelFunc;
  nativeConfigs = [
    { kernelName: 'BatchMatMul', backendName: 'wasm', kernelFunc: nativeBatchMatMul },
    { kernelName: 'Transpose', backendName: 'wasm', kernelFunc: nativeTranspose },
  ];
  replacedConfigs = [{ ...current, setupFunc: undefined }, { ...transpose, setupFunc: undefined }];
  useNativeKernels(true);
  registered = true;
}

let nativeConfigs: KernelConfig[] = [];
let replacedConfigs: KernelConfig[] = [];

/** Switches between the native kernels and the wasm pack (benchmarks compare both in one process). */
export function useNativeKernels(on: boolean): void {
  if (!registered && on !== true) return;
  for (const c of on ? nativeConfigs : replacedConfigs) {
    if (tf.getKernel(c.kernelName, 'wasm')) tf.unregisterKernel(c.kernelName, 'wasm');
    tf.registerKernel(c);
  }
}

export const NATIVE_KERNELS = ['BatchMatMul', 'Transpose'] as const;
