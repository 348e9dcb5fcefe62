// floe's fused training kernels where the native addon runs them (the AdamW update, the gradient norms'
// sums of squares, the norms, the selective scan): the optimizer's step against its closed form and
// against the unfused composition, and whole 50-step training runs fused against unfused — the curves
// must agree to float32 noise (twice what an ulp's nudge of the initial weights does to the composed run).
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { native } from '@floe/native';
import { initBackend, useFusedKernels } from '@floe/ml-runtime';
import { buildModel, makeParam } from '@floe/models';
import { loadBuiltin, selectSplit, type TextDataset } from '@floe/data';
import { DEFAULT_OPTIMIZER, LmSource, Optimizer, TrainingSession, sumsOfSquares } from '../src/index.js';

const skip = native ? false : 'the native addon was not built (FLOE_NATIVE=0)';

before(async () => {
  if (native) await initBackend('native');
});

/** Runs `f` with floe's fused kernels switched off (the composed ops run instead). */
function unfused<T>(f: () => T): T {
  useFusedKernels(false);
  try {
    return f();
  } finally {
    useFusedKernels(true);
  }
}

test('fused AdamW: the first step has its closed form, and later steps match the composition', { skip }, () => {
  for (const kind of ['adamw', 'adam'] as const)
    for (const clip of [0, 0.5]) {
      const run = () => {
        const p = makeParam(7, 'w', [33, 17], { normal: 1 });
        const opt = new Optimizer({ ...DEFAULT_OPTIMIZER, kind, weightDecay: 0.1, gradClipNorm: clip });
        const weights: Float32Array[] = [];
        for (let step = 1; step <= 3; step++) {
          const g = tf.tidy(() => tf.mul(tf.sin(tf.mul(p.variable, step)), 2));
          opt.apply([p], new Map([['w', g]]), 1e-2);
          g.dispose();
          weights.push(p.variable.dataSync<'float32'>().slice());
        }
        p.variable.dispose();
        opt.dispose();
        return { weights };
      };
      const fused = run();
      const composed = unfused(run);
      for (let s = 0; s < 3; s++)
        for (let i = 0; i < fused.weights[s]!.length; i++)
          assert.ok(
            Math.abs(fused.weights[s]![i]! - composed.weights[s]![i]!) <= 1e-6,
            `${kind} clip ${clip} step ${s + 1}[${i}]: ${fused.weights[s]![i]} vs ${composed.weights[s]![i]}`,
          );
    }
  // Closed form of AdamW's first step without clipping: m̂ = g, v̂ = g², so p ← p − lr·(g/(|g| + ε) + wd·p).
  const p = makeParam(3, 'w', [64], { normal: 1 });
  const p0 = p.variable.dataSync().slice();
  const g = tf.tensor(Float32Array.from(p0, (v) => Math.cos(5 * v)));
  const gv = g.dataSync();
  const opt = new Optimizer({ ...DEFAULT_OPTIMIZER, kind: 'adamw', weightDecay: 0.1, gradClipNorm: 0 });
  opt.apply([p], new Map([['w', g]]), 1e-2);
  const p1 = p.variable.dataSync();
  for (let i = 0; i < 64; i++) {
    const expected = p0[i]! - 1e-2 * (gv[i]! / (Math.abs(gv[i]!) + 1e-8) + 0.1 * p0[i]!);
    assert.ok(Math.abs(p1[i]! - expected) <= 1e-6, `closed form [${i}]: ${p1[i]} vs ${expected}`);
  }
  tf.dispose([g, p.variable]);
  opt.dispose();
});

test('sums of squares: closed form, fused and composed alike', { skip }, () => {
  const ts = [
    tf.tensor([3, 4]),
    tf.tensor([
      [1, 2],
      [2, 0],
    ]),
    tf.fill([1000], 0.5),
  ];
  for (const sums of [sumsOfSquares(ts), unfused(() => sumsOfSquares(ts))]) {
    assert.deepEqual(sums.slice(0, 2), [25, 9]);
    assert.ok(Math.abs(sums[2]! - 250) < 1e-4);
  }
  assert.deepEqual(sumsOfSquares([]), []);
  tf.dispose(ts);
});

for (const [arch, size] of [
  ['transformer-lm', 'tiny'],
  ['mamba-lm', 'tiny'],
] as const)
  test(`${arch} ${size}: a 50-step run fused and unfused follows the same curve`, { skip }, () => {
    const text = selectSplit(loadBuiltin('spam-assassin') as TextDataset, 'train', 400);
    /** The loss curve; `ulps` scales every initial weight by (1 + ulps·2⁻²³), a float32-sized nudge. */
    const curve = (ulps = 0) => {
      const model = buildModel(arch, size, 5);
      if (ulps)
        for (const p of model.params()) p.variable.assign(tf.tidy(() => tf.mul(p.variable, 1 + ulps * 2 ** -23)));
      const session = new TrainingSession(model, new LmSource(text, 4, 32, 5), {
        optimizer: { ...DEFAULT_OPTIMIZER, learningRate: 3e-3 },
        schedule: { kind: 'constant', warmupSteps: 0, minRatio: 1 },
        totalSteps: 50,
      });
      const losses = Array.from({ length: 50 }, () => session.trainStep().loss);
      session.dispose();
      model.dispose();
      return losses;
    };
    const fused = curve();
    const composed = unfused(() => curve());
    const apart = (a: number[], b: number[]) => Math.max(...a.map((l, i) => Math.abs(l - b[i]!)));
    const worst = apart(fused, composed);
    // Float32 noise, measured: how far the composed run itself moves when its initial weights move by an
    // ulp or two (training amplifies rounding; at this rate 50 steps turn it into ~1e-4 to ~3e-3).
    const noise = Math.max(
      ...[1, -1, 2].map((ulps) =>
        apart(
          composed,
          unfused(() => curve(ulps)),
        ),
      ),
    );
    assert.ok(fused[49]! < fused[0]! - 0.5, `it learns: ${fused[0]} → ${fused[49]}`);
    assert.ok(
      worst < Math.max(2e-3, 2 * noise),
      `largest loss difference over 50 steps ${worst}; float32 noise ${noise}`,
    );
  });
