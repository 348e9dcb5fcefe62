// floe's native kernels as TF.js kernels on the wasm backend: the tensors stay in wasm memory and the
// addon reads and writes them in place (no copies). Transposes are absorbed by the GEMM's packing, so the
// explicit Transpose that the wasm pack needs disappears. Everything else keeps running in wasm.
import * as tf from '@tensorflow/tfjs-core';
import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { native } from '@floe/native';
import { conv2dInfo, type ConvInfo } from './conv-info.js';

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
  // Empty operands (a PFN with no context points yet): an empty product, or zeros when only k is 0 — the
  // GEMM refuses zero-sized shapes.
  if (cv.length === 0) return out;
  if (k === 0 || batchA === 0 || batchB === 0) {
    cv.fill(0);
    return out;
  }
  const lda = transposeA ? m : k;
  const ldb = transposeB ? k : n;
  if (batchB === 1 && !transposeA) {
    // Every batch of A meets the same B: one tall product.
    native!.sgemmBatched(1, false, transposeB, batchA * m, n, k, 1, av, 0, k, bv, 0, ldb, 0, cv, 0, n);
  } else {
    const batch = Math.max(batchA, batchB);
    native!.sgemmBatched(
      batch,
      transposeA,
      transposeB,
      m,
      n,
      k,
      1,
      av,
      batchA === 1 ? 0 : m * k,
      lda,
      bv,
      batchB === 1 ? 0 : k * n,
      ldb,
      0,
      cv,
      m * n,
      n,
    );
  }
  return out;
};

const nativeTranspose: KernelFunc = (args) => {
  const backend = args.backend as unknown as WasmBackend;
  const { x } = args.inputs as { x: TensorInfo };
  const { perm } = args.attrs as { perm: number[] };
  const out = backend.makeOutput(
    perm.map((p) => x.shape[p]!),
    x.dtype,
  );
  if (x.dtype !== 'float32') {
    // int32 and bool tensors are rare here (indices); the pack's transpose handles them.
    backend.disposeData?.(out.dataId);
    return fallbackTranspose!(args);
  }
  native!.transpose(backend.typedArrayFromHeap(x), backend.typedArrayFromHeap(out), x.shape, perm);
  return out;
};

let fallbackTranspose: KernelFunc | undefined;

/**
 * Sum over leading axes (a bias's gradient: [B, H, W, C] → [C]) in one native pass; the wasm Sum transposes the
 * whole tensor to bring the reduced axes last first. Any other reduction stays in wasm.
 */
const nativeSum: KernelFunc = (args) => {
  const backend = args.backend as unknown as WasmBackend;
  const { x } = args.inputs as { x: TensorInfo };
  const { axis, keepDims } = args.attrs as { axis: number | number[]; keepDims: boolean };
  const axes = tf.util.parseAxisParam(axis, x.shape).sort((p, q) => p - q);
  const leading = axes.length > 0 && axes.length < x.shape.length && axes.every((a, i) => a === i);
  if (x.dtype !== 'float32' || !leading || size(x.shape) === 0) return fallbackSum!(args);
  const kept = x.shape.slice(axes.length);
  const out = backend.makeOutput(keepDims ? [...axes.map(() => 1), ...kept] : kept, 'float32');
  native!.sumLeading(backend.typedArrayFromHeap(x), backend.typedArrayFromHeap(out));
  return out;
};

let fallbackSum: KernelFunc | undefined;

/** Whether `bias` is added to every row of `x`: shaped [C] or [1, …, 1, C] against x's [..., C]. */
const isRowBias = (bias: TensorInfo, x: TensorInfo) =>
  x.shape.length >= 2 &&
  bias.shape.length <= x.shape.length &&
  bias.shape.length > 0 &&
  bias.shape.at(-1) === x.shape.at(-1) &&
  size(bias.shape) === x.shape.at(-1) &&
  size(x.shape) > size(bias.shape);

