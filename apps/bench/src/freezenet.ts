// npm run bench:freezenet [-- --json] [-- --quick] [-- --seeds N] [-- --epochs N] [-- --lr-grid A,B] [-- --arms M:Q,…]
//                          [-- --score-examples N]
//
// FreezeNet's own experiment, small: LeNet-5 (Caffe: 431k parameters) on builtin:mnist, 8,000 training
// images (the train split) and 2,000 test images (the validation and test splits). The dense baseline
// against FreezeNet (the top (1 − q) SNIP scores |g ⊙ θ0| train, the rest stay at their seeded initial
// values; every parameter is a candidate, biases included, as in the paper, so the compression is 1/(1 − q))
// and SNIP (the same scores over the weights; the rest pruned to zero, biases kept) at freezing rates q = 90 %, 99 % and
// 99.36 % (FreezeNet's 157x), several seeds. Every arm trains through the code a trainer run uses
// (TrainingSession + MaskedTraining, the mask scored on one batch of its own stream) with the same
// optimizer, schedule and steps, so that only the mask differs. Reported per arm: test accuracy relative to
// the dense baseline of the same seed (mean ± standard error over seeds), compression (all parameters ÷
// stored parameters: the trained entries, plus SNIP's biases) and wall time.
//
// Learning rates: a network that trains 1 % of its weights wants a larger step than a dense one, and one
// rate for all would favour whichever arm it suits. Each arm picks its own from LEARNING_RATES by accuracy
// on 1,000 images held out of the 8,000 (trained on the other 7,000, first seed only); the test images
// are not looked at until the final runs, which train on all 8,000 with the chosen rate.
import * as tf from '@tensorflow/tfjs-core';
import { loadBuiltin, selectSplit, type ImageDataset } from '@floe/data';
import { rngFor } from '@floe/random';
import { meanWithStandardError } from '@floe/metrics';
import { initBackend } from '@floe/ml-runtime';
import { buildModel, compressionOf, sparseBytes, sparseState, type BlockModel } from '@floe/models';
import { DEFAULT_OPTIMIZER, ExampleSource, MaskedTraining, TrainingSession } from '@floe/training';

const args = process.argv.slice(2);
const json = args.includes('--json');
const quick = args.includes('--quick');
const flag = (name: string, fallback: number) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const SEEDS = flag('--seeds', quick ? 2 : 3);
const EPOCHS = flag('--epochs', quick ? 2 : 10);
const BATCH = 100;
/** Images in the one batch the SNIP scores come from (FreezeNet: one training batch). */
const SCORE_EXAMPLES = flag('--score-examples', BATCH);
const RATES = [0.9, 0.99, 0.9936];
const LEARNING_RATES = (() => {
  const i = args.indexOf('--lr-grid');
  return i >= 0 ? args[i + 1]!.split(',').map(Number) : [1e-3, 3e-3, 1e-2, 3e-2];
})();
const log = (s: string) => process.stderr.write(s + '\n');
const round = (x: number, d = 4) => Math.round(x * 10 ** d) / 10 ** d;

await initBackend('auto');
const all = loadBuiltin('mnist') as ImageDataset;
const train = selectSplit(all, 'train');
const validation = selectSplit(all, 'validation');
const testPart = selectSplit(all, 'test');
const test: ImageDataset = {
  ...all,
  pixels: new Float32Array([...validation.pixels, ...testPart.pixels]),
  labels: new Int32Array([...validation.labels, ...testPart.labels]),
};
const STEPS = Math.round((EPOCHS * train.labels.length) / BATCH);
const HELD_OUT = 1000;
const px = all.height * all.width * all.channels;
/** The images of `d` at `indices`. */
const subset = (d: ImageDataset, indices: number[]): ImageDataset => {
  const pixels = new Float32Array(indices.length * px);
  indices.forEach((r, i) => pixels.set(d.pixels.subarray(r * px, (r + 1) * px), i * px));
  return { ...d, pixels, labels: Int32Array.from(indices, (r) => d.labels[r]!) };
};
// The splits keep the dataset's order (by digit): the held-out images are a random 1,000.
const order = rngFor(0, 'freezenet-held-out').shuffle([...Array(train.labels.length).keys()]);
const selectionTrain = subset(train, order.slice(HELD_OUT));
const selectionHeldOut = subset(train, order.slice(0, HELD_OUT));
log(
  `LeNet-5 (Caffe) on MNIST: ${train.labels.length} train, ${test.labels.length} test; ${STEPS} steps of ${BATCH} (${EPOCHS} epochs), ${SEEDS} seeds; learning rates ${LEARNING_RATES.join(', ')}`,
);

