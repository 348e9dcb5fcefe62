// The native kernels against the cpu backend: random shapes including odd sizes, every transpose
// combination, batches and batch broadcasting; values and gradients; on every instruction-set path.
// Tolerance as for the wasm pack: |native − cpu| ≤ 1e-4 · (1 + max|cpu|).
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { availableParallelism } from 'node:os';
import * as tf from '@tensorflow/tfjs-core';
import { native } from '@floe/native';
import { Rng } from '@floe/random';
import { initBackend } from '../src/index.js';
import { randomValues, sameOnCpuAndWasm } from './compare.js';

const TOL = 1e-4;
const rng = new Rng(21);
const skip = native ? false : 'the native addon was not built (FLOE_NATIVE=0)';

before(async () => {
  if (native) await initBackend('native');
});

const rand = (shape: number[]) => randomValues(rng, shape);

/** The same computation on cpu and on wasm with the native kernels, from the same random inputs. */
async function compare(name: string, shapes: number[][], f: (...xs: tf.Tensor[]) => tf.Tensor[]) {
  await sameOnCpuAndWasm(
    name,
    shapes.map((shape) => ({ shape, values: rand(shape) })),
    f,
    TOL,
  );
}

const CASES: [number[], number[], boolean, boolean][] = [
  [[1, 1], [1, 1], false, false],
  [[7, 5], [5, 3], false, false],
  [[5, 7], [5, 3], true, false],
  [[7, 5], [3, 5], false, true],
  [[5, 7], [3, 5], true, true],
  [[33, 17], [17, 65], false, false],
  [[3, 31, 45], [3, 45, 9], false, false],
  [[3, 45, 31], [3, 9, 45], true, true],
  [[2, 3, 13, 37], [37, 41], false, false],
  [[2, 3, 37, 13], [41, 37], true, true],
  [[13, 37], [4, 37, 6], false, false],
  [[130, 257], [97, 257], false, true],
];

for (const isa of ['avx512', 'avx2', 'portable'] as const) {
  test(`native BatchMatMul (${isa}): values and gradients match cpu`, { skip }, async () => {
    const used = native!.forceIsa(isa);
    try {
      for (const [sa, sb, ta, tb] of CASES) {
        const broadcast = sa.length !== sb.length;
        await compare(`${used} ${sa}×${sb} ${ta}/${tb}`, [sa, sb], (a, b) => {
          if (broadcast) return [tf.matMul(a!, b!, ta, tb)];
          const g = tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.square(tf.matMul(x, y, ta, tb))));
          return [tf.matMul(a!, b!, ta, tb), ...g([a!, b!])];
        });
      }
    } finally {
      native!.forceIsa('avx512');
    }
  });
}

test('native sgemm: alpha, beta, strides and bounds checks', { skip }, () => {
  const n = native!;
  const a = Float32Array.from({ length: 6 }, (_, i) => i + 1); // 2×3
  const b = Float32Array.from({ length: 6 }, (_, i) => i - 2); // 3×2
  const c = new Float32Array([1, 1, 1, 1]);
  n.sgemmBatched(1, false, false, 2, 2, 3, 2, a, 0, 3, b, 0, 2, 0.5, c, 0, 2);
  // A·B = [[4, 10], [4, 19]] → 2·AB + 0.5·1
  assert.deepEqual([...c], [8.5, 20.5, 8.5, 38.5]);
  // beta = 0 ignores what C held (NaN included), with edge tiles and more than one K panel (K > 256);
  // beta = 1 adds to it. Checked against a plain triple loop.
  const [M, N, K] = [13, 37, 300];
  const x = rand([M, K]);
  const y = rand([K, N]);
  const want = new Float32Array(M * N);
  for (let i = 0; i < M; i++)
    for (let j = 0; j < N; j++) {
      let sum = 0;
      for (let k = 0; k < K; k++) sum += x[i * K + k]! * y[k * N + j]!;
      want[i * N + j] = sum;
    }
  const stale = new Float32Array(M * N).fill(NaN);
  n.sgemmBatched(1, false, false, M, N, K, 1, x, 0, K, y, 0, N, 0, stale, 0, N);
  stale.forEach((v, i) => assert.ok(Math.abs(v - want[i]!) < 1e-3, `beta 0: C[${i}] = ${v}, want ${want[i]}`));
  const ones = new Float32Array(M * N).fill(1);
  n.sgemmBatched(1, false, false, M, N, K, 1, x, 0, K, y, 0, N, 1, ones, 0, N);
  ones.forEach((v, i) => assert.ok(Math.abs(v - 1 - want[i]!) < 1e-3, `beta 1: C[${i}]`));
  assert.throws(() => n.sgemmBatched(1, false, false, 3, 2, 3, 1, a, 0, 3, b, 0, 2, 0, c, 0, 2), /exceed/);
  assert.throws(() => n.sgemmBatched(2, false, false, 2, 2, 3, 1, a, 6, 3, b, 0, 2, 0, c, 4, 2), /exceed/);
});

