// npm run bench:explain [-- --json]
//
// Throughput of the explainer's methods on this machine: KernelSHAP explanations per second for a
// 20-feature MLP at the default budget (2M + 2048 coalitions, 64 background rows), exact Shapley for
// M = 10 and 14 (16 background rows), integrated gradients (50 nodes) per second for LeNet-5 on MNIST,
// and the hidden attention (channel-averaged map of every layer, with the α·x self-check) of the bench
// Mamba LM on a 1,024-byte sequence.
import * as tf from '@tensorflow/tfjs-core';
import { loadBuiltin, type ImageDataset, type TextDataset } from '@floe/data';
import { initBackend } from '@floe/ml-runtime';
import { buildModel } from '@floe/models';
import { rngFor } from '@floe/random';
import {
  batchModel,
  exactShapley,
  integratedGradients,
  kernelShap,
  layerAttention,
  scanLayers,
  tabularValue,
} from '@floe/xai';

const json = process.argv.includes('--json');
const log = (s: string) => process.stderr.write(s + '\n');
const round = (x: number, d = 2) => Math.round(x * 10 ** d) / 10 ** d;

const backend = await initBackend('auto');
log(`backend ${backend.name}`);

function rows(n: number, m: number, seed: number): Float32Array {
  const rng = rngFor(seed, 'bench-explain');
  return Float32Array.from({ length: n * m }, () => rng.normal());
}

function timed<T>(fn: () => T): { value: T; ms: number } {
  const t0 = performance.now();
  const value = fn();
  return { value, ms: performance.now() - t0 };
}

// KernelSHAP on a 20-feature MLP.
const mlp = buildModel('mlp', 'small', 1, { inputs: 20, hidden: [64, 64], outputs: 2 });
const f20 = batchModel(mlp, 20, { index: 1 });
const background64 = rows(64, 20, 1);
const instances = rows(8, 20, 2);
kernelShap(tabularValue(f20, instances.subarray(0, 20), background64), 20, { seed: 0 }); // warm-up
const kernel = timed(() => {
  let gap = 0;
  for (let k = 0; k < 8; k++) {
    const r = kernelShap(tabularValue(f20, instances.subarray(k * 20, (k + 1) * 20), background64), 20, { seed: k });
    gap = Math.max(gap, Math.abs(r.delta));
  }
  return gap;
});
const kernelPerS = 8 / (kernel.ms / 1000);
log(
  `KernelSHAP, M = 20, 2088 coalitions × 64 background rows: ${kernelPerS.toFixed(2)} explanations/s (largest efficiency error ${kernel.value.toExponential(1)})`,
);

// Exact Shapley, M = 10 and 14.
const exactMs: Record<string, number> = {};
for (const m of [10, 14]) {
  const model = buildModel('mlp', 'small', 1, { inputs: m, hidden: [64, 64], outputs: 2 });
  const f = batchModel(model, m, { index: 1 });
  const value = tabularValue(f, rows(1, m, 3), rows(16, m, 4));
  exactShapley(value, m); // warm-up
  const r = timed(() => exactShapley(value, m));
  exactMs[m] = round(r.ms, 1);
  log(
    `exact Shapley, M = ${m} (${2 ** m} coalitions × 16 background rows): ${r.ms.toFixed(0)} ms (efficiency error ${r.value.delta.toExponential(1)})`,
  );
  model.dispose();
}

// Integrated gradients on LeNet-5, MNIST.
const mnist = loadBuiltin('mnist') as ImageDataset;
const lenet = buildModel('lenet5', 'caffe', 1);
const fImage = batchModel(lenet, 784, { index: 3, rowShape: [28, 28, 1] });
const baseline = new Float32Array(784);
integratedGradients(fImage, mnist.pixels.subarray(0, 784), baseline); // warm-up
const ig = timed(() => {
  let delta = 0;
  for (let k = 1; k <= 8; k++)
    delta = Math.max(
      delta,
      Math.abs(integratedGradients(fImage, mnist.pixels.subarray(k * 784, (k + 1) * 784), baseline).delta),
    );
  return delta;
});
const igPerS = 8 / (ig.ms / 1000);
log(
  `integrated gradients, LeNet-5 (Caffe) on MNIST, 50 nodes: ${igPerS.toFixed(2)} explanations/s (largest |delta| ${ig.value.toExponential(1)})`,
);

// Hidden attention of the bench Mamba LM on 1,024 bytes of e-mail.
const mail = loadBuiltin('spam-assassin') as TextDataset;
const text = new Uint8Array(1024);
let filled = 0;
for (const doc of mail.documents) {
  const take = Math.min(doc.length, 1024 - filled);
  text.set(doc.subarray(0, take), filled);
  filled += take;
  if (filled === 1024) break;
}
const mamba = buildModel('mamba-lm', 'bench', 1);
const capture = timed(() => scanLayers(mamba, text));
const maps = timed(() => capture.value.map(({ layer }) => layerAttention(layer, { selfCheck: true })));
const reconstruction = Math.max(...maps.value.map((m) => m.reconstructionError!));
const attentionOnly = timed(() => capture.value.map(({ layer }) => layerAttention(layer).map));
log(
  `hidden attention, Mamba bench (${capture.value.length} layers × ${capture.value[0]!.layer.channels} channels × ${capture.value[0]!.layer.state} states), 1,024 bytes: forward with capture ${capture.ms.toFixed(0)} ms, maps ${attentionOnly.ms.toFixed(0)} ms (with the α·x self-check ${maps.ms.toFixed(0)} ms, error ${reconstruction.toExponential(1)})`,
);
tf.dispose([]);

const result = {
  backend: backend.name,
  kernel_shap_per_s: round(kernelPerS),
  exact_ms: exactMs,
  ig_per_s: round(igPerS),
  hidden_attention_ms: round(capture.ms + attentionOnly.ms, 0),
  hidden_attention: {
    forward_ms: round(capture.ms, 0),
    maps_ms: round(attentionOnly.ms, 0),
    reconstruction_error: reconstruction,
  },
};
if (json) process.stdout.write(JSON.stringify(result, null, 2) + '\n');
