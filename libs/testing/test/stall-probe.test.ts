import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpus } from 'node:os';
import { performance } from 'node:perf_hooks';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import {
  memoryDaemonThreads,
  startCpuStallProbes,
  startStallProbe,
  startThreadRunMonitor,
  stalledWithin,
} from '../src/index.js';

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
  // A hold and a kernel thread's stretch on one CPU that overlap count once.
  const overlapping = [
    { from: 0, to: 20, cpu: 0 },
    { from: 10, to: 30, cpu: 0, thread: 'kdamond' },
    { from: 12, to: 14, cpu: 0, thread: 'kdamond' },
  ];
  assert.equal(stalledWithin(overlapping, 0, 100), 30);
  assert.equal(stalledWithin(overlapping, 25, 100), 5);
});

test('the thread monitor reports the stretches a thread ran, as long as its CPU time', async () => {
  const spinner = spawn(process.execPath, ['-e', 'const end = Date.now() + 600; while (Date.now() < end);']);
  const ran = () => Number(readFileSync(`/proc/${spinner.pid}/schedstat`, 'latin1').split(' ')[0]) / 1e6;
  const monitor = await startThreadRunMonitor([{ pid: spinner.pid!, name: 'spinner' }]);
  const from = performance.timeOrigin + performance.now();
  const ranBefore = ran();
  let ranAfter = ranBefore;
  await new Promise<void>((resolve) => {
    const poll = setInterval(() => {
      try {
        ranAfter = ran();
      } catch {
        clearInterval(poll); // it exited
        resolve();
      }
    }, 5);
  });
  const to = performance.timeOrigin + performance.now();
  await new Promise((r) => setTimeout(r, 20));
  const stalls = await monitor.stop();
  assert.ok(stalls.length > 0 && stalls.every((s) => s.thread === 'spinner' && s.from < s.to));
  // Whatever CPU it was on: the time covered is the CPU time it had while watched (a scheduler tick either way).
  const seen = stalledWithin(
    stalls.map((s) => ({ ...s, cpu: undefined })),
    from - 10,
    to + 10,
  );
  const expected = ranAfter - ranBefore;
  assert.ok(expected > 100, `the spinner ran ${expected.toFixed(0)} ms while watched`);
  assert.ok(Math.abs(seen - expected) < 15, `saw ${seen.toFixed(0)} ms of ${expected.toFixed(0)} ms it ran`);
});

test("the machine's memory daemons are kernel threads with the names the probes follow", () => {
  for (const t of memoryDaemonThreads()) {
    assert.match(t.name, /^(kdamond|kswapd|kcompactd|khugepaged|ksmd)/);
    assert.equal(readFileSync(`/proc/${t.pid}/stat`, 'latin1').split(') ')[1]!.split(' ')[1], '2');
  }
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