/** A bias added to every row ([..., C] + [C]) in one native pass; other additions stay in wasm. */
const nativeAdd: KernelFunc = (args) => {
  const backend = args.backend as unknown as WasmBackend;
  const { a, b } = args.inputs as { a: TensorInfo; b: TensorInfo };
  const [x, bias] = isRowBias(b, a) ? [a, b] : isRowBias(a, b) ? [b, a] : [undefined, undefined];
  if (!x || !bias || a.dtype !== 'float32' || b.dtype !== 'float32') return fallbackAdd!(args);
  const out = backend.makeOutput(x.shape, 'float32');
  native!.addBias(backend.typedArrayFromHeap(x), backend.typedArrayFromHeap(bias), backend.typedArrayFromHeap(out));
  return out;
};

let fallbackAdd: KernelFunc | undefined;

/** floe's own kernel names (not TF.js ops): GELU and its gradient in one pass each. */
export const GELU_KERNEL = 'FloeGelu';
const GELU_GRAD_KERNEL = 'FloeGeluGrad';

const nativeGelu: KernelFunc = (args) => {
  const backend = args.backend as unknown as WasmBackend;
  const { x } = args.inputs as { x: TensorInfo };
  const y = backend.makeOutput(x.shape, 'float32');
  native!.gelu(backend.typedArrayFromHeap(x), backend.typedArrayFromHeap(y));
  return y;
};

const nativeGeluGrad: KernelFunc = (args) => {
  const backend = args.backend as unknown as WasmBackend;
  const { dy, x } = args.inputs as { dy: TensorInfo; x: TensorInfo };
  const dx = backend.makeOutput(x.shape, 'float32');
  native!.gelu(backend.typedArrayFromHeap(x), backend.typedArrayFromHeap(dx), backend.typedArrayFromHeap(dy));
  return dx;
};

/**
 * Identity as the cpu backend has it: the output shares the input's data (a reference count), where stock
 * wasm copies it. The engine clones every tensor a gradient saves through Identity — ~300 copies of
 * activations a transformer step. No floe kernel writes into its inputs, so sharing is safe.
 */
const sharedIdentity: KernelFunc = (args) => {
  const backend = args.backend as unknown as WasmBackend & { incRef(dataId: object): void };
  const { x } = args.inputs as { x: TensorInfo };
  backend.incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
};

/**
 * Cuts `x` along `axis` into consecutive parts of `sizes` (summing to the axis' length), each with the shape
 * `shapeOf(j)` gives, by block copies: stock wasm slices every part out of the whole input instead.
 */
function cutAlongAxis(
  backend: WasmBackend,
  x: TensorInfo,
  axis: number,
  sizes: number[],
  shapeOf: (j: number) => number[],
): TensorInfo[] {
  const heap = (t: TensorInfo) => (backend as unknown as HeapOfAnyType).typedArrayFromHeap(t);
  const n = x.shape[axis]!;
  const outer = size(x.shape.slice(0, axis));
  const inner = size(x.shape.slice(axis + 1));
  const outs = sizes.map((_, j) => backend.makeOutput(shapeOf(j), x.dtype));
  // Views after every makeOutput: growing the wasm memory detaches earlier views.
  const src = heap(x);
  let offset = 0;
  outs.forEach((out, j) => {
    const dst = heap(out);
    const block = sizes[j]! * inner;
    for (let o = 0; o < outer; o++)
      dst.set(src.subarray((o * n + offset) * inner, (o * n + offset) * inner + block), o * block);
    offset += sizes[j]!;
  });
  return outs;
}

/** The wasm heap as any dtype's typed array (Unpack, SplitV and GatherV2 also see int32 tensors). */
interface HeapOfAnyType {
  typedArrayFromHeap(t: TensorInfo): Float32Array | Int32Array;
}

/** Unpack (tf.unstack) as block copies: stock wasm's took ~60 ms a call for the attention's [3, B, H, T, dh] split. */
const blockUnpack: KernelFunc = (args) => {
  const { value } = args.inputs as { value: TensorInfo };
  const axis = tf.util.parseAxisParam((args.attrs as { axis: number }).axis, value.shape)[0]!;
  const outShape = value.shape.filter((_, i) => i !== axis);
  return cutAlongAxis(
    args.backend as unknown as WasmBackend,
    value,
    axis,
    new Array<number>(value.shape[axis]!).fill(1),
    () => outShape,
  );
};

