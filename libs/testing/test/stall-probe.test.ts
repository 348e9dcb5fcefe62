import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpus } from 'node:os';
import { performance } from 'node:perf_hooks';
import { startCpuStallProbes, startStallProbe, stalledWithin } from '../src/index.js';

test('stalledWithin counts only the part of each stall inside the window', () => {
  const stalls = [
    { from: 100, to: 110 },
    { from: 120, to: 150 },
    { from: 200, to: 205 },
  ];
  assert.equal(stalledWithin(stalls, 0, 1000), 45);
  assert.equal(stalledWithin(stalls, 105, 130), 5 + 10);
  assert.equal(stalledWithin(stalls, 150, 200), 0);
  assert.equal(stalledWithin([], 0, 10), 0);
  // Two CPUs: the most one of them was held, not the sum.
  const twoCpus = [
    { from: 0, to: 30, cpu: 0 },
    { from: 10, to: 20, cpu: 1 },
    { from: 25, to: 45, cpu: 1 },
  ];
  assert.equal(stalledWithin(twoCpus, 0, 100), 30);
  assert.equal(stalledWithin(twoCpus, 15, 40), 20);
});

test('a probe per CPU: holding one of them shows as that CPU held', async () => {
  const probes = await startCpuStallProbes();
  assert.equal(probes.pids.length, cpus().length);
  await new Promise((r) => setTimeout(r, 300));
  const from = performance.timeOrigin + performance.now();
  process.kill(probes.pids.at(-1)!, 'SIGSTOP');
  await new Promise((r) => setTimeout(r, 60));
  process.kill(probes.pids.at(-1)!, 'SIGCONT');
  const to = performance.timeOrigin + performance.now();
  await new Promise((r) => setTimeout(r, 50));
  const stalls = await probes.stop();
  const held = stalls.filter((s) => s.cpu === probes.pids.length - 1);
  assert.ok(stalledWithin(held, from - 5, to + 5) >= 50, JSON.stringify(stalls));
  assert.ok(stalledWithin(stalls, from - 5, to + 5) >= 50);
});

test('the probe reports a stall it was held for (SIGSTOP for 60 ms), and its timing', async () => {
  const probe = await startStallProbe();
  await new Promise((r) => setTimeout(r, 300)); // let it start ticking
  const from = performance.timeOrigin + performance.now();
  process.kill(probe.pid, 'SIGSTOP');
  await new Promise((r) => setTimeout(r, 60));
  process.kill(probe.pid, 'SIGCONT');
  const to = performance.timeOrigin + performance.now();
  await new Promise((r) => setTimeout(r, 50));
  const stalls = await probe.stop();
  const held = stalledWithin(stalls, from - 5, to + 5);
  assert.ok(held >= 50, `the probe saw ${held.toFixed(1)} ms of a 60 ms hold (${JSON.stringify(stalls)})`);
  assert.ok(held <= to - from + 10, `the probe saw ${held.toFixed(1)} ms, more than the hold lasted`);
});
