// npm run bench:ml [-- --json] [-- --quick] [-- --rounds 3] [-- --no-torch]
// Training step times (forward + backward + AdamW) of the transformer LM of ../shared/anchors/torch_step.py,
// the Mamba LM and LeNet-5, on four columns measured in this one process:
//   cpu        — TF.js's cpu backend;
//   stock_wasm — stock wasm; a kernel it lacks runs the cpu kernel on data copied out of wasm and back;
//   wasm       — wasm with floe's kernel pack;
//   native     — floe's native kernels (libs/native) on the wasm backend, when the addon was built;
//   native_unfused — the same without the fused kernels (useFusedKernels(false)): the path before them.
// Plus the plain wasm matMul peak at 1024³ and the transformer's utilisation of it, the native SGEMM at
// 1024³, each step's profile (time inside kernels, by kernel, and between them), and — when Debian's
// python3-torch is installed — PyTorch beside them: apps/bench/py/torch_peers.py (the three LMs and LeNet-5,
// same shapes and optimizer, each at PyTorch's faster thread count) and ../shared/anchors/torch_step.py
// (LeNet-5 at its default threads, matMul); then `--rounds N` (default 3) rounds alternating each model's native
// step with PyTorch's, the ratio read within each round.
import * as tf from '@tensorflow/tfjs-core';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import {
  initBackend,
  registerCpuFallbacks,
  useNativeKernels,
  useFusedKernels,
  useWasmKernelSet,
  WASM_PACK_KERNELS,
} from '@floe/ml-runtime';
import { native } from '@floe/native';
import { buildModel, type BlockModel } from '@floe/models';
import { loadBuiltin, selectSplit, type ImageDataset, type TextDataset } from '@floe/data';
import { DEFAULT_OPTIMIZER, ExampleSource, LmSource, TrainingSession, type BatchSource } from '@floe/training';

const json = process.argv.includes('--json');
const argValue = (name: string) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
};
const quick = process.argv.includes('--quick');
const log = (s: string) => process.stderr.write(s + '\n');

// 6·(dense params incl. tied head)·tokens + 12·L·T²·d·B, the formula of torch_step.py.
const TRANSFORMER_GFLOP = 42.68;

interface ModelCase {
  key: 'transformer' | 'transformer_small' | 'mamba' | 'lenet5';
  build: () => BlockModel;
  source: () => BatchSource;
}

const text = () => selectSplit(loadBuiltin('spam-assassin') as TextDataset, 'train', 2000);
const cases: ModelCase[] = [
  {
    key: 'transformer',
    build: () => buildModel('transformer-lm', 'bench', 0),
    source: () => new LmSource(text(), 16, 128, 0),
  },
  {
    // The adaptation study's model and batch (bench:ade).
    key: 'transformer_small',
    build: () => buildModel('transformer-lm', 'small', 0),
    source: () => new LmSource(text(), 16, 128, 0),
  },
  { key: 'mamba', build: () => buildModel('mamba-lm', 'bench', 0), source: () => new LmSource(text(), 8, 64, 0) },
  {
    key: 'lenet5',
    build: () => buildModel('lenet5', 'caffe', 0),
    source: () => new ExampleSource(loadBuiltin('mnist') as ImageDataset, 64, 0),
  },
];

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function timeSteps(c: ModelCase, warm: number, timed: number): Promise<number> {
  const model = c.build();
  const session = new TrainingSession(model, c.source(), {
    optimizer: { ...DEFAULT_OPTIMIZER, learningRate: 1e-3 },
    schedule: { kind: 'constant', warmupSteps: 0, minRatio: 1 },
    totalSteps: 1000,
  });
  for (let i = 0; i < warm; i++) session.trainStep();
  const ms: number[] = [];
  for (let i = 0; i < timed; i++) ms.push(session.trainStep().ms);
  session.dispose();
  model.dispose();
  return median(ms);
}

function matmulGflops(n: number): number {
  const a = tf.randomNormal([n, n]);
  const b = tf.randomNormal([n, n]);
  // The tidy bodies return nothing: tidy walks whatever it returns, and a 1M-element array costs more
  // than the product.
  const once = () =>
    tf.tidy(() => {
      tf.matMul(a, b).dataSync();
    });
  for (let i = 0; i < 3; i++) once();
  const times: number[] = [];
  for (let i = 0; i < 7; i++) {
    const t0 = performance.now();
    once();
    times.push(performance.now() - t0);
  }
  tf.dispose([a, b]);
  return (2 * n ** 3) / median(times) / 1e6;
}