/** SplitV as block copies: stock wasm's slices took ~3 ms a call for the Mamba layer's splits. */
const blockSplit: KernelFunc = (args) => {
  const { x } = args.inputs as { x: TensorInfo };
  const { numOrSizeSplits, axis: rawAxis } = args.attrs as { numOrSizeSplits: number | number[]; axis: number };
  const axis = tf.util.parseAxisParam(rawAxis, x.shape)[0]!;
  const sizes = tf.backend_util.prepareSplitSize(x as tf.Tensor, numOrSizeSplits, axis);
  return cutAlongAxis(args.backend as unknown as WasmBackend, x, axis, sizes, (j) =>
    x.shape.map((d, i) => (i === axis ? sizes[j]! : d)),
  );
};

// ---- fused training kernels (libs/native fused.cc). Their gradients are wired where they are used
// (libs/models' norms with tf.customGrad, libs/training's optimizer), which check that they are registered.

/** LayerNorm (with `bias`) or RMSNorm (without): outputs y, and each row's mean and 1/σ for the backward. */
export const NORM_KERNEL = 'FloeNorm';
/** The norm's backward: dx, dGain and (LayerNorm) dBias. */
export const NORM_GRAD_KERNEL = 'FloeNormGrad';
/** One Adam/AdamW step of a parameter: outputs the new weights and both moments. */
export const ADAM_KERNEL = 'FloeAdam';
/** Mean softmax cross-entropy of logits [rows, v] against targets [rows] (floats): outputs the loss and the softmax. */
export const CROSS_ENTROPY_KERNEL = 'FloeCrossEntropy';
/** Its backward: d logits from the softmax, the targets and d loss. */
export const CROSS_ENTROPY_GRAD_KERNEL = 'FloeCrossEntropyGrad';
/** Σx² of each input (inputs x0 … x{n−1}): output [n]. */
export const SUM_SQUARES_KERNEL = 'FloeSumSquares';

const nativeNorm: KernelFunc = (args) => {
  const backend = args.backend as unknown as WasmBackend;
  const { x, gain, bias } = args.inputs as { x: TensorInfo; gain: TensorInfo; bias?: TensorInfo };
  const d = x.shape.at(-1)!;
  const rows = size(x.shape) / d;
  const outs = [
    backend.makeOutput(x.shape, 'float32'),
    backend.makeOutput([rows], 'float32'),
    backend.makeOutput([rows], 'float32'),
  ];
  const heap = (t: TensorInfo) => backend.typedArrayFromHeap(t);
  native!.norm(
    heap(x),
    heap(gain),
    bias ? heap(bias) : null,
    heap(outs[0]!),
    heap(outs[1]!),
    heap(outs[2]!),
    rows,
    d,
    (args.attrs as { eps: number }).eps,
  );
  return outs;
};

const nativeNormGrad: KernelFunc = (args) => {
  const backend = args.backend as unknown as WasmBackend;
  const { dy, x, gain, mean, rstd } = args.inputs as Record<'dy' | 'x' | 'gain' | 'mean' | 'rstd', TensorInfo>;
  const center = (args.attrs as { center: boolean }).center;
  const d = x.shape.at(-1)!;
  const outs = [backend.makeOutput(x.shape, 'float32'), backend.makeOutput([d], 'float32')];
  if (center) outs.push(backend.makeOutput([d], 'float32'));
  const heap = (t: TensorInfo) => backend.typedArrayFromHeap(t);
  native!.normGrad(
    heap(dy),
    heap(x),
    heap(gain),
    heap(mean),
    heap(rstd),
    heap(outs[0]!),
    heap(outs[1]!),
    center ? heap(outs[2]!) : null,
    size(x.shape) / d,
    d,
  );
  return outs;
};

const nativeAdam: KernelFunc = (args) => {
  const backend = args.backend as unknown as WasmBackend;
  const { p, g, m, v } = args.inputs as Record<'p' | 'g' | 'm' | 'v', TensorInfo>;
  const outs = [p, m, v].map((t) => backend.makeOutput(t.shape, 'float32'));
  const heap = (t: TensorInfo) => backend.typedArrayFromHeap(t);
  native!.adam(
    heap(p),
    heap(g),
    heap(m),
    heap(v),
    heap(outs[0]!),
    heap(outs[1]!),
    heap(outs[2]!),
    (args.attrs as { settings: number[] }).settings,
  );
  return outs;
};

