// A control for latency tests: one idle Node process per CPU, pinned there, whose 1 ms timer reports every
// moment it could not run. On a virtual machine a virtual CPU is sometimes held for tens of milliseconds (on
// the 2-core CI machine a probe beside two plain SCHED_IDLE spin loops has seen 102 ms, and during such holds
// a system-wide perf sampling at 1 kHz records no sample on that CPU: the guest was not running); every thread
// on that CPU waits alike, so a latency test subtracts the hold a call overlapped before judging the server.
// The probes run real-time (SCHED_FIFO, where permitted): then no thread of the guest's, floe's included, can
// delay them, only the machine itself.
import { spawn, spawnSync } from 'node:child_process';
import { createInterface } from 'node:readline';
import { cpus } from 'node:os';

/** A stretch of wall-clock time (epoch milliseconds) during which the probe's timer could not fire. */
export interface Stall {
  from: number;
  to: number;
  /** The CPU the probe that saw it was pinned to, if any. */
  cpu?: number;
}

/** One probe or several: how they run, and how to stop them. */
export interface StallProbes {
  /** 'realtime' when they run SCHED_FIFO; 'normal' where that was not permitted (then floe's threads can hold them too). */
  priority: 'realtime' | 'normal';
  /** Stops the probes; resolves with every stall longer than the threshold they saw. */
  stop(): Promise<Stall[]>;
}

export interface StallProbe extends StallProbes {
  /** The probe's process id. */
  pid: number;
}

let realtimePermitted: boolean | undefined;

// Runs in the child. Allocates nothing per tick, so its own garbage collection cannot pass for a stall.
const probeSource = (thresholdMs: number) => `
const { performance } = require('node:perf_hooks');
const origin = performance.timeOrigin;
let last = performance.now();
let ready = false;
setInterval(() => {
  const now = performance.now();
  if (!ready) { ready = true; process.stdout.write('ready\\n'); }
  else if (now - last > 1 + ${thresholdMs}) process.stdout.write((origin + last + 1).toFixed(3) + ' ' + (origin + now).toFixed(3) + '\\n');
  last = now;
}, 1);
process.stdin.on('end', () => process.exit(0)).resume();
`;

/** Starts one probe; it reports stalls longer than `thresholdMs` (default 2 ms), pinned to `cpu` if given. */
export async function startStallProbe(opts: { thresholdMs?: number; cpu?: number } = {}): Promise<StallProbe> {
  const realtime = (realtimePermitted ??= spawnSync('chrt', ['-f', '10', 'true']).status === 0);
  let command = [process.execPath, '-e', probeSource(opts.thresholdMs ?? 2)];
  if (opts.cpu !== undefined) command = ['taskset', '-c', String(opts.cpu), ...command];
  if (realtime) command = ['chrt', '-f', '10', ...command];
  const child = spawn(command[0]!, command.slice(1), { stdio: ['pipe', 'pipe', 'inherit'] });
  const stalls: Stall[] = [];
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  // Started and ticking: its own start-up (real-time, on a CPU of the machine under test) is over.
  await new Promise<void>((resolve, reject) => {
    createInterface({ input: child.stdout }).on('line', (line) => {
      if (line === 'ready') return resolve();
      const [from, to] = line.split(' ').map(Number);
      stalls.push({ from: from!, to: to!, cpu: opts.cpu });
    });
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`the stall probe exited with ${code} before it started`)));
  });
  return {
    pid: child.pid!,
    priority: realtime ? 'realtime' : 'normal',
    async stop() {
      child.stdin.end();
      await exited;
      return stalls;
    },
  };
}

/** A probe pinned to each CPU of this machine; `stop` resolves with all their stalls, each naming its CPU. */
export async function startCpuStallProbes(
  opts: { thresholdMs?: number } = {},
): Promise<StallProbes & { pids: number[] }> {
  const probes = await Promise.all(cpus().map((_, cpu) => startStallProbe({ ...opts, cpu })));
  return {
    pids: probes.map((p) => p.pid),
    priority: probes[0]!.priority,
    async stop() {
      return (await Promise.all(probes.map((p) => p.stop()))).flat();
    },
  };
}

/**
 * How much of [from, to] (epoch ms) the stalls cover; with stalls from several CPUs, the most any one CPU
 * was held (a call waits at most for the CPU its threads were on).
 */
export function stalledWithin(stalls: Stall[], from: number, to: number): number {
  const byCpu = new Map<number | undefined, number>();
  for (const s of stalls) {
    const overlap = Math.max(0, Math.min(to, s.to) - Math.max(from, s.from));
    byCpu.set(s.cpu, (byCpu.get(s.cpu) ?? 0) + overlap);
  }
  return Math.max(0, ...byCpu.values());
}