function nativeMatmulGflops(n: number): number {
  const a = new Float32Array(n * n).fill(0.5);
  const b = new Float32Array(n * n).fill(0.25);
  const c = new Float32Array(n * n);
  const once = () => native!.sgemmBatched(1, false, false, n, n, n, 1, a, 0, n, b, 0, n, 0, c, 0, n);
  for (let i = 0; i < 3; i++) once();
  const times: number[] = [];
  for (let i = 0; i < 9; i++) {
    const t0 = performance.now();
    once();
    times.push(performance.now() - t0);
  }
  return (2 * n ** 3) / median(times) / 1e6;
}

/** The last JSON line a Python script prints, if Debian's python3-torch is installed and the script runs. */
function runPython<T>(script: string, args: string[] = []): T | undefined {
  if (!existsSync(script) || !existsSync('/usr/bin/python3')) return undefined;
  try {
    const out = execFileSync('/usr/bin/python3', [script, ...args], {
      encoding: 'utf8',
      timeout: 900_000,
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    return JSON.parse(out.trim().split('\n').at(-1)!) as T;
  } catch {
    return undefined;
  }
}

/** The PyTorch anchor on this machine, now (LeNet-5, matMul; ../shared/anchors/torch_step.py). */
const torchAnchor = () =>
  runPython<Record<string, number | string>>(
    new URL('../../../../shared/anchors/torch_step.py', import.meta.url).pathname,
  );

/**
 * PyTorch peers of the three LMs and LeNet-5, same shapes and optimizer (apps/bench/py/torch_peers.py); `only`:
 * that model at that thread count.
 */
const torchPeers = (only?: { model: string; threads: number }) =>
  runPython<{ torch: string; threads: Record<string, number>; steps_ms: Record<string, number> }>(
    new URL('../py/torch_peers.py', import.meta.url).pathname,
    only ? [String(only.threads), '--models', only.model] : [],
  );

interface StepProfile {
  /** The step's wall time in the profile. */
  step_ms: number;
  /** Kernels launched by one step, and the time inside them. */
  kernels: number;
  kernel_ms: number;
  /** Everything else: op wrappers, tidy scopes, tensor bookkeeping, the gradient tape, reading results. */
  between_kernels_ms: number;
  top: { kernel: string; ms: number; calls: number; share: number }[];
}

/** One training step under tf.profile: time inside kernels (by kernel) and between them. */
async function profileStep(c: ModelCase): Promise<StepProfile> {
  const model = c.build();
  const session = new TrainingSession(model, c.source(), {
    optimizer: DEFAULT_OPTIMIZER,
    schedule: { kind: 'constant', warmupSteps: 0, minRatio: 1 },
    totalSteps: 100,
  });
  session.trainStep();
  session.trainStep();
  const t0 = performance.now();
  const info = await tf.profile(() => {
    session.trainStep();
  });
  const wall = performance.now() - t0;
  const byKernel = new Map<string, { ms: number; calls: number }>();
  for (const k of info.kernels) {
    const e = byKernel.get(k.name) ?? { ms: 0, calls: 0 };
    e.ms += Number(k.kernelTimeMs) || 0;
    e.calls++;
    byKernel.set(k.name, e);
  }
  // A customGrad op's own entry ("forward") contains the kernels it runs: count only the kernels.
  byKernel.delete('forward');
  const total = [...byKernel.values()].reduce((a, b) => a + b.ms, 0);
  session.dispose();
  model.dispose();
  return {
    step_ms: Math.round(wall),
    kernels: [...byKernel.values()].reduce((a, b) => a + b.calls, 0),
    kernel_ms: Math.round(total),
    between_kernels_ms: Math.round(Math.max(0, wall - total)),
    top: [...byKernel.entries()]
      .sort((a, b) => b[1].ms - a[1].ms)
      .slice(0, 8)
      .map(([kernel, e]) => ({
        kernel,
        ms: Math.round(e.ms),
        calls: e.calls,
        share: Math.round((1000 * e.ms) / total) / 1000,
      })),
  };
}

const backend = await initBackend(native ? 'native' : 'wasm');
useNativeKernels(false);
const peak = matmulGflops(1024);
log(`wasm matMul 1024³: ${peak.toFixed(1)} GFLOP/s`);
const nativePeak = native ? nativeMatmulGflops(1024) : undefined;
if (nativePeak)
  log(`native SGEMM 1024³: ${nativePeak.toFixed(1)} GFLOP/s (${native!.isa()}, ${native!.threads()} threads)`);

const steps: Record<string, Record<string, number>> = {};
for (const c of cases) {
  steps[c.key] = {};
  const isTransformer = c.key === 'transformer';
  if (native) {
    await tf.setBackend('wasm');
    useNativeKernels(true);
    // LeNet's step is short and varies by a few ms: timed as the PyTorch peers time theirs (3 warm-up steps,
    // the median of 10), where 5 steps left its median to the noise.
    const lenet = c.key === 'lenet5' && !quick;
    steps[c.key]!.native = await timeSteps(c, lenet ? 3 : 2, lenet ? 10 : quick ? 2 : 5);
    log(`${c.key} native: ${steps[c.key]!.native!.toFixed(0)} ms`);
    // The native path without the fused kernels: what it was before them.
    useFusedKernels(false);
    steps[c.key]!.native_unfused = await timeSteps(c, lenet ? 3 : 1, lenet ? 10 : quick ? 1 : 3);
    log(`${c.key} native without the fused kernels: ${steps[c.key]!.native_unfused!.toFixed(0)} ms`);
    useFusedKernels(true);
    useNativeKernels(false);
  }
  useWasmKernelSet('pack');
  await tf.setBackend('wasm');
  steps[c.key]!.wasm = await timeSteps(c, 2, quick ? 2 : 5);
  log(`${c.key} wasm (pack): ${steps[c.key]!.wasm!.toFixed(0)} ms`);

  useWasmKernelSet('stock');
  registerCpuFallbacks(WASM_PACK_KERNELS);
  steps[c.key]!.stock_wasm = await timeSteps(c, 1, isTransformer || quick ? 1 : 3);
  log(`${c.key} stock wasm: ${steps[c.key]!.stock_wasm!.toFixed(0)} ms`);
  for (const k of WASM_PACK_KERNELS) if (tf.getKernel(k, 'wasm')) tf.unregisterKernel(k, 'wasm');
  useWasmKernelSet('pack');

  await tf.setBackend('cpu');
  steps[c.key]!.cpu = await timeSteps(c, c.key === 'lenet5' ? 1 : 0, 1);
  log(`${c.key} cpu: ${steps[c.key]!.cpu!.toFixed(0)} ms`);
}

await tf.setBackend('wasm');
const profile = await profileStep(cases[0]!);
const nativeProfiles: Record<string, StepProfile> = {};
if (native) {
  useNativeKernels(true);
  for (const c of cases.filter((x) => x.key !== 'lenet5')) nativeProfiles[c.key] = await profileStep(c);
}
const withTorch = !process.argv.includes('--no-torch');
const torch = withTorch ? torchAnchor() : undefined;
if (torch) log(`PyTorch anchor: ${JSON.stringify(torch)}`);
// The peers run after floe's columns, alone on the machine, as floe's did.
const peers = withTorch ? torchPeers() : undefined;
if (peers) {
  log(`PyTorch peers: ${JSON.stringify(peers)}`);
  for (const [k, ms] of Object.entries(peers.steps_ms)) if (steps[k]) steps[k]!.pytorch = ms;
}
// Alternated rounds: each model's native step, then PyTorch's at its faster thread count, round after round, so
// that a neighbour's load on this shared machine lands on both sides of a ratio (the columns above run PyTorch
// minutes after floe). Each ratio is read within its round; their median is the figure.
const rounds = native && peers && !quick ? Number(argValue('--rounds') ?? 3) : 0;
const alternated: Record<string, { native_ms: number[]; pytorch_ms: number[]; ratios: number[] }> = {};
for (let r = 0; r < rounds; r++)
  for (const c of cases) {
    await tf.setBackend('wasm');
    useNativeKernels(true);
    const mine = await timeSteps(c, c.key === 'lenet5' ? 3 : 2, c.key === 'lenet5' ? 10 : 5);
    useNativeKernels(false);
    const theirs = torchPeers({ model: c.key, threads: peers!.threads[c.key] ?? 1 })?.steps_ms[c.key];
    if (theirs === undefined) continue;
    const a = (alternated[c.key] ??= { native_ms: [], pytorch_ms: [], ratios: [] });
    a.native_ms.push(mine);
    a.pytorch_ms.push(theirs);
    a.ratios.push(mine / theirs);
    log(
      `round ${r + 1}/${rounds} ${c.key}: native ${mine.toFixed(1)} ms, PyTorch ${theirs.toFixed(1)} ms (${(mine / theirs).toFixed(2)})`,
    );
  }
const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;
const result = {
  backend: 'wasm',
  peak_matmul_gflops: round(peak),
  steps_ms: Object.fromEntries(
    Object.entries(steps).map(([k, v]) => [k, Object.fromEntries(Object.entries(v).map(([c, ms]) => [c, round(ms)]))]),
  ),
  speedup_vs_stock_wasm: Object.fromEntries(
    Object.entries(steps).map(([k, v]) => [k, round(v.stock_wasm! / v.wasm!, 2)]),
  ),
  speedup_vs_cpu: Object.fromEntries(Object.entries(steps).map(([k, v]) => [k, round(v.cpu! / v.wasm!, 2)])),
  transformer_gflop_per_step: TRANSFORMER_GFLOP,
  transformer_achieved_gflops: round(TRANSFORMER_GFLOP / (steps.transformer!.wasm! / 1000)),
  utilisation: round(TRANSFORMER_GFLOP / (steps.transformer!.wasm! / 1000) / peak, 3),
  mamba_size: 'mamba-lm bench: d_model 128, 2 layers, d_state 16, expand 2; batch 8, sequence 64',
  transformer_profile: profile,
  ...(native
    ? {
        native_backend: backend.reason,
        native_matmul_gflops: round(nativePeak!),
        speedup_vs_wasm: Object.fromEntries(Object.entries(steps).map(([k, v]) => [k, round(v.wasm! / v.native!, 2)])),
        speedup_of_fused_kernels: Object.fromEntries(
          Object.entries(steps).map(([k, v]) => [k, round(v.native_unfused! / v.native!, 2)]),
        ),
        transformer_native_gflops: round(TRANSFORMER_GFLOP / (steps.transformer!.native! / 1000)),
        native_profiles: nativeProfiles,
      }
    : { native: `not available; the wasm columns stand alone` }),
  ...(torch ? { torch } : {}),
  ...(peers ? { torch_peers: { torch: peers.torch, threads: peers.threads } } : {}),
  // floe's native step time ÷ PyTorch's, side by side in this run (below 1: floe is faster).
  ...(native && (torch || peers)
    ? {
        native_vs_torch: Object.fromEntries([
          ...Object.entries(steps)
            .filter(([, v]) => v.pytorch)
            .map(([k, v]) => [k, round(v.native! / v.pytorch!, 2)]),
          ...(torch
            ? [
                // The anchor at its default threads (1 here), without clipping; the peers' lenet5 is the fair one.
                ['lenet5_vs_anchor', round(steps.lenet5!.native! / Number(torch.lenet5_step_ms_batch64), 2)],
                ['matmul_gflops_torch_over_native', round(Number(torch.matmul_gflops) / (nativePeak ?? NaN), 2)],
              ]
            : []),
        ]),
      }
    : {}),
  // The alternated rounds: floe's native step ÷ PyTorch's within each round, and their median.
  ...(rounds > 0
    ? {
        native_vs_torch_alternated: Object.fromEntries(
          Object.entries(alternated).map(([k, a]) => [
            k,
            {
              median_ratio: round(median(a.ratios), 2),
              ratios: a.ratios.map((x) => round(x, 2)),
              native_ms: a.native_ms.map((x) => round(x)),
              pytorch_ms: a.pytorch_ms.map((x) => round(x)),
            },
          ]),
        ),
      }
    : {}),
};
if (!json) {
  log('');
  for (const [k, v] of Object.entries(result.steps_ms))
    log(
      `${k.padEnd(18)} cpu ${String(v.cpu).padStart(9)} ms   stock_wasm ${String(v.stock_wasm).padStart(9)} ms   wasm ${String(v.wasm).padStart(8)} ms   native ${String(v.native ?? '-').padStart(8)} ms (unfused ${String(v.native_unfused ?? '-').padStart(6)})   pytorch ${String(v.pytorch ?? '-').padStart(8)} ms   ×${result.speedup_vs_stock_wasm[k]} vs stock, ×${result.speedup_vs_cpu[k]} vs cpu`,
    );
  log(
    `utilisation ${result.utilisation} (transformer ${result.transformer_achieved_gflops} GFLOP/s of ${result.peak_matmul_gflops} peak)`,
  );
  const describe = (p: StepProfile) =>
    `${p.step_ms} ms: ${p.kernels} kernels ${p.kernel_ms} ms, between kernels ${p.between_kernels_ms} ms; ` +
    p.top.map((k) => `${k.kernel} ${k.ms} ms ×${k.calls}`).join(', ');
  log(`wasm transformer step ${describe(profile)}`);
  for (const [k, p] of Object.entries(nativeProfiles)) log(`native ${k} step ${describe(p)}`);
  for (const [k, a] of Object.entries(result.native_vs_torch_alternated ?? {}))
    log(`${k.padEnd(18)} native ÷ PyTorch, alternated: median ${a.median_ratio} (rounds ${a.ratios.join(', ')})`);
}
process.stdout.write(JSON.stringify(result) + '\n');
