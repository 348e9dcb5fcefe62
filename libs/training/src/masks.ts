// Which weights train: scores for pruning at initialisation and FreezeNet, and global masks from them.
// SNIP |g ⊙ θ0| (FreezeNet's score); GraSP −θ ⊙ Hg on logits / T (T = 200); SynFlow, data-free: |θ ⊙ ∂R/∂θ| with R the sum of the outputs of the network with |θ| on an all-ones
// input, iterated with an exponential density schedule; magnitude |θ|. A mask keeps the highest scores
// over all scored parameters (one global threshold); 1 = trains, 0 = frozen at θ0 or pruned to zero.
import * as tf from '@tensorflow/tfjs-core';
import type { Batch, BlockModel, Param } from '@floe/models';

export const MASK_METHODS = ['snip', 'grasp', 'synflow', 'magnitude'] as const;

/** GraSP's temperature on the logits. */
export const GRASP_TEMPERATURE = 200;
export type MaskMethod = (typeof MASK_METHODS)[number];

/** SynFlow's pruning rounds. */
export const SYNFLOW_ROUNDS = 100;

/**
 * Which parameters a mask covers: 'weights' — weight matrices and filters, biases and norms always train
 * (pruning: a pruned bias would be a different model); 'all' — every parameter (FreezeNet: a frozen bias
 * keeps its seeded value like any weight, so compression is 1 / (1 − q) as in the paper).
 */
export type MaskScope = 'weights' | 'all';

export function maskableParams(model: BlockModel, scope: MaskScope = 'weights'): Param[] {
  return scope === 'all' ? model.params() : model.params().filter((p) => p.variable.rank >= 2);
}

/**
 * Mean cross-entropy of logits / T, from primitive ops only: TF.js's fused losses and log-softmax carry
 * custom gradients that a second derivative (GraSP's Hessian–vector product) cannot go through.
 */
function lossWithTemperature(model: BlockModel, batch: Batch, temperature: number): tf.Scalar {
  const logits = model.forward(batch.x, { training: false });
  const z = temperature === 1 ? logits : tf.div(logits, temperature);
  const classes = z.shape.at(-1)!;
  // The shift only steadies exp; as a constant it keeps max's gradient (not twice differentiable) out.
  const shift = tf.tensor(tf.max(z, -1, true).dataSync(), [z.shape[0]!, 1]);
  const logSumExp = tf.add(tf.log(tf.sum(tf.exp(tf.sub(z, shift)), -1, true)), shift);
  const picked = tf.sum(tf.mul(z, tf.oneHot(tf.cast(batch.y, 'int32'), classes)), -1, true);
  return tf.mean(tf.sub(logSumExp, picked)) as tf.Scalar;
}

/** ∇_θ L for the maskable parameters (name → gradient values). */
function gradients(
  model: BlockModel,
  batch: Batch,
  temperature = 1,
  scope: MaskScope = 'weights',
): Map<string, Float32Array> {
  const params = maskableParams(model, scope);
  const { value, grads } = tf.variableGrads(
    () => lossWithTemperature(model, batch, temperature),
    params.map((p) => p.variable),
  );
  const out = new Map<string, Float32Array>();
  for (const p of params) out.set(p.name, Float32Array.from(grads[p.variable.name]!.dataSync()));
  tf.dispose([value, ...Object.values(grads)]);
  return out;
}

export type Scores = Map<string, Float32Array>;

export function snipScores(model: BlockModel, batch: Batch, scope: MaskScope = 'weights'): Scores {
  const g = gradients(model, batch, 1, scope);
  const out: Scores = new Map();
  for (const p of maskableParams(model, scope)) {
    const theta = p.variable.dataSync();
    out.set(
      p.name,
      g.get(p.name)!.map((gi, k) => Math.abs(gi * theta[k]!)),
    );
  }
  return out;
}

/**
 * H·v for the maskable parameters, as the central difference of the gradient along v:
 * (∇L(θ + εv) − ∇L(θ − εv)) / 2ε with ε = 10⁻³·T·‖θ‖/‖v‖. Not by a second backward pass: TF.js saves the
 * outputs of ops like exp for their gradients as copies that are not on the outer tape, so a nested
 * gradient of a softmax loss silently drops terms (autodiff gave 3.54 where the Hessian gives −0.034).
 * The parameters are restored exactly afterwards.
 */
export function hessianVectorProduct(
  model: BlockModel,
  batch: Batch,
  v: Map<string, Float32Array>,
  temperature = 1,
): Map<string, Float32Array> {
  const params = maskableParams(model);
  const saved = params.map((p) => Float32Array.from(p.variable.dataSync()));
  let thetaSq = 0;
  let vSq = 0;
  params.forEach((p, i) => {
    for (const x of saved[i]!) thetaSq += x * x;
    for (const x of v.get(p.name)!) vSq += x * x;
  });
  // The logits move by about ε/T: scaling ε with T keeps the step in the softmax's own units.
  const eps = (1e-3 * temperature * Math.sqrt(thetaSq)) / Math.max(Math.sqrt(vSq), 1e-30);
  const at = (sign: number) => {
    params.forEach((p, i) =>
      p.variable.assign(
        tf.tensor(
          saved[i]!.map((x, k) => x + sign * eps * v.get(p.name)![k]!),
          p.variable.shape,
        ),
      ),
    );
    return gradients(model, batch, temperature);
  };
  const plus = at(1);
  const minus = at(-1);
  params.forEach((p, i) => p.variable.assign(tf.tensor(saved[i]!, p.variable.shape)));
  return new Map(
    params.map((p) => [p.name, plus.get(p.name)!.map((g, k) => (g - minus.get(p.name)![k]!) / (2 * eps))]),
  );
}

