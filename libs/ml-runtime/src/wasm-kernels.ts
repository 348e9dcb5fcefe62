// floe's training kernel pack for the TF.js wasm backend. Stock wasm lacks kernels that gradients need
// (UnsortedSegmentSum: the gradient of gather/embedding; Conv2DBackpropFilter; the depthwise backprops)
// and its BatchMatMul is fast only for one batch without transposes (XNNPACK), falling back to a slow
// loop otherwise. Here: the missing kernels (direct loops, or im2col + the fast matMul), and BatchMatMul
// re-registered to transpose explicitly and to run batches through the fast path.
import * as tf from '@tensorflow/tfjs-core';
import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { conv2dInfo, type ConvInfo } from './conv-info.js';

// The wasm backend's object as far as kernels see it (its class is not exported with types).
interface WasmBackend {
  makeOutput(shape: number[], dtype: tf.DataType): TensorInfo;
  typedArrayFromHeap(t: TensorInfo): Float32Array | Int32Array | Uint8Array;
  disposeData(dataId: object): void;
}

const f32 = (b: WasmBackend, t: TensorInfo) => b.typedArrayFromHeap(t) as Float32Array;
const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

let registered = false;
let originalMatMul: KernelFunc | undefined;
let transposeKernel: KernelFunc | undefined;

function transposeLastTwo(backend: WasmBackend, x: TensorInfo): TensorInfo {
  const rank = x.shape.length;
  const perm = [...Array(rank).keys()];
  [perm[rank - 2], perm[rank - 1]] = [perm[rank - 1]!, perm[rank - 2]!];
  return transposeKernel!({ inputs: { x }, backend: backend as never, attrs: { perm } }) as TensorInfo;
}

/** A [1, rows, cols] copy of batch `i` of a [batch, rows, cols]-shaped tensor. */
function batchSlice(backend: WasmBackend, x: TensorInfo, i: number, rows: number, cols: number): TensorInfo {
  const out = backend.makeOutput([1, rows, cols], 'float32');
  const n = rows * cols;
  f32(backend, out).set(f32(backend, x).subarray(i * n, (i + 1) * n));
  return out;
}

/** C = A·B through the fast path: A [rows, k], B [k, cols], no transposes, one batch. */
function fastMatMul(backend: WasmBackend, a: TensorInfo, b: TensorInfo): TensorInfo {
  return originalMatMul!({
    inputs: { a, b },
    backend: backend as never,
    attrs: { transposeA: false, transposeB: false },
  }) as TensorInfo;
}

function reshaped(t: TensorInfo, shape: number[]): TensorInfo {
  return { dataId: t.dataId, shape, dtype: t.dtype };
}

const batchMatMul: KernelFunc = ({ inputs, backend: be, attrs }) => {
  const backend = be as unknown as WasmBackend;
  let { a, b } = inputs as { a: TensorInfo; b: TensorInfo };
  const { transposeA, transposeB } = attrs as { transposeA: boolean; transposeB: boolean };
  const temps: TensorInfo[] = [];
  if (transposeA) temps.push((a = transposeLastTwo(backend, a)));
  if (transposeB) temps.push((b = transposeLastTwo(backend, b)));
  const [m, k] = a.shape.slice(-2) as [number, number];
  const n = b.shape.at(-1)!;
  const outerA = a.shape.slice(0, -2);
  const outerB = b.shape.slice(0, -2);
  const batchA = size(outerA);
  const batchB = size(outerB);
  const outOuter = tf.broadcast_util.assertAndGetBroadcastShape(outerA, outerB);
  let out: TensorInfo;
  if (batchB === 1) {
    // Every batch of A meets the same B: one [batchA·m, k] × [k, n] product.
    out = reshaped(fastMatMul(backend, reshaped(a, [1, batchA * m, k]), reshaped(b, [1, k, n])), [...outOuter, m, n]);
  } else if (batchA === batchB || batchA === 1) {
    out = backend.makeOutput([...outOuter, m, n], 'float32');
    const aOne = batchA === 1 ? reshaped(a, [1, m, k]) : undefined;
    for (let i = 0; i < batchB; i++) {
      const ai = aOne ?? batchSlice(backend, a, i, m, k);
      const bi = batchSlice(backend, b, i, k, n);
      const ci = fastMatMul(backend, ai, bi);
      f32(backend, out).set(f32(backend, ci), i * m * n);
      if (!aOne) backend.disposeData(ai.dataId);
      backend.disposeData(bi.dataId);
      backend.disposeData(ci.dataId);
    }
  } else {
    // Mixed broadcasting of batch dims: rare; the stock kernel handles it.
    out = originalMatMul!({
      inputs: { a, b },
      backend: be,
      attrs: { transposeA: false, transposeB: false },
    }) as TensorInfo;
  }
  for (const t of temps) backend.disposeData(t.dataId);
  return out;
};