test('thread count is configurable and results do not depend on it', { skip }, () => {
  const n = native!;
  const before = n.threads();
  const a = rand([300, 200]);
  const b = rand([200, 170]);
  const out = (threads: number) => {
    n.setThreads(threads);
    const c = new Float32Array(300 * 170);
    n.sgemmBatched(1, false, false, 300, 170, 200, 1, a, 0, 200, b, 0, 170, 0, c, 0, 170);
    return c;
  };
  assert.deepEqual(out(1), out(3));
  // A bias gradient's sum over 100,000 rows: blocks the shape decides, whatever the threads.
  const rows = rand([100_000, 7]);
  const sums = (threads: number) => {
    n.setThreads(threads);
    const s = new Float32Array(7);
    n.sumLeading(rows, s);
    return s;
  };
  assert.deepEqual(sums(1), sums(3));
  n.setThreads(before);
  assert.equal(n.threads(), before);
});

test(
  'tasks go to whichever kernel thread claims them: with every core busy elsewhere, none is skipped or run twice, and the results equal a fixed assignment',
  { skip, timeout: 120_000 },
  async () => {
    const n = native!;
    const before = n.threads();
    // More kernel threads than cores, and the cores busy: threads are descheduled mid-call, so tasks change
    // hands between the caller and the workers all the time.
    n.setThreads(4);
    const busy = Array.from({ length: availableParallelism() }, () =>
      spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' }),
    );
    try {
      const a = rand([48, 40]);
      const b = rand([40, 56]);
      const small = rand([6, 12, 12]);
      const smallB = rand([6, 12, 12]);
      // C += A·B again and again (beta 1): a task skipped or run twice in any call changes C for good. One
      // product splits over the threads (row blocks), the batch of small ones is dealt one product per task.
      const accumulate = (staticSchedule: boolean) => {
        n.setStaticSchedule(staticSchedule);
        const c = new Float32Array(48 * 56);
        const cs = new Float32Array(6 * 12 * 12);
        for (let i = 0; i < 400; i++) {
          n.sgemmBatched(1, false, false, 48, 56, 40, 1, a, 0, 40, b, 0, 56, 1, c, 0, 56);
          n.sgemmBatched(6, false, false, 12, 12, 12, 1, small, 144, 12, smallB, 144, 12, 1, cs, 144, 12);
        }
        return [c, cs];
      };
      const fixed = accumulate(true);
      const claimed = accumulate(false);
      assert.deepEqual(claimed, fixed);
      // And against one product done once, times 400 (each element's sum of 400 equal terms, to rounding).
      const once = new Float32Array(48 * 56);
      n.sgemmBatched(1, false, false, 48, 56, 40, 1, a, 0, 40, b, 0, 56, 0, once, 0, 56);
      for (let i = 0; i < once.length; i++)
        assert.ok(Math.abs(claimed[0]![i]! - 400 * once[i]!) <= 1e-3 * (1 + Math.abs(400 * once[i]!)), `element ${i}`);
    } finally {
      for (const p of busy) p.kill('SIGKILL');
      n.setStaticSchedule(false);
      n.setThreads(before);
    }
  },
);