/**
 * GraSP: score −θ ⊙ Hg with g the gradient of the loss on logits / T. GraSP removes the highest scores
 * first (removing them reduces the gradient flow least), so the kept weights are the lowest: the scores
 * returned are θ ⊙ Hg, keep-highest like the others.
 */
export function graspScores(model: BlockModel, batch: Batch, temperature = GRASP_TEMPERATURE): Scores {
  const g = gradients(model, batch, temperature);
  const hg = hessianVectorProduct(model, batch, g, temperature);
  const out: Scores = new Map();
  for (const p of maskableParams(model)) {
    const theta = p.variable.dataSync();
    out.set(
      p.name,
      hg.get(p.name)!.map((h, k) => theta[k]! * h),
    );
  }
  return out;
}

export function magnitudeScores(model: BlockModel): Scores {
  return new Map(maskableParams(model).map((p) => [p.name, Float32Array.from(p.variable.dataSync(), Math.abs)]));
}

/**
 * SynFlow (data-free): `rounds` rounds; each sets every weight to |θ| ⊙ mask, sends an all-ones input of
 * `inputShape` through, scores |θ ⊙ ∂R/∂θ| with R = Σ outputs, and keeps the top density^(k/rounds).
 * The model's weights are restored afterwards.
 */
export function synflowScores(
  model: BlockModel,
  inputShape: number[],
  density: number,
  rounds = SYNFLOW_ROUNDS,
  inputDtype: 'float32' | 'int32' = 'float32',
): Scores {
  const all = model.params();
  const saved = all.map((p) => p.variable.clone());
  const params = maskableParams(model);
  let mask: Map<string, Float32Array> = new Map(params.map((p) => [p.name, new Float32Array(p.variable.size).fill(1)]));
  let scores: Scores = new Map();
  try {
    for (const p of all) p.variable.assign(tf.abs(p.variable));
    const originals = new Map(params.map((p) => [p.name, Float32Array.from(p.variable.dataSync())]));
    for (let k = 1; k <= rounds; k++) {
      for (const p of params)
        p.variable.assign(
          tf.tensor(
            originals.get(p.name)!.map((w, i) => w * mask.get(p.name)![i]!),
            p.variable.shape,
          ),
        );
      const { value, grads } = tf.variableGrads(
        () => tf.sum(model.forward(tf.ones([1, ...inputShape], inputDtype), { training: false })) as tf.Scalar,
        params.map((p) => p.variable),
      );
      scores = new Map(
        params.map((p) => {
          const theta = p.variable.dataSync();
          const g = grads[p.variable.name]!.dataSync();
          return [p.name, Float32Array.from(g, (gi, i) => Math.abs(gi * theta[i]!))];
        }),
      );
      tf.dispose([value, ...Object.values(grads)]);
      mask = globalMask(scores, density ** (k / rounds));
    }
    return scores;
  } finally {
    all.forEach((p, i) => p.variable.assign(saved[i]!));
    tf.dispose(saved);
  }
}

/** 1 for the `keep` fraction (rounded down) of highest scores over every scored parameter (one threshold), else 0. */
export function globalMask(scores: Scores, keep: number): Map<string, Float32Array> {
  if (!(keep > 0 && keep <= 1)) throw new RangeError(`the kept fraction must be in (0, 1], not ${keep}`);
  const total = [...scores.values()].reduce((n, s) => n + s.length, 0);
  // At most the kept fraction (a freezing or pruning rate q leaves at least q of the entries out); the
  // epsilon keeps an exact product such as 3/7 · 7 from flooring to 2.
  const count = Math.max(1, Math.floor(keep * total + 1e-9));
  const flat = new Float32Array(total);
  let at = 0;
  for (const s of scores.values()) {
    flat.set(s, at);
    at += s.length;
  }
  const threshold = flat.sort()[total - count]!; // ascending: the count-th largest
  let kept = 0;
  const out = new Map<string, Float32Array>();
  // Ties at the threshold are kept in order until the count is reached, so exactly `count` train.
  const above = [...scores.values()].reduce((n, s) => n + s.filter((v) => v > threshold).length, 0);
  let tiesLeft = count - above;
  for (const [name, s] of scores)
    out.set(
      name,
      s.map((v) => {
        if (v > threshold || (v === threshold && tiesLeft-- > 0)) {
          kept++;
          return 1;
        }
        return 0;
      }),
    );
  void kept;
  return out;
}