const nativeCrossEntropy: KernelFunc = (args) => {
  const backend = args.backend as unknown as WasmBackend;
  const { logits, targets } = args.inputs as { logits: TensorInfo; targets: TensorInfo };
  const [rows, v] = logits.shape as [number, number];
  const loss = backend.makeOutput([], 'float32');
  const probs = backend.makeOutput(logits.shape, 'float32');
  const heap = (t: TensorInfo) => backend.typedArrayFromHeap(t);
  heap(loss)[0] = native!.crossEntropy(heap(logits), heap(targets), heap(probs), rows, v);
  return [loss, probs];
};

const nativeCrossEntropyGrad: KernelFunc = (args) => {
  const backend = args.backend as unknown as WasmBackend;
  const { probs, targets, dy } = args.inputs as { probs: TensorInfo; targets: TensorInfo; dy: TensorInfo };
  const [rows, v] = probs.shape as [number, number];
  const dx = backend.makeOutput(probs.shape, 'float32');
  const heap = (t: TensorInfo) => backend.typedArrayFromHeap(t);
  native!.crossEntropy(heap(probs), heap(targets), heap(dx), rows, v, heap(dy)[0]!);
  return dx;
};

const nativeSumSquares: KernelFunc = (args) => {
  const backend = args.backend as unknown as WasmBackend;
  const xs = Object.keys(args.inputs)
    .sort((a, b) => Number(a.slice(1)) - Number(b.slice(1)))
    .map((k) => (args.inputs as Record<string, TensorInfo>)[k]!);
  const out = backend.makeOutput([xs.length], 'float32');
  const sums = native!.sumSquares(xs.map((x) => backend.typedArrayFromHeap(x)));
  backend.typedArrayFromHeap(out).set(sums);
  return out;
};

let fallbackGather: KernelFunc | undefined;

/**
 * GatherV2 along axis 0 (an embedding lookup) as row copies: stock wasm's took ~8 ms for 2,048 rows of 128.
 * Other axes, batch dimensions and non-float tables go to the stock kernel.
 */
const rowGather: KernelFunc = (args) => {
  const backend = args.backend as unknown as WasmBackend & HeapOfAnyType;
  const { x, indices } = args.inputs as { x: TensorInfo; indices: TensorInfo };
  const { axis, batchDims } = args.attrs as { axis: number; batchDims?: number };
  const rows = x.shape[0]!;
  if (
    (axis !== 0 && axis !== -x.shape.length) ||
    (batchDims ?? 0) !== 0 ||
    x.dtype !== 'float32' ||
    indices.dtype !== 'int32'
  )
    return fallbackGather!(args);
  const width = size(x.shape.slice(1));
  const out = backend.makeOutput([...indices.shape, ...x.shape.slice(1)], 'float32');
  const src = backend.typedArrayFromHeap(x);
  const idx = backend.typedArrayFromHeap(indices) as unknown as Int32Array;
  const dst = backend.typedArrayFromHeap(out);
  for (let i = 0; i < idx.length; i++) {
    const r = idx[i]!;
    // As the stock kernel: an index out of range reads zeros.
    if (r >= 0 && r < rows) dst.set(src.subarray(r * width, (r + 1) * width), i * width);
    else dst.fill(0, i * width, (i + 1) * width);
  }
  return out;
};

/** Attention's scaled causal softmax over [..., T, T] scores (attr scale), and its backward (inputs y, dy). */
export const CAUSAL_SOFTMAX_KERNEL = 'FloeCausalSoftmax';
export const CAUSAL_SOFTMAX_GRAD_KERNEL = 'FloeCausalSoftmaxGrad';

const nativeCausalSoftmax: KernelFunc = (args) => {
  const backend = args.backend as unknown as WasmBackend;
  const { x } = args.inputs as { x: TensorInfo };
  const t = x.shape.at(-1)!;
  const y = backend.makeOutput(x.shape, 'float32');
  native!.causalSoftmax(
    backend.typedArrayFromHeap(x),
    backend.typedArrayFromHeap(y),
    size(x.shape) / t,
    t,
    (args.attrs as { scale: number }).scale,
  );
  return y;
};

