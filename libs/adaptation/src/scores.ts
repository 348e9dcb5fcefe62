// Which blocks the new data stresses (docs/ALGORITHMS.md §1): per residual block, the angle between the
// residual stream entering and leaving it (last token and all tokens), and per block the gradient norm
// and diagonal (empirical) Fisher of the loss on calibration batches; plus the loss itself.
import * as tf from '@tensorflow/tfjs';
import { disposeCapture, newCapture, type Batch, type BlockModel } from '@floe/models';

/**
 * Angle between corresponding rows of `a` and `b` ([..., d]) divided by π, in [0, 1]. Computed as
 * 2·atan2(|u − v|, |u + v|) of the unit vectors: exact to float32 rounding near 0, where arccos of a
 * dot product loses everything below ~3e-4.
 */
export function angularDistance(a: tf.Tensor, b: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const unit = (t: tf.Tensor) => t.div(tf.maximum(tf.norm(t, 'euclidean', -1, true), 1e-30));
    const u = unit(a);
    const v = unit(b);
    return tf.atan2(tf.norm(u.sub(v), 'euclidean', -1), tf.norm(u.add(v), 'euclidean', -1)).mul(2 / Math.PI);
  });
}

export interface BlockScore {
  blockId: string;
  /** Residual blocks only (others 0): mean over sequences of the angle at the last token, ÷ π. */
  angularDistanceLast: number;
  /** Residual blocks only: mean over all tokens. */
  angularDistanceAll: number;
  /** Mean over batches of ‖∂loss/∂θ_block‖₂. */
  gradNorm: number;
  /** Mean over batches and over the block's parameters of (∂loss/∂θ)²: the empirical diagonal Fisher. */
  fisher: number;
  residual: boolean;
}

export interface Scores {
  blocks: BlockScore[];
  /** Mean loss on the batches: bits per byte for language models (one token is one byte), else nats. */
  loss: number;
}

const isResidual = (model: BlockModel, id: string) => model.residualBlockIds().includes(id);

/** Loss in the unit a person reads: bits per byte for byte-level language models. */
export function readableLoss(model: BlockModel, nats: number): number {
  return model.task === 'language-model' ? nats / Math.LN2 : nats;
}

/** Mean loss of `batches` (no gradients); bits per byte for language models. */
export function meanLoss(model: BlockModel, batches: Batch[]): number {
  let total = 0;
  for (const b of batches) total += tf.tidy(() => model.loss(b, { training: false }).dataSync()[0]!);
  return readableLoss(model, total / batches.length);
}

/** Scores every block of `model` on `batches`. `onBatch` reports progress (and may yield). */
export async function scoreBlocks(
  model: BlockModel,
  batches: Batch[],
  onBatch: (done: number) => Promise<void> | void = () => {},
): Promise<Scores> {
  const residual = new Set(model.residualBlockIds());
  const sums = new Map(
    model.blocks.map((b) => [
      b.id,
      { last: 0, all: 0, grad: 0, fisher: 0, size: b.params.reduce((n, p) => n + p.variable.size, 0) },
    ]),
  );
  let lossSum = 0;
  let done = 0;
  const variables = model.params().map((p) => p.variable);
  const blockOf = new Map(model.blocks.flatMap((b) => b.params.map((p) => [p.variable.name, b.id] as const)));
  for (const batch of batches) {
    const capture = newCapture();
    tf.tidy(() => {
      const loss = model.loss(batch, { training: false, capture });
      lossSum += loss.dataSync()[0]!;
    });
    for (const [id, { input, output }] of capture.blocks) {
      if (residual.has(id)) {
        const s = sums.get(id)!;
        const [last, all] = tf.tidy(() => {
          const d = angularDistance(input, output);
          const T = d.shape[d.shape.length - 1]!;
          return [
            d
              .slice([0, T - 1], [-1, 1])
              .mean()
              .dataSync()[0]!,
            d.mean().dataSync()[0]!,
          ];
        });
        s.last += last;
        s.all += all;
      }
    }
    disposeCapture(capture);
    const { value, grads } = tf.variableGrads(() => model.loss(batch, { training: false }), variables);
    const perBlock = new Map<string, number>();
    for (const [name, g] of Object.entries(grads)) {
      const sq = tf.tidy(() => tf.sum(tf.square(g)).dataSync()[0]!);
      const id = blockOf.get(name)!;
      perBlock.set(id, (perBlock.get(id) ?? 0) + sq);
    }
    for (const [id, sq] of perBlock) {
      const s = sums.get(id)!;
      s.grad += Math.sqrt(sq);
      s.fisher += s.size ? sq / s.size : 0;
    }
    tf.dispose([value, ...Object.values(grads)]);
    done++;
    await onBatch(done);
  }
  const n = batches.length;
  return {
    loss: readableLoss(model, lossSum / n),
    blocks: model.blocks.map((b) => {
      const s = sums.get(b.id)!;
      return {
        blockId: b.id,
        angularDistanceLast: s.last / n,
        angularDistanceAll: s.all / n,
        gradNorm: s.grad / n,
        fisher: s.fisher / n,
        residual: isResidual(model, b.id),
      };
    }),
  };
}