const unsortedSegmentSum: KernelFunc = ({ inputs, backend: be, attrs }) => {
  const backend = be as unknown as WasmBackend;
  const { x, segmentIds } = inputs as { x: TensorInfo; segmentIds: TensorInfo };
  const { numSegments } = attrs as { numSegments: number };
  const segRank = segmentIds.shape.length;
  const inner = size(x.shape.slice(segRank));
  const rows = size(segmentIds.shape);
  const out = backend.makeOutput([numSegments, ...x.shape.slice(segRank)], x.dtype);
  const outVals = backend.typedArrayFromHeap(out);
  const xVals = backend.typedArrayFromHeap(x);
  const ids = backend.typedArrayFromHeap(segmentIds);
  outVals.fill(0);
  for (let r = 0; r < rows; r++) {
    const s = ids[r]!;
    if (s < 0 || s >= numSegments) continue; // TF drops out-of-range ids
    const o = s * inner;
    const xo = r * inner;
    for (let j = 0; j < inner; j++) outVals[o + j]! += xVals[xo + j]!;
  }
  return out;
};

/**
 * im2col, transposed: colsT[kIndex, p] for p = (b, oh, ow) and kIndex = (fh, fw, inC), NHWC input. Laid
 * out [K, P] so that dW = colsT · dy needs no transpose.
 */
function im2colT(x: Float32Array, c: ConvInfo, out: Float32Array): void {
  const {
    batchSize,
    inHeight,
    inWidth,
    inChannels,
    outHeight,
    outWidth,
    filterHeight,
    filterWidth,
    strideHeight,
    strideWidth,
    dilationHeight,
    dilationWidth,
  } = c;
  const P = batchSize * outHeight * outWidth;
  const top = c.padInfo.top;
  const left = c.padInfo.left;
  for (let fh = 0; fh < filterHeight; fh++) {
    for (let fw = 0; fw < filterWidth; fw++) {
      for (let ic = 0; ic < inChannels; ic++) {
        const row = ((fh * filterWidth + fw) * inChannels + ic) * P;
        let p = 0;
        for (let bi = 0; bi < batchSize; bi++) {
          const xb = bi * inHeight * inWidth * inChannels;
          for (let oh = 0; oh < outHeight; oh++) {
            const ih = oh * strideHeight - top + fh * dilationHeight;
            for (let ow = 0; ow < outWidth; ow++, p++) {
              const iw = ow * strideWidth - left + fw * dilationWidth;
              out[row + p] =
                ih >= 0 && ih < inHeight && iw >= 0 && iw < inWidth
                  ? x[xb + (ih * inWidth + iw) * inChannels + ic]!
                  : 0;
            }
          }
        }
      }
    }
  }
}

const conv2DBackpropFilter: KernelFunc = ({ inputs, backend: be, attrs }) => {
  const backend = be as unknown as WasmBackend;
  const { x, dy } = inputs as { x: TensorInfo; dy: TensorInfo };
  const c = conv2dInfo(x.shape, (attrs as { filterShape: number[] }).filterShape, attrs as Record<string, unknown>);
  const K = c.filterHeight * c.filterWidth * c.inChannels;
  const P = c.batchSize * c.outHeight * c.outWidth;
  const cols = backend.makeOutput([1, K, P], 'float32');
  im2colT(f32(backend, x), c, f32(backend, cols));
  const dW = fastMatMul(backend, cols, reshaped(dy, [1, P, c.outChannels]));
  backend.disposeData(cols.dataId);
  return reshaped(dW, [c.filterHeight, c.filterWidth, c.inChannels, c.outChannels]);
};

