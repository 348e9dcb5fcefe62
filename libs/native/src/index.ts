// Loads floe's native addon if `npm ci` built it (scripts/build-native.mjs). Absent or broken, `native`
// is undefined and `loadError` says why; callers fall back to wasm.
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';

export interface NativeKernels {
  /**
   * C[b] = alpha·op(A[b])·op(B[b]) + beta·C[b] for b < batch, row-major, in place on the arrays (views on
   * the wasm heap work). Strides are in elements; 0 broadcasts one matrix.
   */
  sgemmBatched(
    batch: number,
    transA: boolean,
    transB: boolean,
    m: number,
    n: number,
    k: number,
    alpha: number,
    a: Float32Array,
    strideA: number,
    lda: number,
    b: Float32Array,
    strideB: number,
    ldb: number,
    beta: number,
    c: Float32Array,
    strideC: number,
    ldc: number,
  ): void;
  /** out = transpose(input, perm), `shape` being the input's; rank ≤ 8. */
  transpose(input: Float32Array, out: Float32Array, shape: number[], perm: number[]): void;
  /**
   * NHWC helpers; geometry = [b, h, w, c, fh, fw, sh, sw, dh, dw, padTop, padLeft, oh, ow].
   * op 0: im2col(x → cols [b·oh·ow, fh·fw·c]); 1: col2im(dcols → dx, overwritten); 2: maxPoolGrad(x, dy → dx).
   */
  conv(op: 0 | 1, a: Float32Array, b: Float32Array, geometry: number[]): void;
  conv(op: 2, x: Float32Array, dy: Float32Array, geometry: number[], dx: Float32Array): void;
  /** GELU (erf form): gelu(x, y) writes y; gelu(x, dx, dy) writes the gradient dx. */
  gelu(x: Float32Array, out: Float32Array, dy?: Float32Array): void;
  /** out[c] = Σ_r x[r·n + c] for n = out.length: a sum over x's leading axes (a bias's gradient). */
  sumLeading(x: Float32Array, out: Float32Array): void;
  /** out[r·n + c] = a[r·n + c] + bias[c] for n = bias.length: a bias added to every row. */
  addBias(a: Float32Array, bias: Float32Array, out: Float32Array): void;
  /** Row softmax in place: `rows` rows of `cols` values, `ld` apart, each scaled by `scale` first. */
  softmax(x: Float32Array, rows: number, cols: number, ld: number, scale: number): void;
  /**
   * Mamba's selective scan over whole sequences; dims = [b, t, d, n] (u, delta, y: b·t·d; a: d·n; bm, cm:
   * b·t·n). Forward writes y; backward (dy given) writes du, dDelta, dA, dB and dC.
   */
  selectiveScan(
    u: Float32Array,
    delta: Float32Array,
    a: Float32Array,
    bm: Float32Array,
    cm: Float32Array,
    y: Float32Array,
    dims: number[],
  ): void;
  selectiveScan(
    u: Float32Array,
    delta: Float32Array,
    a: Float32Array,
    bm: Float32Array,
    cm: Float32Array,
    dy: Float32Array,
    du: Float32Array,
    dDelta: Float32Array,
    dA: Float32Array,
    dB: Float32Array,
    dC: Float32Array,
    dims: number[],
  ): void;
  /**
   * LayerNorm (bias given) or RMSNorm (bias null) over rows of d values: writes y and each row's mean and
   * 1/σ (rstd) for the backward pass.
   */
  norm(
    x: Float32Array,
    gain: Float32Array,
    bias: Float32Array | null,
    y: Float32Array,
    mean: Float32Array,
    rstd: Float32Array,
    rows: number,
    d: number,
    eps: number,
  ): void;
  /** The norm's backward: dx, dGain and (LayerNorm) dBias from dy and the forward's x, mean and rstd. */
  normGrad(
    dy: Float32Array,
    x: Float32Array,
    gain: Float32Array,
    mean: Float32Array,
    rstd: Float32Array,
    dx: Float32Array,
    dGain: Float32Array,
    dBias: Float32Array | null,
    rows: number,
    d: number,
  ): void;
  /**
   * One Adam/AdamW step of a parameter into new arrays; settings = [lr, β1, β2, 1−β1, 1−β2, ε, weightDecay,
   * gradScale, 1−β1^t, 1−β2^t, decoupled (1 = AdamW)].
   */
  adam(
    p: Float32Array,
    g: Float32Array,
    m: Float32Array,
    v: Float32Array,
    pOut: Float32Array,
    mOut: Float32Array,
    vOut: Float32Array,
    settings: number[],
  ): void;
  /**
   * Mean softmax cross-entropy of rows × v logits against targets (integers as floats): writes each row's
   * softmax to probs and answers the loss. With dLoss: writes d logits = (probs − onehot)·dLoss/rows.
   */
  crossEntropy(logits: Float32Array, targets: Float32Array, probs: Float32Array, rows: number, v: number): number;
  crossEntropy(
    probs: Float32Array,
    targets: Float32Array,
    dLogits: Float32Array,
    rows: number,
    v: number,
    dLoss: number,
  ): void;
  /**
   * Causal depthwise convolution over time; dims = [b, t, d, k] (x, y: b·t·d; w: k·d; bias: d). Forward
   * writes y; backward (dy given) writes dx, dw and dBias.
   */
  causalConv1d(x: Float32Array, w: Float32Array, bias: Float32Array, y: Float32Array, dims: number[]): void;
  causalConv1d(
    x: Float32Array,
    w: Float32Array,
    dy: Float32Array,
    dx: Float32Array,
    dw: Float32Array,
    dBias: Float32Array,
    dims: number[],
  ): void;
  /**
   * Attention's causal softmax over rows of t scores (row r keeps columns ≤ r mod t, the rest 0), after
   * scaling by `scale`: causalSoftmax(x, y, rows, t, scale); backward causalSoftmax(y, dy, dx, rows, t, scale).
   */
  causalSoftmax(x: Float32Array, y: Float32Array, rows: number, t: number, scale: number): void;
  causalSoftmax(y: Float32Array, dy: Float32Array, dx: Float32Array, rows: number, t: number, scale: number): void;
  /** Σx² of each array, accumulated in double. */
  sumSquares(xs: Float32Array[]): number[];
  setThreads(n: number): void;
  /**
   * true: each kernel thread runs the task of its own index, and every call waits for all of them — how the
   * pool scheduled before it let the caller and the woken threads claim tasks (a baseline for
   * bench:contention). Default false.
   */
  setStaticSchedule(on: boolean): void;
  /**
   * Runs the calling thread (and the kernel threads it starts later) under Linux's SCHED_IDLE, so that the
   * event loop preempts it the moment it wakes; false where that is not available.
   */
  idleScheduling(): boolean;
  threads(): number;
  /** The instruction set in use: avx512, avx2 or portable. */
  isa(): string;
  /** Uses a lower instruction set (for tests of every path); returns the one in use. */
  forceIsa(name: 'avx512' | 'avx2' | 'portable'): string;
}

const addonPath = new URL('../build/Release/floe_native.node', import.meta.url).pathname;

function load(): { native?: NativeKernels; loadError?: string } {
  if (process.env.FLOE_NATIVE === '0') return { loadError: 'FLOE_NATIVE=0' };
  if (!existsSync(addonPath))
    return { loadError: 'the addon was not built (FLOE_NATIVE=0 at install, or no compiler)' };
  try {
    return { native: createRequire(import.meta.url)(addonPath) as NativeKernels };
  } catch (err) {
    return { loadError: (err as Error).message };
  }
}

export const { native, loadError } = load();