test('native Conv2D, both backprops and MaxPoolGrad: values and gradients match cpu', { skip }, async () => {
  const cases: [number[], number[], number, 'valid' | 'same'][] = [
    [[2, 9, 9, 3], [5, 5, 3, 4], 1, 'valid'],
    [[3, 8, 7, 2], [3, 3, 2, 5], 2, 'same'],
    [[1, 11, 10, 1], [4, 2, 1, 3], 3, 'same'],
    [[4, 12, 12, 20], [5, 5, 20, 50], 1, 'valid'],
    // More filters than a window holds (K 9 < O 16): the filter gradient's other product order.
    [[2, 6, 6, 1], [3, 3, 1, 16], 1, 'same'],
  ];
  // 2×2 pooling that tiles the image, as LeNet's, of whole numbers: windows with tied maxima, whose gradient
  // goes to the first of them.
  await compare('2×2 pooling that tiles the image, with ties', [[3, 8, 6, 5]], (x) => {
    const f = (a: tf.Tensor) => tf.maxPool(a as tf.Tensor4D, 2, 2, 'valid');
    const tied = tf.round(x!);
    return [f(tied), tf.grad((a: tf.Tensor) => tf.sum(tf.mul(f(a), tf.range(1, 181).reshape([3, 4, 3, 5]))))(tied)];
  });
  for (const [xs, ws, stride, pad] of cases) {
    await compare(`conv2d ${xs} ${ws} s${stride} ${pad}`, [xs, ws], (x, w) => {
      const f = (a: tf.Tensor, b: tf.Tensor) =>
        tf.maxPool(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, stride, pad), 2, 2, 'same');
      const g = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.square(f(a, b))));
      return [f(x!, w!), ...g([x!, w!])];
    });
  }
});

test(
  'native Sum over leading axes and bias Add: values and gradients match cpu; other cases fall back',
  { skip },
  async () => {
    const cases: [number[], number[]][] = [
      [[64, 24, 24, 20], [20]],
      [
        [3, 5, 7],
        [1, 7],
      ],
      [[300, 1], [1]],
      [[2, 3], [3]],
    ];
    for (const [xs, bs] of cases) {
      await compare(`bias ${xs} + ${bs}`, [xs, bs], (x, b) => {
        const f = (a: tf.Tensor, c: tf.Tensor) => tf.relu(tf.add(a, c));
        const g = tf.grads((a: tf.Tensor, c: tf.Tensor) => tf.sum(tf.square(f(a, c))));
        return [f(x!, b!), tf.add(b!, x!), ...g([x!, b!])];
      });
    }
    // Sums the native kernel takes (leading axes, keepDims or not) and those it leaves to wasm (inner or
    // scattered axes, all axes, int32), and additions it leaves (same shapes, two broadcasts).
    await compare('sums', [[4, 6, 5, 3]], (x) => [
      tf.sum(x!, 0),
      tf.sum(x!, [0, 1, 2]),
      tf.sum(x!, [1, 0], true),
      tf.sum(x!, [1, 3]),
      tf.sum(x!, -1),
      tf.sum(x!),
      tf.sum(tf.cast(tf.mul(x!, 10), 'int32'), [0, 1]).toFloat(),
      tf.add(x!, x!),
      tf.add(x!, tf.ones([6, 1, 3])),
    ]);
  },
);

test(
  'native Transpose: ranks 2–5, size-1 axes, every kind of permutation; values and gradients',
  { skip },
  async () => {
    const cases: [number[], number[]][] = [
      [
        [7, 5],
        [1, 0],
      ],
      [
        [3, 1, 4],
        [2, 0, 1],
      ],
      [
        [2, 3, 4, 5],
        [0, 2, 1, 3],
      ],
      [
        [2, 3, 4, 5],
        [3, 2, 1, 0],
      ],
      [
        [16, 9, 3, 4, 6],
        [2, 0, 3, 1, 4],
      ],
      [
        [4, 6, 5],
        [0, 1, 2],
      ],
    ];
    for (const [shape, perm] of cases) {
      const w = rand(perm.map((p) => shape[p]!));
      await compare(`transpose ${shape} ${perm}`, [shape], (x) => {
        const wt = tf.tensor(
          w,
          perm.map((p) => shape[p]!),
        );
        return [tf.transpose(x!, perm), tf.grad((z: tf.Tensor) => tf.sum(tf.mul(tf.transpose(z, perm), wt)))(x!)];
      });
    }
  },
);