const conv2DBackpropInput: KernelFunc = ({ inputs, backend: be, attrs }) => {
  const backend = be as unknown as WasmBackend;
  const { dy, filter } = inputs as { dy: TensorInfo; filter: TensorInfo };
  const c = conv2dInfo((attrs as { inputShape: number[] }).inputShape, filter.shape, attrs as Record<string, unknown>);
  const K = c.filterHeight * c.filterWidth * c.inChannels;
  const P = c.batchSize * c.outHeight * c.outWidth;
  // dcols[p, k] = Σ_o dy[p, o] · W[k, o]: multiply by Wᵀ, then scatter the columns back (col2im).
  const wT = transposeLastTwo(backend, reshaped(filter, [1, K, c.outChannels]));
  const dcols = fastMatMul(backend, reshaped(dy, [1, P, c.outChannels]), wT);
  backend.disposeData(wT.dataId);
  const dx = backend.makeOutput([c.batchSize, c.inHeight, c.inWidth, c.inChannels], 'float32');
  const out = f32(backend, dx);
  const d = f32(backend, dcols);
  out.fill(0);
  const {
    inHeight,
    inWidth,
    inChannels,
    outHeight,
    outWidth,
    filterHeight,
    filterWidth,
    strideHeight,
    strideWidth,
    dilationHeight,
    dilationWidth,
  } = c;
  let p = 0;
  for (let bi = 0; bi < c.batchSize; bi++) {
    const xb = bi * inHeight * inWidth * inChannels;
    for (let oh = 0; oh < outHeight; oh++) {
      for (let ow = 0; ow < outWidth; ow++, p++) {
        const row = p * K;
        for (let fh = 0; fh < filterHeight; fh++) {
          const ih = oh * strideHeight - c.padInfo.top + fh * dilationHeight;
          if (ih < 0 || ih >= inHeight) continue;
          for (let fw = 0; fw < filterWidth; fw++) {
            const iw = ow * strideWidth - c.padInfo.left + fw * dilationWidth;
            if (iw < 0 || iw >= inWidth) continue;
            const o = xb + (ih * inWidth + iw) * inChannels;
            const k0 = row + (fh * filterWidth + fw) * inChannels;
            for (let ic = 0; ic < inChannels; ic++) out[o + ic]! += d[k0 + ic]!;
          }
        }
      }
    }
  }
  backend.disposeData(dcols.dataId);
  return dx;
};

/** Loops over every (batch, output position, tap, channel, multiplier) of a depthwise conv. */
function depthwiseLoop(c: ConvInfo, visit: (xIndex: number, wIndex: number, dyIndex: number) => void): void {
  const mult = c.outChannels / c.inChannels;
  for (let b = 0; b < c.batchSize; b++) {
    for (let oh = 0; oh < c.outHeight; oh++) {
      for (let ow = 0; ow < c.outWidth; ow++) {
        const dyBase = ((b * c.outHeight + oh) * c.outWidth + ow) * c.outChannels;
        for (let fh = 0; fh < c.filterHeight; fh++) {
          const ih = oh * c.strideHeight - c.padInfo.top + fh * c.dilationHeight;
          if (ih < 0 || ih >= c.inHeight) continue;
          for (let fw = 0; fw < c.filterWidth; fw++) {
            const iw = ow * c.strideWidth - c.padInfo.left + fw * c.dilationWidth;
            if (iw < 0 || iw >= c.inWidth) continue;
            const xBase = ((b * c.inHeight + ih) * c.inWidth + iw) * c.inChannels;
            const wBase = (fh * c.filterWidth + fw) * c.inChannels * mult;
            for (let ic = 0; ic < c.inChannels; ic++) {
              for (let q = 0; q < mult; q++) visit(xBase + ic, wBase + ic * mult + q, dyBase + ic * mult + q);
            }
          }
        }
      }
    }
  }
}