const nativeCausalSoftmaxGrad: KernelFunc = (args) => {
  const backend = args.backend as unknown as WasmBackend;
  const { y, dy } = args.inputs as { y: TensorInfo; dy: TensorInfo };
  const t = y.shape.at(-1)!;
  const dx = backend.makeOutput(y.shape, 'float32');
  const heap = (v: TensorInfo) => backend.typedArrayFromHeap(v);
  native!.causalSoftmax(heap(y), heap(dy), heap(dx), size(y.shape) / t, t, (args.attrs as { scale: number }).scale);
  return dx;
};

/** Mamba's causal depthwise conv1d: x [B, T, D], w [K, D], bias [D] → y [B, T, D]; its backward gives dx, dw, dBias. */
export const CAUSAL_CONV1D_KERNEL = 'FloeCausalConv1d';
export const CAUSAL_CONV1D_GRAD_KERNEL = 'FloeCausalConv1dGrad';

const convDims = (x: TensorInfo, w: TensorInfo) => [x.shape[0]!, x.shape[1]!, x.shape[2]!, w.shape[0]!];

const nativeCausalConv1d: KernelFunc = (args) => {
  const backend = args.backend as unknown as WasmBackend;
  const { x, w, bias } = args.inputs as { x: TensorInfo; w: TensorInfo; bias: TensorInfo };
  const y = backend.makeOutput(x.shape, 'float32');
  const heap = (t: TensorInfo) => backend.typedArrayFromHeap(t);
  native!.causalConv1d(heap(x), heap(w), heap(bias), heap(y), convDims(x, w));
  return y;
};

const nativeCausalConv1dGrad: KernelFunc = (args) => {
  const backend = args.backend as unknown as WasmBackend;
  const { x, w, dy } = args.inputs as { x: TensorInfo; w: TensorInfo; dy: TensorInfo };
  const outs = [
    backend.makeOutput(x.shape, 'float32'),
    backend.makeOutput(w.shape, 'float32'),
    backend.makeOutput([x.shape[2]!], 'float32'),
  ];
  const heap = (t: TensorInfo) => backend.typedArrayFromHeap(t);
  native!.causalConv1d(heap(x), heap(w), heap(dy), heap(outs[0]!), heap(outs[1]!), heap(outs[2]!), convDims(x, w));
  return outs;
};

/** Mamba's selective scan over whole sequences, forward and backward in one call each (libs/native scan.cc). */
// Its gradient is wired in libs/models with tf.customGrad: one backward call answers all five input
// gradients at once, where a registered gradient would run it once per input.
export const SELECTIVE_SCAN_KERNEL = 'FloeSelectiveScan';
export const SELECTIVE_SCAN_GRAD_KERNEL = 'FloeSelectiveScanGrad';

interface ScanInputs {
  u: TensorInfo;
  delta: TensorInfo;
  a: TensorInfo;
  bm: TensorInfo;
  cm: TensorInfo;
}

const scanDims = ({ u, a }: ScanInputs) => [u.shape[0]!, u.shape[1]!, u.shape[2]!, a.shape[1]!];

const nativeSelectiveScan: KernelFunc = (args) => {
  const backend = args.backend as unknown as WasmBackend;
  const inputs = args.inputs as unknown as ScanInputs;
  const y = backend.makeOutput(inputs.u.shape, 'float32');
  const heap = (t: TensorInfo) => backend.typedArrayFromHeap(t);
  const { u, delta, a, bm, cm } = inputs;
  native!.selectiveScan(heap(u), heap(delta), heap(a), heap(bm), heap(cm), heap(y), scanDims(inputs));
  return y;
};