function accuracy(model: BlockModel, d: ImageDataset): number {
  const px = d.height * d.width * d.channels;
  let correct = 0;
  for (let at = 0; at < d.labels.length; at += 500) {
    const n = Math.min(500, d.labels.length - at);
    const predicted = tf.tidy(() =>
      tf
        .argMax(
          model.forward(tf.tensor4d(d.pixels.subarray(at * px, (at + n) * px), [n, d.height, d.width, d.channels])),
          -1,
        )
        .dataSync(),
    );
    for (let i = 0; i < n; i++) correct += predicted[i] === d.labels[at + i] ? 1 : 0;
  }
  return correct / d.labels.length;
}

interface Arm {
  method: 'dense' | 'freezenet' | 'snip';
  freezingRate: number;
}

function runArm(
  arm: Arm,
  seed: number,
  learningRate: number,
  data: { train: ImageDataset; test: ImageDataset } = { train, test },
): { accuracy: number; compression: number; bytes: number; seconds: number } {
  const start = performance.now();
  const model = buildModel('lenet5', 'caffe', seed);
  const session = new TrainingSession(model, new ExampleSource(data.train, BATCH, seed), {
    optimizer: { ...DEFAULT_OPTIMIZER, learningRate, weightDecay: 0 },
    schedule: { kind: 'cosine', warmupSteps: 0, minRatio: 0.05 },
    totalSteps: STEPS,
  });
  if (arm.method !== 'dense') {
    // As the trainer does: the mask's batch from its own stream (seed + 1).
    const batch = new ExampleSource(data.train, SCORE_EXAMPLES, seed + 1).next();
    session.selective = MaskedTraining.create(
      model,
      session.optimizer,
      // FreezeNet freezes among every parameter (the paper's 1 / (1 − q) compression); SNIP prunes weights.
      arm.method === 'freezenet'
        ? { rest: 'frozen', method: 'snip', keep: 1 - arm.freezingRate, scope: 'all' }
        : { rest: 'pruned', method: 'snip', keep: 1 - arm.freezingRate, scope: 'weights' },
      batch,
    );
    tf.dispose([batch.x, batch.y]);
  }
  for (let i = 0; i < STEPS; i++) session.trainStep();
  const acc = accuracy(model, data.test);
  let compression = 1;
  let bytes = model.countParams() * 4;
  if (session.selective) {
    const state = sparseState(
      model,
      (session.selective as MaskedTraining).masks,
      arm.method === 'freezenet' ? 'frozen' : 'pruned',
    );
    compression = compressionOf(state, model);
    bytes = sparseBytes(state);
  }
  session.dispose();
  model.dispose();
  return { accuracy: acc, compression, bytes, seconds: (performance.now() - start) / 1000 };
}

