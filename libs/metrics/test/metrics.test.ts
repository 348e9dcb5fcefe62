// Metrics on closed forms: perfect and constant predictors, a hand-worked calibration example, the
// continual-learning metrics of a hand-computed R matrix, and bootstrap errors against σ/√n.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '@floe/random';
import {
  bootstrapStderr,
  classificationMetrics,
  continualMetrics,
  expectedCalibrationError,
  languageModelMetrics,
  meanAt,
  regressionMetrics,
} from '../src/index.js';

const close = (a: number, b: number, tol = 1e-9) => assert.ok(Math.abs(a - b) <= tol, `${a} vs ${b}`);

test('a perfect classifier: accuracy 1, ECE 0, log loss 0; a constant one: accuracy = majority share, ECE = |share − confidence|', () => {
  const labels = [0, 1, 2, 1, 0, 2];
  const perfect = new Float64Array(labels.flatMap((l) => [0, 1, 2].map((k) => (k === l ? 1 : 0))));
  const [acc, ece, loss] = classificationMetrics(perfect, labels, 3, ['accuracy', 'ece', 'loss'], 200, 1);
  close(acc!.value, 1);
  close(ece!.value, 0);
  close(loss!.value, 0);
  assert.equal(acc!.stderr, 0, 'no spread to resample');
  // Always predicts class 1 with confidence 0.6: right on 2 of 6.
  const constant = new Float64Array(labels.flatMap(() => [0.2, 0.6, 0.2]));
  const [cAcc, cEce] = classificationMetrics(constant, labels, 3, ['accuracy', 'ece'], 200, 1);
  close(cAcc!.value, 2 / 6);
  close(cEce!.value, Math.abs(2 / 6 - 0.6));
});

test('ECE on a known calibration example', () => {
  // Bin [0.6, 0.667): confidences 0.6, 0.6, 0.6, 0.6 with 3 right → |0.75 − 0.6| · 4/10;
  // bin [0.933, 1): 0.95 × 6 with 5 right → |5/6 − 0.95| · 6/10.
  const confidence = [0.6, 0.6, 0.6, 0.6, 0.95, 0.95, 0.95, 0.95, 0.95, 0.95];
  const correct = [1, 1, 1, 0, 1, 1, 1, 1, 1, 0];
  close(expectedCalibrationError(confidence, correct), 0.4 * 0.15 + 0.6 * Math.abs(5 / 6 - 0.95));
});

test('language-model metrics: bits per byte = nats / ln 2, perplexity 2^bpb; uniform bytes give 8 bits', () => {
  const uniform = new Float64Array(50).fill(Math.log(256));
  const [bpb, ppl] = languageModelMetrics(uniform, ['bits_per_byte', 'perplexity'], 100, 1);
  close(bpb!.value, 8);
  close(ppl!.value, 256, 1e-6);
  const [mse] = regressionMetrics(new Float64Array([1, 2, 3]), new Float64Array([1, 2, 3]), 1, ['mse'], 10, 1);
  close(mse!.value, 0);
  assert.throws(() => languageModelMetrics(uniform, ['accuracy'], 10, 1), /does not apply/);
});

test('bootstrap standard error of a mean ≈ σ/√n', () => {
  const r = new Rng(4);
  const xs = Float64Array.from({ length: 2000 }, () => r.normal());
  const se = bootstrapStderr(xs.length, (i) => meanAt(xs, i), 500, 9);
  assert.ok(Math.abs(se - 1 / Math.sqrt(2000)) < 0.15 / Math.sqrt(2000), `${se}`);
  assert.equal(
    bootstrapStderr(xs.length, (i) => meanAt(xs, i), 500, 9),
    se,
    'seeded',
  );
});

test('ACC, BWT, FWT and forgetting on a hand-computed R matrix (accuracy and a lower-is-better metric)', () => {
  const R = [
    [0.9, 0.1, 0.1],
    [0.7, 0.8, 0.2],
    [0.6, 0.7, 0.9],
  ];
  const m = continualMetrics(R, { higherIsBetter: true, randomInit: [0.1, 0.1, 0.1] });
  close(m.acc, (0.6 + 0.7 + 0.9) / 3);
  close(m.bwt, (0.6 - 0.9 + (0.7 - 0.8)) / 2);
  close(m.fwt, (0.1 - 0.1 + (0.2 - 0.1)) / 2);
  assert.deepEqual(
    m.forgetting.map((f) => Number(f.toFixed(12))),
    [0.3, 0.1],
  );
  assert.deepEqual(
    m.gains[2]!.map((g) => Number(g.toFixed(12))),
    [-0.3, 0.6, 0.8],
  );
  // Bits per byte: base 2.0 on e-mails, 5.0 on code; adapted 2.5 and 3.0. Forgetting 0.5 bits, BWT −0.5,
  // the gain on code +2.0 bits, on e-mails −0.5.
  const bpb = continualMetrics(
    [
      [2, 5],
      [2.5, 3],
    ],
    { higherIsBetter: false, randomInit: [8, 8] },
  );
  close(bpb.acc, 2.75);
  close(bpb.bwt, -0.5);
  close(bpb.fwt, -5 + 8);
  close(bpb.forgetting[0]!, 0.5);
  close(bpb.gains[1]![0]!, -0.5);
  close(bpb.gains[1]![1]!, 2);
});

