// Functional building blocks over tfjs-core ops. Linear layers run as 2-D matMuls ([rows, in] × [in, out])
// because that is the fast path of every backend floe uses.
import * as tf from '@tensorflow/tfjs-core';

/** x [..., in] · W [in, out] (+ b). */
export function linear(x: tf.Tensor, w: tf.Tensor, b?: tf.Tensor): tf.Tensor {
  const shape = x.shape;
  const inDim = shape[shape.length - 1]!;
  const out = tf.matMul(tf.reshape(x, [-1, inDim]), w);
  const withBias = b ? tf.add(out, b) : out;
  return tf.reshape(withBias, [...shape.slice(0, -1), w.shape[1]!]);
}

export function layerNorm(x: tf.Tensor, gain: tf.Tensor, bias: tf.Tensor, eps = 1e-5): tf.Tensor {
  if (tf.getKernel(NORM_KERNEL, tf.getBackend())) return fusedNorm(eps, true)(x, gain, bias);
  return layerNormOps(x, gain, bias, eps);
}

export function rmsNorm(x: tf.Tensor, gain: tf.Tensor, eps = 1e-5): tf.Tensor {
  if (tf.getKernel(NORM_KERNEL, tf.getBackend())) return fusedNorm(eps, false)(x, gain);
  return rmsNormOps(x, gain, eps);
}

/** LayerNorm as tfjs-core ops (every backend; the reference the fused kernel is tested on). */
export function layerNormOps(x: tf.Tensor, gain: tf.Tensor, bias: tf.Tensor, eps = 1e-5): tf.Tensor {
  const { mean, variance } = tf.moments(x, -1, true);
  return tf.add(tf.mul(tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, eps))), gain), bias);
}

/** RMSNorm as tfjs-core ops. */
export function rmsNormOps(x: tf.Tensor, gain: tf.Tensor, eps = 1e-5): tf.Tensor {
  return tf.mul(tf.mul(x, tf.rsqrt(tf.add(tf.mean(tf.square(x), -1, true), eps))), gain);
}

// The fused norms (libs/ml-runtime registers the kernels where the native ones run): one kernel forward,
// one backward for dx, dGain and dBias together, instead of ~8 and ~15.
const NORM_KERNEL = 'FloeNorm';
const NORM_GRAD_KERNEL = 'FloeNormGrad';
const fusedNorms = new Map<string, (...xs: tf.Tensor[]) => tf.Tensor>();

function fusedNorm(eps: number, center: boolean): (...xs: tf.Tensor[]) => tf.Tensor {
  const key = `${eps}:${center}`;
  let f = fusedNorms.get(key);
  if (!f) {
    f = tf.customGrad(((...args: unknown[]) => {
      const save = args.pop() as tf.GradSaveFunc;
      const [x, gain, bias] = args as tf.Tensor[];
      const [y, mean, rstd] = tf
        .engine()
        .runKernel(NORM_KERNEL, { x: x!, gain: gain!, ...(bias && { bias }) }, { eps }) as tf.Tensor[];
      save([x!, gain!, mean!, rstd!]);
      return {
        value: y!,
        gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
          const [sx, sgain, smean, srstd] = saved as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
          return tf
            .engine()
            .runKernel(
              NORM_GRAD_KERNEL,
              { dy, x: sx, gain: sgain, mean: smean, rstd: srstd },
              { center },
            ) as tf.Tensor[];
        },
      };
    }) as never) as unknown as (...xs: tf.Tensor[]) => tf.Tensor;
    fusedNorms.set(key, f);
  }
  return f;
}

const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);

/**
 * GELU with erf, as PyTorch's default, with its closed-form gradient
 * gelu'(x) = Φ(x) + x·φ(x) instead of autodiff through erf (fewer kernels per step).
 */
const geluOps: (x: tf.Tensor) => tf.Tensor = tf.customGrad(((x: tf.Tensor, save: tf.GradSaveFunc) => {
  const cdf = tf.mul(tf.add(tf.erf(tf.mul(x, Math.SQRT1_2)), 1), 0.5);
  save([x, cdf]);
  return {
    value: tf.mul(x, cdf),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [xs, c] = saved as [tf.Tensor, tf.Tensor];
      const pdf = tf.mul(tf.exp(tf.mul(tf.square(xs), -0.5)), INV_SQRT_2PI);
      return [tf.mul(dy, tf.add(c, tf.mul(xs, pdf)))];
    },
  };
}) as never) as unknown as (x: tf.Tensor) => tf.Tensor;

/** floe's fused GELU kernel (libs/ml-runtime registers it where native kernels run). */
const GELU_KERNEL = 'FloeGelu';

export function gelu(x: tf.Tensor): tf.Tensor {
  if (tf.getKernel(GELU_KERNEL, tf.getBackend())) return tf.engine().runKernel(GELU_KERNEL, { x }) as tf.Tensor;
  return geluOps(x);
}