const allArms: Arm[] = [
  { method: 'dense', freezingRate: 0 },
  ...RATES.flatMap((q) => [
    { method: 'freezenet' as const, freezingRate: q },
    { method: 'snip' as const, freezingRate: q },
  ]),
];
// --arms dense,freezenet:0.9936 runs a subset (the dense baseline always runs: the others are relative to it).
const armsFlag = args.indexOf('--arms') >= 0 ? args[args.indexOf('--arms') + 1]!.split(',') : undefined;
const arms = allArms.filter(
  (a) => a.method === 'dense' || !armsFlag || armsFlag.includes(`${a.method}:${a.freezingRate}`),
);
const chosenRate = new Map<Arm, number>();
for (const arm of arms) {
  const scored = LEARNING_RATES.map((lr) => ({
    lr,
    accuracy: runArm(arm, 1, lr, { train: selectionTrain, test: selectionHeldOut }).accuracy,
  }));
  const best = scored.reduce((a, b) => (b.accuracy > a.accuracy ? b : a));
  chosenRate.set(arm, best.lr);
  log(
    `${arm.method.padEnd(9)} q=${String(arm.freezingRate).padEnd(6)} held-out accuracy by learning rate: ${scored.map((x) => `${x.lr} ${x.accuracy.toFixed(4)}`).join(', ')} → ${best.lr}`,
  );
}
const outcomes = new Map<Arm, ReturnType<typeof runArm>[]>(arms.map((a) => [a, []]));
for (let seed = 1; seed <= SEEDS; seed++)
  for (const arm of arms) {
    const o = runArm(arm, seed, chosenRate.get(arm)!);
    outcomes.get(arm)!.push(o);
    log(
      `seed ${seed} ${arm.method.padEnd(9)} q=${String(arm.freezingRate).padEnd(6)} accuracy ${o.accuracy.toFixed(4)}  compression ${o.compression.toFixed(1)}x  ${(o.bytes / 1024).toFixed(1)} KiB  ${o.seconds.toFixed(1)} s`,
    );
  }

const dense = outcomes.get(arms.find((a) => a.method === 'dense')!)!;
const results = arms.map((arm) => {
  const os = outcomes.get(arm)!;
  const relative = meanWithStandardError(os.map((o, i) => o.accuracy / dense[i]!.accuracy));
  const acc = meanWithStandardError(os.map((o) => o.accuracy));
  return {
    method: arm.method,
    freezing_rate: arm.freezingRate,
    compression: round(os[0]!.compression, 2),
    learning_rate: chosenRate.get(arm)!,
    stored_kib: round(os[0]!.bytes / 1024, 1),
    accuracy: { mean: round(acc.mean), se: round(acc.se) },
    relative_accuracy: { mean: round(relative.mean), se: round(relative.se) },
    wall_s: round(os.reduce((s, o) => s + o.seconds, 0) / os.length, 1),
  };
});
log('');
log('method     rate     compression  accuracy          relative to dense   wall');
for (const r of results)
  log(
    `${r.method.padEnd(10)} ${String(r.freezing_rate).padEnd(8)} ${(r.compression.toFixed(1) + 'x').padEnd(12)} ${r.accuracy.mean.toFixed(4)} ± ${r.accuracy.se.toFixed(4)}   ${r.relative_accuracy.mean.toFixed(4)} ± ${r.relative_accuracy.se.toFixed(4)}   ${r.wall_s} s`,
  );
for (const q of RATES) {
  const f = results.find((r) => r.method === 'freezenet' && r.freezing_rate === q);
  const s = results.find((r) => r.method === 'snip' && r.freezing_rate === q);
  if (!f || !s) continue;
  log(
    `q=${q}: FreezeNet ${f.relative_accuracy.mean >= 0.99 ? 'keeps' : 'misses'} 99 % of dense at ${f.compression}x; ${f.relative_accuracy.mean > s.relative_accuracy.mean ? 'beats' : 'does not beat'} SNIP (${f.relative_accuracy.mean} vs ${s.relative_accuracy.mean})`,
  );
}
if (json)
  process.stdout.write(
    JSON.stringify(
      {
        model: 'lenet5/caffe',
        train: train.labels.length,
        test: test.labels.length,
        steps: STEPS,
        seeds: SEEDS,
        results,
      },
      null,
      2,
    ) + '\n',
  );