test('ROC AUC: perfect, reversed and tied rankings, and the pair-counting definition', async () => {
  const { rocAuc, brierSkillScore } = await import('../src/index.js');
  assert.equal(rocAuc([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1]), 1);
  assert.equal(rocAuc([0.9, 0.8, 0.2, 0.1], [0, 0, 1, 1]), 0);
  assert.equal(rocAuc([0.5, 0.5, 0.5, 0.5], [0, 1, 0, 1]), 0.5);
  const scores = [0.3, 0.7, 0.7, 0.1, 0.9, 0.4, 0.4, 0.6];
  const labels = [0, 1, 0, 0, 1, 1, 0, 1];
  let pairs = 0;
  let wins = 0;
  for (let i = 0; i < scores.length; i++)
    for (let j = 0; j < scores.length; j++)
      if (labels[i] && !labels[j]) {
        pairs++;
        wins += scores[i]! > scores[j]! ? 1 : scores[i] === scores[j] ? 0.5 : 0;
      }
  assert.ok(Math.abs(rocAuc(scores, labels) - wins / pairs) < 1e-12);
  assert.ok(Number.isNaN(rocAuc([0.1, 0.2], [1, 1])));
  assert.equal(brierSkillScore([0.5, 0.5], [0, 1], 0.5), 0);
  assert.equal(brierSkillScore([0, 1], [0, 1], 0.5), 1);
});

test('macro F1, balanced accuracy and one-vs-rest AUC on a hand-worked three-class example', async () => {
  const { rocAuc } = await import('../src/index.js');
  // Labels 0 0 0 1 1 2; the argmax predicts 0 0 1 1 1 0.
  const labels = [0, 0, 0, 1, 1, 2];
  const P = Float64Array.from(
    [
      [0.7, 0.2, 0.1],
      [0.6, 0.3, 0.1],
      [0.3, 0.5, 0.2],
      [0.1, 0.8, 0.1],
      [0.2, 0.5, 0.3],
      [0.5, 0.2, 0.3],
    ].flat(),
  );
  const [f1, balanced, auc] = classificationMetrics(P, labels, 3, ['f1_macro', 'balanced_accuracy', 'auc'], 50, 1);
  // F1 per class: 2·2/(3+3), 2·2/(2+3), 0 (no right prediction of class 2).
  close(f1!.value, (4 / 6 + 4 / 5 + 0) / 3);
  // Recall per class: 2/3, 2/2, 0/1.
  close(balanced!.value, (2 / 3 + 1 + 0) / 3);
  const ovr = [0, 1, 2].map((c) =>
    rocAuc(
      labels.map((_, i) => P[i * 3 + c]!),
      labels.map((y) => (y === c ? 1 : 0)),
    ),
  );
  close(auc!.value, (ovr[0]! + ovr[1]! + ovr[2]!) / 3);
  assert.ok([f1, balanced, auc].every((m) => m!.stderr > 0));
  // Two classes: the AUC of the second class's probability; a perfect ranking scores 1 with accuracy below 1.
  const two = Float64Array.from([0.9, 0.1, 0.6, 0.4, 0.55, 0.45, 0.2, 0.8]);
  const [a2, acc2] = classificationMetrics(two, [0, 0, 1, 1], 2, ['auc', 'accuracy'], 10, 1);
  assert.deepEqual([a2!.value, acc2!.value], [1, 0.75]);
  assert.throws(() => classificationMetrics(two, [0, 0, 1, 1], 2, ['r2'], 10, 1), /f1_macro, balanced_accuracy, auc/);
});

test('regression: RMSE = √MSE, MAE, and R² = 1 − SSE/SST averaged over outputs (1 exact, 0 at the mean)', () => {
  const y = Float64Array.from([1, 2, 3, 4]);
  const metrics = (p: number[], names = ['mse', 'rmse', 'mae', 'r2']) =>
    Object.fromEntries(regressionMetrics(Float64Array.from(p), y, 1, names, 50, 1).map((m) => [m.name, m.value]));
  assert.deepEqual(metrics([1, 2, 3, 4]), { mse: 0, rmse: 0, mae: 0, r2: 1 });
  const off = metrics([1, 2, 3, 6]);
  close(off.mse!, 1);
  close(off.rmse!, 1);
  close(off.mae!, 0.5);
  close(off.r2!, 1 - 4 / 5);
  close(metrics([2.5, 2.5, 2.5, 2.5]).r2!, 0);
  // Two outputs, the second predicted exactly: R² is the mean of the two; errors are averaged per example.
  const two = regressionMetrics(
    Float64Array.from([1, 10, 2, 20, 3, 30, 6, 40]),
    Float64Array.from([1, 10, 2, 20, 3, 30, 4, 40]),
    2,
    ['r2', 'mae'],
    10,
    1,
  );
  close(two[0]!.value, (1 - 4 / 5 + 1) / 2);
  close(two[1]!.value, 2 / 2 / 4);
  assert.throws(() => metrics([1, 2, 3, 4], ['accuracy']), /mse, rmse, mae, r2/);
});