test(
  'Unpack as block copies: every axis, size-1 axes and int32; values and gradients match cpu',
  { skip },
  async () => {
    for (const [shape, axis] of [
      [[3, 2, 4, 5, 6], 0],
      [[3, 2, 4, 5, 6], 2],
      [[3, 2, 4, 5, 6], -1],
      [[1, 7, 1], 1],
      [[4], 0],
    ] as [number[], number][]) {
      await compare(`unstack ${shape} axis ${axis}`, [shape], (x) => {
        const parts = tf.unstack(x!, axis);
        const weights = parts.map((_, i) => i + 1);
        const g = tf.grad((a: tf.Tensor) => tf.addN(tf.unstack(a, axis).map((p, i) => tf.sum(tf.mul(p, weights[i]!)))));
        return [...parts, g(x!)];
      });
    }
    await sameOnCpuAndWasm(
      'unstack int32',
      [{ shape: [2, 3, 4], values: Int32Array.from({ length: 24 }, (_, i) => i * 7 - 50), dtype: 'int32' }],
      (x) => tf.unstack(x!, 1),
      0,
    );
  },
);

test(
  'Identity shares its input data, and each tensor stays readable after the other is disposed',
  { skip },
  async () => {
    await tf.setBackend('wasm');
    const x = tf.tensor([1, 2, 3, 4], [2, 2]);
    const y = tf.clone(x);
    x.dispose();
    assert.deepEqual(Array.from(y.dataSync()), [1, 2, 3, 4]);
    const z = tf.clone(y);
    y.dispose();
    assert.deepEqual(Array.from(tf.add(z, 1).dataSync()), [2, 3, 4, 5]);
    z.dispose();
  },
);

test(
  'GatherV2 along axis 0 as row copies: values and gradients match cpu; other axes still work',
  { skip },
  async () => {
    const table = { shape: [11, 3, 4], values: rand([11, 3, 4]) };
    const indices = {
      shape: [2, 5],
      values: Int32Array.from([0, 10, 3, 3, 7, 1, 0, 9, 2, 5]),
      dtype: 'int32' as const,
    };
    await sameOnCpuAndWasm(
      'gather rows',
      [table, indices],
      (x, i) => {
        const g = tf.grad((a: tf.Tensor) => tf.sum(tf.square(tf.gather(a, i!))))(x!);
        return [tf.gather(x!, i!), g, tf.gather(x!, tf.tensor1d([2, 0], 'int32'), 2)];
      },
      TOL,
    );
  },
);

test('SplitV as block copies: sizes, -1, every axis and int32; values and gradients match cpu', { skip }, async () => {
  for (const [shape, splits, axis] of [
    [[2, 3, 10], [4, 6], -1],
    [[2, 3, 10], [3, -1, 2], 2],
    [[4, 6, 5], 2, 1],
    [[6, 2], [1, 5], 0],
  ] as [number[], number | number[], number][]) {
    await compare(`split ${shape} ${splits} axis ${axis}`, [shape], (x) => {
      const parts = tf.split(x!, splits, axis);
      const g = tf.grad((a: tf.Tensor) =>
        tf.addN(tf.split(a, splits, axis).map((p, i) => tf.sum(tf.mul(tf.square(p), i + 1)))),
      )(x!);
      return [...parts, g];
    });
  }
  await sameOnCpuAndWasm(
    'split int32',
    [{ shape: [3, 4], values: Int32Array.from({ length: 12 }, (_, i) => i - 6), dtype: 'int32' }],
    (x) => tf.split(x!, [1, 3], 1),
    0,
  );
});