export function silu(x: tf.Tensor): tf.Tensor {
  return tf.mul(x, tf.sigmoid(x));
}

const CAUSAL_SOFTMAX_KERNEL = 'FloeCausalSoftmax';
const CAUSAL_SOFTMAX_GRAD_KERNEL = 'FloeCausalSoftmaxGrad';
const causalSoftmaxes = new Map<number, (scores: tf.Tensor) => tf.Tensor>();

/**
 * softmax(scale·scores + causal mask) over the last axis of [..., T, T] attention scores: one fused kernel
 * each way where the native kernels run, else the mask added and tf.softmax.
 */
export function causalSoftmax(scores: tf.Tensor, scale: number): tf.Tensor {
  if (!tf.getKernel(CAUSAL_SOFTMAX_KERNEL, tf.getBackend()))
    return tf.softmax(tf.add(tf.mul(scores, scale), causalMask(scores.shape.at(-1)!)));
  let f = causalSoftmaxes.get(scale);
  if (!f) {
    f = tf.customGrad(((x: tf.Tensor, save: tf.GradSaveFunc) => {
      const y = tf.engine().runKernel(CAUSAL_SOFTMAX_KERNEL, { x }, { scale }) as tf.Tensor;
      save([y]);
      return {
        value: y,
        gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => [
          tf.engine().runKernel(CAUSAL_SOFTMAX_GRAD_KERNEL, { y: saved[0]!, dy }, { scale }) as tf.Tensor,
        ],
      };
    }) as never) as unknown as (scores: tf.Tensor) => tf.Tensor;
    causalSoftmaxes.set(scale, f);
  }
  return f(scores);
}

const masks = new Map<number, tf.Tensor>();

/** Additive causal mask [T, T]: 0 on and below the diagonal, -1e9 above. Cached per length. */
export function causalMask(t: number): tf.Tensor {
  let m = masks.get(t);
  if (!m) {
    const values = new Float32Array(t * t);
    for (let i = 0; i < t; i++) for (let j = i + 1; j < t; j++) values[i * t + j] = -1e9;
    m = tf.keep(tf.tensor2d(values, [t, t]));
    masks.set(t, m);
  }
  return m;
}

// Softmax cross-entropy with its closed-form gradient (softmax − onehot)/rows: one pass backward instead
// of autodiff through logSumExp's max.
const softmaxCrossEntropy = tf.customGrad(((flat: tf.Tensor, onehot: tf.Tensor, save: tf.GradSaveFunc) => {
  const logp = tf.sub(flat, tf.logSumExp(flat, -1, true));
  save([logp, onehot]);
  return {
    value: tf.neg(tf.mean(tf.sum(tf.mul(onehot, logp), -1))),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [lp, oh] = saved as [tf.Tensor, tf.Tensor];
      return [tf.mul(tf.sub(tf.exp(lp), oh), tf.div(dy, lp.shape[0]!)), tf.zerosLike(oh)];
    },
  };
}) as never) as unknown as (flat: tf.Tensor, onehot: tf.Tensor) => tf.Scalar;

const CROSS_ENTROPY_KERNEL = 'FloeCrossEntropy';
const CROSS_ENTROPY_GRAD_KERNEL = 'FloeCrossEntropyGrad';

// The fused kernel (libs/ml-runtime registers it where the native ones run): loss and softmax in one pass,
// the gradient in one more; the targets ride along as floats (a customGrad input needs a float gradient).
const fusedCrossEntropy = tf.customGrad(((flat: tf.Tensor, targets: tf.Tensor, save: tf.GradSaveFunc) => {
  const [loss, probs] = tf.engine().runKernel(CROSS_ENTROPY_KERNEL, { logits: flat, targets }) as tf.Tensor[];
  save([probs!, targets]);
  return {
    value: loss!,
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [p, t] = saved as [tf.Tensor, tf.Tensor];
      return [
        tf.engine().runKernel(CROSS_ENTROPY_GRAD_KERNEL, { probs: p, targets: t, dy }) as tf.Tensor,
        tf.zerosLike(t),
      ];
    },
  };
}) as never) as unknown as (flat: tf.Tensor, targets: tf.Tensor) => tf.Scalar;

/** Mean cross-entropy of logits [..., V] against integer targets [...]; natural log. */
export function crossEntropy(logits: tf.Tensor, targets: tf.Tensor): tf.Scalar {
  const v = logits.shape[logits.shape.length - 1]!;
  if (tf.getKernel(CROSS_ENTROPY_KERNEL, tf.getBackend()))
    return fusedCrossEntropy(tf.reshape(logits, [-1, v]), tf.cast(tf.reshape(targets, [-1]), 'float32'));
  const onehot = tf.oneHot(tf.reshape(targets, [-1]) as tf.Tensor1D, v);
  return softmaxCrossEntropy(tf.reshape(logits, [-1, v]), onehot);
}
