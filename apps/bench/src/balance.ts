// npm run bench:balance [-- --json] [-- --quick]
//
// RunSpec.balance_classes — every class as often in a classifier's batches — against plain batches, side by side
// on the same splits, seeds and steps, on real tables whose classes are unequal: vega's flights (15 minutes late
// or more: 23 % of 20,000 flights, from date, distance, origin and destination), bird strikes (the phase of
// flight, 7 classes of 4–2,600 examples) and the builtin penguins (3 species, 44–152). A fresh MLP, 800 steps;
// test-split balanced accuracy (the mean of the classes' recalls, what balancing is for) and accuracy, mean ±
// standard error over seeds.
import * as tf from '@tensorflow/tfjs-core';
import { loadBuiltin, openDataset, selectSplit, type TabularDataset } from '@floe/data';
import { balancedAccuracy, meanWithStandardError } from '@floe/metrics';
import { initBackend } from '@floe/ml-runtime';
import { buildModel } from '@floe/models';
import { DEFAULT_OPTIMIZER, ExampleSource, TrainingSession, builtinShape, schemaOf } from '@floe/training';
import { jsonLinesFolder, vegaRecords } from './vega-tables.js';

const json = process.argv.includes('--json');
const quick = process.argv.includes('--quick');
const log = (s: string) => process.stderr.write(s + '\n');
const SEEDS = quick ? 2 : 5;
const STEPS = quick ? 200 : 800;

const folder = jsonLinesFolder('balance', {
  'flights.jsonl': vegaRecords('flights-20k.json').map(({ delay, ...rest }) => ({
    ...rest,
    late: (delay as number) >= 15 ? 'late' : 'on time',
  })),
  'birdstrikes.jsonl': vegaRecords('birdstrikes.csv'),
});
const dir = folder.dir;

const open = (file: string, target: string) => (split: 'train' | 'test') =>
  openDataset({ uri: `file:${file}`, split, targetColumn: target }, { dataRoots: [dir] }) as TabularDataset;
const penguins = loadBuiltin('penguins') as TabularDataset;
const TABLES: { name: string; open: (split: 'train' | 'test') => TabularDataset }[] = [
  { name: 'flights', open: open('flights.jsonl', 'late') },
  { name: 'birdstrikes', open: open('birdstrikes.jsonl', 'Phase of flight') },
  { name: 'penguins', open: (split) => selectSplit(penguins, split) },
];

/** Test balanced accuracy and accuracy of a fresh MLP trained STEPS steps. */
function score(train: TabularDataset, test: TabularDataset, seed: number, balanceClasses: boolean) {
  const shaped = builtinShape('mlp', train);
  const model = buildModel('mlp', 'small', seed, shaped.overrides, shaped.task);
  const schema = schemaOf(model);
  const session = new TrainingSession(model, new ExampleSource(train, 32, seed, { schema, balanceClasses }), {
    optimizer: { ...DEFAULT_OPTIMIZER, learningRate: 3e-3 },
    schedule: { kind: 'cosine', warmupSteps: 0, minRatio: 0.1 },
    totalSteps: STEPS,
  });
  for (let i = 0; i < STEPS; i++) session.trainStep();
  const batch = new ExampleSource(test, test.rows, 0, { schema }).next();
  const predicted = tf.tidy(() => tf.argMax(model.forward(batch.x, { training: false }), 1).dataSync()) as Int32Array;
  const labels = batch.y.dataSync();
  const k = (schema.classNames ?? []).length;
  const all = Uint32Array.from(labels, (_, i) => i);
  const result = {
    balanced: balancedAccuracy(Int32Array.from(predicted), labels, k, all),
    accuracy: predicted.filter((p, i) => p === labels[i]).length / labels.length,
  };
  tf.dispose([batch.x, batch.y]);
  session.dispose();
  model.dispose();
  return result;
}

await initBackend('auto');
const results: Record<string, Record<string, Record<string, { mean: number; stderr: number }>>> = {};
try {
  for (const t of TABLES) {
    const [train, test] = [t.open('train'), t.open('test')];
    const target = train.target as { classes: string[]; labels: Int32Array };
    const counts = target.classes.map((_, c) => target.labels.filter((l) => l === c).length);
    log(`${t.name}: ${train.rows} training rows, ${test.rows} test; classes ${counts.join(' / ')}`);
    results[t.name] = {};
    for (const [arm, balance] of [
      ['plain', false],
      ['balanced', true],
    ] as const) {
      const runs = Array.from({ length: SEEDS }, (_, seed) => score(train, test, seed + 1, balance));
      const of = (k: 'balanced' | 'accuracy') => {
        const { mean, se } = meanWithStandardError(runs.map((r) => r[k]));
        return { mean, stderr: se };
      };
      results[t.name]![arm] = { balanced_accuracy: of('balanced'), accuracy: of('accuracy') };
      const r = results[t.name]![arm]!;
      log(
        `  ${arm.padEnd(9)} balanced accuracy ${r.balanced_accuracy!.mean.toFixed(4)} ± ${r.balanced_accuracy!.stderr.toFixed(4)}  accuracy ${r.accuracy!.mean.toFixed(4)} ± ${r.accuracy!.stderr.toFixed(4)}`,
      );
    }
  }
} finally {
  folder.remove();
}
if (json) process.stdout.write(JSON.stringify({ seeds: SEEDS, steps: STEPS, results }) + '\n');