const depthwiseBackpropFilter: KernelFunc = ({ inputs, backend: be, attrs }) => {
  const backend = be as unknown as WasmBackend;
  const { x, dy } = inputs as { x: TensorInfo; dy: TensorInfo };
  const filterShape = (attrs as { filterShape: number[] }).filterShape;
  const c = conv2dInfo(x.shape, filterShape, attrs as Record<string, unknown>, true);
  const dW = backend.makeOutput(filterShape, 'float32');
  const w = f32(backend, dW);
  const xv = f32(backend, x);
  const dyv = f32(backend, dy);
  w.fill(0);
  depthwiseLoop(c, (xi, wi, di) => (w[wi]! += xv[xi]! * dyv[di]!));
  return dW;
};

const depthwiseBackpropInput: KernelFunc = ({ inputs, backend: be, attrs }) => {
  const backend = be as unknown as WasmBackend;
  const { dy, filter } = inputs as { dy: TensorInfo; filter: TensorInfo };
  const inputShape = (attrs as { inputShape: number[] }).inputShape;
  const c = conv2dInfo(inputShape, filter.shape, attrs as Record<string, unknown>, true);
  const dX = backend.makeOutput(inputShape, 'float32');
  const dx = f32(backend, dX);
  const wv = f32(backend, filter);
  const dyv = f32(backend, dy);
  dx.fill(0);
  depthwiseLoop(c, (xi, wi, di) => (dx[xi]! += wv[wi]! * dyv[di]!));
  return dX;
};

/** The pack: each kernel it adds or replaces on wasm, named once (as tfjs-backend-wasm lists its kernels). */
const PACK = [
  { kernelName: 'BatchMatMul', kernelFunc: batchMatMul },
  { kernelName: 'UnsortedSegmentSum', kernelFunc: unsortedSegmentSum },
  { kernelName: 'Conv2DBackpropFilter', kernelFunc: conv2DBackpropFilter },
  { kernelName: 'Conv2DBackpropInput', kernelFunc: conv2DBackpropInput },
  { kernelName: 'DepthwiseConv2dNativeBackpropFilter', kernelFunc: depthwiseBackpropFilter },
  { kernelName: 'DepthwiseConv2dNativeBackpropInput', kernelFunc: depthwiseBackpropInput },
] as const;

/** The kernels this pack adds or replaces on wasm. */
export const WASM_PACK_KERNELS = PACK.map((k) => k.kernelName);

let packConfigs: KernelConfig[] = [];
/** The stock kernels the pack replaces (BatchMatMul, Conv2DBackpropInput). */
let stockConfigs: KernelConfig[] = [];

/** Registers the pack; call before the wasm backend initialises (setupFuncs run at init). */
export function registerWasmTrainingKernels(): void {
  if (registered) return;
  const stock = tf.getKernel('BatchMatMul', 'wasm');
  const transpose = tf.getKernel('Transpose', 'wasm');
  if (!stock || !transpose) throw new Error('the wasm backend is not loaded');
  originalMatMul = stock.kernelFunc;
  transposeKernel = transpose.kernelFunc;
  const configs: KernelConfig[] = PACK.map((k) => ({ ...k, backendName: 'wasm' }));
  // A replaced stock kernel keeps its setupFunc in the pack's config: setupFuncs run once, when the
  // backend initialises, and the stock kernel needs its own to be usable again (useWasmKernelSet).
  stockConfigs = [];
  for (const config of configs) {
    const existing = tf.getKernel(config.kernelName, 'wasm');
    if (existing) {
      stockConfigs.push({ ...existing, setupFunc: undefined });
      config.setupFunc = existing.setupFunc;
    }
  }
  packConfigs = configs;
  for (const config of configs) {
    if (tf.getKernel(config.kernelName, 'wasm')) tf.unregisterKernel(config.kernelName, 'wasm');
    tf.registerKernel(config);
  }
  registered = true;
}

/**
 * Swaps between floe's pack and what stock wasm offers (its own BatchMatMul; the kernels it lacks
 * removed, so that the benchmark can put the cpu round trip in their place). For benchmarks only.
 */
export function useWasmKernelSet(set: 'pack' | 'stock'): void {
  if (!registered) throw new Error('registerWasmTrainingKernels() first');
  for (const config of packConfigs) {
    if (tf.getKernel(config.kernelName, 'wasm')) tf.unregisterKernel(config.kernelName, 'wasm');
    if (set === 'pack') tf.registerKernel(config);
  }
  if (set === 'stock') for (const config of stockConfigs) tf.registerKernel(config);
}