const nativeSelectiveScanGrad: KernelFunc = (args) => {
  const backend = args.backend as unknown as WasmBackend;
  const inputs = args.inputs as unknown as ScanInputs & { dy: TensorInfo };
  const { u, delta, a, bm, cm, dy } = inputs;
  const outs = [u, delta, a, bm, cm].map((t) => backend.makeOutput(t.shape, 'float32'));
  // Views after every makeOutput: growing the wasm memory detaches earlier views.
  const heap = (t: TensorInfo) => backend.typedArrayFromHeap(t);
  native!.selectiveScan(
    heap(u),
    heap(delta),
    heap(a),
    heap(bm),
    heap(cm),
    heap(dy),
    ...(outs.map(heap) as [Float32Array, Float32Array, Float32Array, Float32Array, Float32Array]),
    scanDims(inputs),
  );
  return outs;
};

// ---- convolutions: im2col in native code, then one GEMM; col2im for the input gradient.

/** A reusable buffer outside the wasm heap: each call answers n floats of it, grown by half again when short. */
function scratchBuffer(): (n: number) => Float32Array {
  let buffer = new Float32Array(0);
  return (n) => {
    if (buffer.length < n) buffer = new Float32Array(Math.max(n, Math.ceil(buffer.length * 1.5)));
    return buffer.subarray(0, n);
  };
}

/** im2col columns. */
const columns = scratchBuffer();
/** A filter gradient before its transpose (used beside `columns`, so a buffer of its own). */
const filterScratch = scratchBuffer();

function geometry(c: ConvInfo): number[] {
  return [
    c.batchSize,
    c.inHeight,
    c.inWidth,
    c.inChannels,
    c.filterHeight,
    c.filterWidth,
    c.strideHeight,
    c.strideWidth,
    c.dilationHeight,
    c.dilationWidth,
    c.padInfo.top,
    c.padInfo.left,
    c.outHeight,
    c.outWidth,
  ];
}

const nativeConv2D: KernelFunc = (args) => {
  const backend = args.backend as unknown as WasmBackend;
  const { x, filter } = args.inputs as { x: TensorInfo; filter: TensorInfo };
  const c = conv2dInfo(x.shape, filter.shape, args.attrs as Record<string, unknown>);
  const K = c.filterHeight * c.filterWidth * c.inChannels;
  const P = c.batchSize * c.outHeight * c.outWidth;
  const out = backend.makeOutput([c.batchSize, c.outHeight, c.outWidth, c.outChannels], 'float32');
  const cols = columns(P * K);
  native!.conv(0, backend.typedArrayFromHeap(x), cols, geometry(c));
  native!.sgemmBatched(
    1,
    false,
    false,
    P,
    c.outChannels,
    K,
    1,
    cols,
    0,
    K,
    backend.typedArrayFromHeap(filter),
    0,
    c.outChannels,
    0,
    backend.typedArrayFromHeap(out),
    0,
    c.outChannels,
  );
  return out;
};

const nativeConv2DBackpropFilter: KernelFunc = (args) => {
  const backend = args.backend as unknown as WasmBackend;
  const { x, dy } = args.inputs as { x: TensorInfo; dy: TensorInfo };
  const c = conv2dInfo(
    x.shape,
    (args.attrs as { filterShape: number[] }).filterShape,
    args.attrs as Record<string, unknown>,
  );
  const K = c.filterHeight * c.filterWidth * c.inChannels;
  const P = c.batchSize * c.outHeight * c.outWidth;
  const dW = backend.makeOutput([c.filterHeight, c.filterWidth, c.inChannels, c.outChannels], 'float32');
  const cols = columns(P * K);
  native!.conv(0, backend.typedArrayFromHeap(x), cols, geometry(c));
  const O = c.outChannels;
  if (K > O) {
    // dWᵀ[O, K] = dyᵀ[O, P] · cols[P, K], then transposed: the GEMM's tiles fill the wider of K and O as its
    // columns (LeNet's second filter gradient, K 500 and O 50: 1.2 ms this way, 2.2–2.4 ms as colsᵀ · dy).
    const dWt = filterScratch(O * K);
    native!.sgemmBatched(1, true, false, O, K, P, 1, backend.typedArrayFromHeap(dy), 0, O, cols, 0, K, 0, dWt, 0, K);
    native!.transpose(dWt, backend.typedArrayFromHeap(dW), [O, K], [1, 0]);
    return dW;
  }
  // dW[K, O] = colsᵀ[K, P] · dy[P, O]
  native!.sgemmBatched(
    1,
    true,
    false,
    K,
    O,
    P,
    1,
    cols,
    0,
    K,
    backend.typedArrayFromHeap(dy),
    0,
    O,
    0,
    backend.typedArrayFromHeap(dW),
    0,
    O,
  );
  return dW;
};

