// floe's block models as the methods see them: a batched scalar function of flat input rows (a class's
// probability, a regression output, or a language model's log-probability of a byte), its gradient
// through TF.js, and the selective-scan tensors of a Mamba model for hidden attention.
import * as tf from '@tensorflow/tfjs-core';
import { disposeCapture, newCapture, type BlockModel } from '@floe/models';
import type { ScanLayer } from './hidden-attention.js';
import type { BatchModel } from './types.js';

export interface OutputChoice {
  /** The class (classifiers), output unit (regression) or next byte (language models) explained. */
  index: number;
  /** Input shape of one row beyond the batch, e.g. [28, 28, 1]; default [inputs]. */
  rowShape?: number[];
}

/** The explained output of each row: a class probability, a regression unit, or log p(byte | text). */
function explained(model: BlockModel, x: tf.Tensor, index: number): tf.Tensor1D {
  const out = model.forward(x, { training: false });
  if (model.task === 'regression') return tf.squeeze(tf.slice(out, [0, index], [-1, 1]), [1]) as tf.Tensor1D;
  if (model.task === 'classification')
    return tf.squeeze(tf.slice(tf.softmax(out), [0, index], [-1, 1]), [1]) as tf.Tensor1D;
  // Language model: the log-probability of byte `index` after the whole row.
  const [b, t, v] = out.shape as [number, number, number];
  const last = tf.reshape(tf.slice(out, [0, t - 1, 0], [b, 1, v]), [b, v]);
  return tf.squeeze(tf.slice(tf.logSoftmax(last), [0, index], [-1, 1]), [1]) as tf.Tensor1D;
}

export function batchModel(model: BlockModel, inputs: number, choice: OutputChoice): BatchModel {
  const shape = (rows: number) => [rows, ...(choice.rowShape ?? [inputs])];
  const language = model.task === 'language-model';
  const tensor = (x: Float32Array, rows: number) =>
    language ? tf.tensor(Int32Array.from(x), shape(rows), 'int32') : tf.tensor(x, shape(rows));
  return {
    inputs,
    predict(x, rows) {
      const y = tf.tidy(() => explained(model, tensor(x, rows), choice.index));
      const values = Float64Array.from(y.dataSync());
      y.dispose();
      return values;
    },
    gradient: language
      ? undefined
      : (x, rows) => {
          const g = tf.tidy(() =>
            tf.grad((input: tf.Tensor) => tf.sum(explained(model, input, choice.index)))(tensor(x, rows)),
          );
          const values = Float32Array.from(g.dataSync());
          g.dispose();
          return values;
        },
  };
}

/** The selective-scan tensors of every Mamba layer of `model` on one byte sequence. */
export function scanLayers(model: BlockModel, bytes: Uint8Array): { block: string; layer: ScanLayer }[] {
  const capture = newCapture();
  try {
    tf.tidy(() => {
      model.forward(tf.tensor2d(Int32Array.from(bytes), [1, bytes.length], 'int32'), { training: false, capture });
    });
    return [...capture.ssm.entries()].map(([block, s]) => {
      const [, steps, channels] = s.delta.shape as [number, number, number];
      return {
        block,
        layer: {
          delta: Float32Array.from(s.delta.dataSync()),
          A: Float32Array.from(s.A.dataSync()),
          B: Float32Array.from(s.B.dataSync()),
          C: Float32Array.from(s.C.dataSync()),
          x: Float32Array.from(s.x.dataSync()),
          y: Float32Array.from(s.y.dataSync()),
          steps,
          channels,
          state: s.A.shape[1]!,
        },
      };
    });
  } finally {
    disposeCapture(capture);
  }
}

/**
 * ∂ log p(target | bytes) / ∂ (output of each Mamba block), T × D per block, for Mamba-Attr. The target
 * is the byte the model finds most likely after `bytes` unless given.
 */
export function mambaOutputGradients(
  model: BlockModel,
  bytes: Uint8Array,
  target?: number,
): { block: string; gradient: Float32Array; target: number }[] {
  const x = tf.tensor2d(Int32Array.from(bytes), [1, bytes.length], 'int32');
  const capture = newCapture();
  try {
    const logits = tf.tidy(() => model.forward(x, { training: false, capture }));
    const t = bytes.length;
    const last = logits.slice([0, t - 1, 0], [1, 1, -1]);
    const chosen = target ?? last.argMax(-1).dataSync()[0]!;
    tf.dispose([logits, last]);
    const out: { block: string; gradient: Float32Array; target: number }[] = [];
    model.blocks.forEach((block, b) => {
      if (block.kind !== 'mamba') return;
      const rest = model.blocks.slice(b + 1);
      const h = capture.blocks.get(block.id)!.output;
      const g = tf.tidy(() =>
        tf.grad((hidden: tf.Tensor) => {
          let y = hidden;
          for (const r of rest) y = r.forward(y, { training: false });
          const logProbs = tf.logSoftmax(tf.reshape(y.slice([0, t - 1, 0], [1, 1, -1]), [1, -1]));
          return tf.sum(logProbs.slice([0, chosen], [1, 1]));
        })(h),
      );
      out.push({ block: block.id, gradient: Float32Array.from(g.dataSync()), target: chosen });
      g.dispose();
    });
    return out;
  } finally {
    disposeCapture(capture);
    x.dispose();
  }
}
