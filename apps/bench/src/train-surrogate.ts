// `npm run train:surrogate [-- --steps N] [-- --json] [-- --out DIR] [-- --width W --layers L]
// [-- --stalling-tasks P] [-- --late-onset-tasks P] [-- --relevance-tasks P]`: trains the learning-curve PFN on sequences sampled
// from the FT-PFN prior (docs/ALGORITHMS.md §4) on this machine's CPU (native kernels), and writes its weights
// and config to libs/surrogate/weights. --stalling-tasks adds tasks with a region that never learns and
// --late-onset-tasks tasks whose curves start late, --relevance-tasks tasks whose hyperparameters matter
// unequally; all are off in the committed weights (measured there: they made ifBO's decisions worse on TaskSet).
// Everything is seeded: the same flags reproduce the same weights on the same backend. Prints a progress bar
// with the held-out prior log-likelihood as it goes (with --json, a JSON line on stderr every 250 steps),
// then the size, steps and wall time.
import { mkdirSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '@floe/ml-runtime';
import { Rng } from '@floe/random';
import { CurvePfn, priorBatch, type PfnConfig, type PriorBatch, type PriorOptions } from '@floe/surrogate';

const args = process.argv.slice(2);
const flag = (name: string, fallback: number) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const json = args.includes('--json');
const root = new URL('../../..', import.meta.url).pathname;
const outIndex = args.indexOf('--out');
const outDir = resolve(outIndex >= 0 ? args[outIndex + 1]! : join(root, 'libs/surrogate/weights'));
const name = args.includes('--name') ? args[args.indexOf('--name') + 1]! : 'ft-pfn';

const config: PfnConfig = {
  width: flag('width', 128),
  layers: flag('layers', 3),
  heads: flag('heads', 4),
  ffn: flag('ffn', 256),
  buckets: flag('buckets', 512),
};
const steps = flag('steps', 10000);
const seed = flag('seed', 1);
const peakLr = flag('lr', 1e-3);
const warmup = Math.min(200, Math.floor(steps / 10));
// floe's extensions of the reference prior (0 = the reference): tasks with a region that never learns;
// tasks whose curves may start late; tasks whose hyperparameters matter unequally.
const prior: PriorOptions = {
  stallingTasks: flag('stalling-tasks', 0),
  lateOnsetTasks: flag('late-onset-tasks', 0),
  relevanceTasks: flag('relevance-tasks', 0),
};
// About 4096 tokens a step: short sequences come in larger batches.
const TOKENS_PER_STEP = 4096;

const backend = await initBackend('auto');
const rng = new Rng(seed);
const model = CurvePfn.create(config, seed);
const optimizer = tf.train.adam(peakLr);

// Held-out prior sequences, fixed by their own seed: the log-likelihood the bar shows.
const heldRng = new Rng(999_331);
const heldOut: PriorBatch[] = Array.from({ length: 16 }, () => priorBatch(heldRng, 8, 256, prior));
const logBuckets = Math.log(config.buckets);
function heldOutNll(): number {
  let sum = 0;
  for (const b of heldOut) sum += tf.tidy(() => model.loss(b.input, b.queryY).dataSync()[0]!);
  // Cross-entropy over buckets − ln(buckets) = −log density of y on [0, 1].
  return sum / heldOut.length - logBuckets;
}

const learningRate = (step: number) =>
  step < warmup
    ? (peakLr * (step + 1)) / warmup
    : 1e-5 + 0.5 * (peakLr - 1e-5) * (1 + Math.cos((Math.PI * (step - warmup)) / (steps - warmup)));

const history: { step: number; nll: number; seconds: number }[] = [];
const started = performance.now();
const elapsed = () => (performance.now() - started) / 1000;
let nll = heldOutNll();
history.push({ step: 0, nll, seconds: 0 });
let lossAvg = 0;
for (let step = 0; step < steps; step++) {
  const length = Math.round(Math.pow(2, rng.uniform(6, 9)));
  const batch = priorBatch(rng, Math.max(2, Math.round(TOKENS_PER_STEP / length)), length, prior);
  (optimizer as unknown as { learningRate: number }).learningRate = learningRate(step);
  const loss = optimizer.minimize(() => model.loss(batch.input, batch.queryY), true)!;
  const value = loss.dataSync()[0]!;
  loss.dispose();
  lossAvg = step === 0 ? value : 0.98 * lossAvg + 0.02 * value;
  if ((step + 1) % 250 === 0 || step === steps - 1) {
    nll = heldOutNll();
    history.push({ step: step + 1, nll, seconds: elapsed() });
    // JSON mode keeps stdout for the result; its progress is one JSON line on stderr per evaluation.
    if (json)
      process.stderr.write(JSON.stringify({ step: step + 1, of: steps, held_out_nll: nll, seconds: elapsed() }) + '\n');
  }
  if (!json && process.stderr.isTTY !== false) {
    const done = (step + 1) / steps;
    const bar = '█'.repeat(Math.round(done * 30)).padEnd(30, '░');
    const eta = (elapsed() / (step + 1)) * (steps - step - 1);
    process.stderr.write(
      `\r${bar} ${step + 1}/${steps}  train ${(lossAvg - logBuckets).toFixed(3)}  held-out NLL ${nll.toFixed(3)}  ${elapsed().toFixed(0)} s, ~${eta.toFixed(0)} s left `,
    );
  }
}
if (!json) process.stderr.write('\n');

mkdirSync(outDir, { recursive: true });
const weights = model.toBuffer();
const bytes = Buffer.from(weights.buffer, weights.byteOffset, weights.byteLength);
writeFileSync(join(outDir, `${name}.bin`), bytes);
const meta = {
  config,
  parameters: model.parameterCount(),
  steps,
  seed,
  prior,
  peak_learning_rate: peakLr,
  tokens_per_step: TOKENS_PER_STEP,
  backend: backend.name,
  wall_seconds: Math.round(elapsed()),
  held_out_nll: Number(nll.toFixed(4)),
  history,
  sha256: createHash('sha256').update(bytes).digest('hex'),
  command: `npm run train:surrogate -- ${args.join(' ')}`.trim(),
};
writeFileSync(join(outDir, `${name}.json`), JSON.stringify(meta, null, 2) + '\n');
if (json) console.log(JSON.stringify(meta));
else
  console.log(
    `${name}: ${meta.parameters} parameters (width ${config.width}, ${config.layers} layers, ${config.buckets} buckets), ` +
      `${steps} steps in ${meta.wall_seconds} s on ${backend.name}; held-out prior NLL ${nll.toFixed(3)} (−log density of y)`,
  );