const nativeConv2DBackpropInput: KernelFunc = (args) => {
  const backend = args.backend as unknown as WasmBackend;
  const { dy, filter } = args.inputs as { dy: TensorInfo; filter: TensorInfo };
  const c = conv2dInfo(
    (args.attrs as { inputShape: number[] }).inputShape,
    filter.shape,
    args.attrs as Record<string, unknown>,
  );
  const K = c.filterHeight * c.filterWidth * c.inChannels;
  const P = c.batchSize * c.outHeight * c.outWidth;
  const dx = backend.makeOutput([c.batchSize, c.inHeight, c.inWidth, c.inChannels], 'float32');
  const dcols = columns(P * K);
  // dcols[P, K] = dy[P, O] · Wᵀ (W is [K, O])
  native!.sgemmBatched(
    1,
    false,
    true,
    P,
    K,
    c.outChannels,
    1,
    backend.typedArrayFromHeap(dy),
    0,
    c.outChannels,
    backend.typedArrayFromHeap(filter),
    0,
    c.outChannels,
    0,
    dcols,
    0,
    K,
  );
  native!.conv(1, dcols, backend.typedArrayFromHeap(dx), geometry(c));
  return dx;
};

const nativeMaxPoolGrad: KernelFunc = (args) => {
  const backend = args.backend as unknown as WasmBackend;
  const { dy, input } = args.inputs as { dy: TensorInfo; input: TensorInfo };
  const { filterSize, strides, pad, dimRoundingMode } = args.attrs as {
    filterSize: number | [number, number];
    strides: number | [number, number];
    pad: 'valid' | 'same' | number;
    dimRoundingMode?: 'floor' | 'round' | 'ceil';
  };
  const c = tf.backend_util.computePool2DInfo(
    input.shape as [number, number, number, number],
    filterSize,
    strides,
    1,
    pad,
    dimRoundingMode,
  );
  const dx = backend.makeOutput(input.shape, 'float32');
  native!.conv(
    2,
    backend.typedArrayFromHeap(input),
    backend.typedArrayFromHeap(dy),
    geometry(c),
    backend.typedArrayFromHeap(dx),
  );
  return dx;
};
let registered = false;

/** Overrides the wasm pack's BatchMatMul with the native one; call after the wasm backend is ready. */
/** floe's native kernels on wasm, each named once; registered (and switched off) in one loop. */
const NATIVE = [
  { kernelName: 'BatchMatMul', kernelFunc: nativeBatchMatMul },
  { kernelName: 'Transpose', kernelFunc: nativeTranspose },
  { kernelName: 'Conv2D', kernelFunc: nativeConv2D },
  { kernelName: 'Conv2DBackpropFilter', kernelFunc: nativeConv2DBackpropFilter },
  { kernelName: 'Conv2DBackpropInput', kernelFunc: nativeConv2DBackpropInput },
  { kernelName: 'MaxPoolGrad', kernelFunc: nativeMaxPoolGrad },
  { kernelName: 'Sum', kernelFunc: nativeSum },
  { kernelName: 'Add', kernelFunc: nativeAdd },
  { kernelName: GELU_KERNEL, kernelFunc: nativeGelu },
  { kernelName: GELU_GRAD_KERNEL, kernelFunc: nativeGeluGrad },
];

/**
 * The fused training kernels and the copies-instead-of-slices kernels (issue: training at PyTorch's speed),
 * named once; useFusedKernels switches them alone, so benchmarks can time the native path without them.
 */
