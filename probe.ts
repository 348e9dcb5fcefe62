import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '@floe/ml-runtime';
import { buildModel } from '@floe/models';
import { loadBuiltin, selectSplit, type TextDataset, type ImageDataset } from '@floe/data';
import { DEFAULT_OPTIMIZER, LmSource, ExampleSource, TrainingSession } from '@floe/training';
console.log(await initBackend('native'));
const model = buildModel('transformer-lm', 'bench', 0);
const s = new TrainingSession(model, new LmSource(selectSplit(loadBuiltin('spam-assassin') as TextDataset, 'train', 500), 16, 128, 0), { optimizer: DEFAULT_OPTIMIZER, schedule: { kind: 'constant', warmupSteps: 0, minRatio: 1 }, totalSteps: 10 });
for (let i = 0; i < 4; i++) { const m = s.trainStep(); console.log(m.ms.toFixed(0), m.loss.toFixed(3)); }
const info = await tf.profile(() => { s.trainStep(); });
const by = new Map<string, number>(); for (const k of info.kernels) by.set(k.name, (by.get(k.name) ?? 0) + Number(k.kernelTimeMs));
console.log([...by].sort((a, b) => b[1] - a[1]).slice(0, 14).map(([k, v]) => `${k}:${v.toFixed(0)}`).join(' '));
const lenet = buildModel('lenet5', 'caffe', 0);
const l = new TrainingSession(lenet, new ExampleSource(loadBuiltin('mnist') as ImageDataset, 64, 0), { optimizer: DEFAULT_OPTIMIZER, schedule: { kind: 'constant', warmupSteps: 0, minRatio: 1 }, totalSteps: 10 });
for (let i = 0; i < 5; i++) { const m = l.trainStep(); console.log('lenet', m.ms.toFixed(1)); }
const info2 = await tf.profile(() => { l.trainStep(); });
const by2 = new Map<string, number>(); for (const k of info2.kernels) by2.set(k.name, (by2.get(k.name) ?? 0) + Number(k.kernelTimeMs));
console.log([...by2].sort((a, b) => b[1] - a[1]).slice(0, 10).map(([k, v]) => `${k}:${v.toFixed(1)}`).join(' '));