const FUSED = [
  { kernelName: 'Identity', kernelFunc: sharedIdentity },
  { kernelName: 'Unpack', kernelFunc: blockUnpack },
  { kernelName: 'GatherV2', kernelFunc: rowGather },
  { kernelName: 'SplitV', kernelFunc: blockSplit },
  { kernelName: NORM_KERNEL, kernelFunc: nativeNorm },
  { kernelName: NORM_GRAD_KERNEL, kernelFunc: nativeNormGrad },
  { kernelName: ADAM_KERNEL, kernelFunc: nativeAdam },
  { kernelName: SUM_SQUARES_KERNEL, kernelFunc: nativeSumSquares },
  { kernelName: CROSS_ENTROPY_KERNEL, kernelFunc: nativeCrossEntropy },
  { kernelName: CROSS_ENTROPY_GRAD_KERNEL, kernelFunc: nativeCrossEntropyGrad },
  { kernelName: CAUSAL_SOFTMAX_KERNEL, kernelFunc: nativeCausalSoftmax },
  { kernelName: CAUSAL_SOFTMAX_GRAD_KERNEL, kernelFunc: nativeCausalSoftmaxGrad },
  { kernelName: CAUSAL_CONV1D_KERNEL, kernelFunc: nativeCausalConv1d },
  { kernelName: CAUSAL_CONV1D_GRAD_KERNEL, kernelFunc: nativeCausalConv1dGrad },
  { kernelName: SELECTIVE_SCAN_KERNEL, kernelFunc: nativeSelectiveScan },
  { kernelName: SELECTIVE_SCAN_GRAD_KERNEL, kernelFunc: nativeSelectiveScanGrad },
];

export function registerNativeKernels(): void {
  if (!native) throw new Error('the native addon is not available');
  if (registered) return;
  const current = tf.getKernel('BatchMatMul', 'wasm');
  if (!current) throw new Error('the wasm backend is not loaded');
  fallbackMatMul = current.kernelFunc;
  fallbackTranspose = tf.getKernel('Transpose', 'wasm')!.kernelFunc;
  fallbackGather = tf.getKernel('GatherV2', 'wasm')!.kernelFunc;
  fallbackSum = tf.getKernel('Sum', 'wasm')!.kernelFunc;
  fallbackAdd = tf.getKernel('Add', 'wasm')!.kernelFunc;
  nativeConfigs = [...NATIVE, ...FUSED].map((k) => ({ ...k, backendName: 'wasm' }));
  tf.registerGradient({
    kernelName: GELU_KERNEL,
    inputsToSave: ['x'],
    gradFunc: (dy, saved) => ({
      x: () => tf.engine().runKernel(GELU_GRAD_KERNEL, { dy: dy as tf.Tensor, x: saved[0]! }) as tf.Tensor,
    }),
  });
  // What each native kernel replaces, to switch back (setupFuncs already ran when wasm initialised).
  replacedConfigs = nativeConfigs.flatMap((c) => {
    const k = tf.getKernel(c.kernelName, 'wasm');
    return k ? [{ ...k, setupFunc: undefined }] : [];
  });
  useNativeKernels(true);
  registered = true;
}

let nativeConfigs: KernelConfig[] = [];
let replacedConfigs: KernelConfig[] = [];

/** Switches between the native kernels and the wasm pack (benchmarks compare both in one process). */
export function useNativeKernels(on: boolean): void {
  if (!registered && on !== true) return;
  // Off: every native kernel goes (floe's own kernel names too), then what they replaced comes back.
  for (const c of nativeConfigs) if (tf.getKernel(c.kernelName, 'wasm')) tf.unregisterKernel(c.kernelName, 'wasm');
  for (const c of on ? nativeConfigs : replacedConfigs) {
    if (tf.getKernel(c.kernelName, 'wasm')) tf.unregisterKernel(c.kernelName, 'wasm');
    tf.registerKernel(c);
  }
}

/**
 * Switches the fused kernels alone (the rest of the native set stays): off, models and the optimizer run
 * their tfjs-core compositions and the stock Identity, Unpack, GatherV2 and SplitV come back.
 */
export function useFusedKernels(on: boolean): void {
  if (!registered) return;
  const fused = new Set(FUSED.map((k) => k.kernelName));
  for (const name of fused) if (tf.getKernel(name, 'wasm')) tf.unregisterKernel(name, 'wasm');
  for (const c of on ? nativeConfigs : replacedConfigs) if (fused.has(c.kernelName)) tf.registerKernel(c);
}

export const NATIVE_KERNELS = [...NATIVE, ...FUSED].map((k) => k.kernelName);
