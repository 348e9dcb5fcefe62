// A control for latency tests: one idle Node process per CPU, pinned there, whose 1 ms timer reports every
// moment it could not run. On a virtual machine a virtual CPU is sometimes held for tens of milliseconds (on
// the 2-core CI machine a probe beside two plain SCHED_IDLE spin loops has seen 102 ms, and during such holds
// a system-wide perf sampling at 1 kHz records no sample on that CPU: the guest was not running); every thread
// on that CPU waits alike, so a latency test subtracts the hold a call overlapped before judging the server.
// The probes run real-time (SCHED_FIFO, where permitted): then no thread of the guest's, floe's included, can
// delay them, only the machine itself.
// A real-time probe cannot see the guest kernel's own memory daemons, which run at normal priority: on these
// machines DAMON proactive reclaim (kdamond, a pageout scheme with a 50 ms-a-second quota) takes a CPU in
// bursts of up to ~45 ms, and a server thread on that CPU shares it. So the probes also follow those kernel
// threads' run time (/proc schedstat, every millisecond) and report each stretch they ran as the CPU held.
import { spawn, spawnSync } from 'node:child_process';
import { createInterface } from 'node:readline';
import { cpus } from 'node:os';
import { readdirSync, readFileSync } from 'node:fs';

/** A stretch of wall-clock time (epoch milliseconds) during which the probe's timer could not fire. */
export interface Stall {
  from: number;
  to: number;
  /** The CPU the probe that saw it was pinned to (or the kernel thread ran on), if any. */
  cpu?: number;
  /** Set when a kernel thread of the machine ran, not a hold: its name (kdamond, kswapd0, ...). */
  thread?: string;
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
export function startStallProbe(opts: { thresholdMs?: number; cpu?: number } = {}): Promise<StallProbe> {
  return startRealtimeChild(probeSource(opts.thresholdMs ?? 2), 'the stall probe', opts.cpu, (line) => {
    const [from, to] = line.split(' ').map(Number);
    return { from: from!, to: to!, cpu: opts.cpu };
  });
}

/**
 * Runs `source` in a Node child, real-time where permitted and pinned to `cpu` if given, and collects a stall
 * from each line it prints; resolves once it printed 'ready' (its own start-up, on a CPU of the machine under
 * test, is over).
 */
async function startRealtimeChild(
  source: string,
  what: string,
  cpu: number | undefined,
  parse: (line: string) => Stall,
): Promise<StallProbe> {
  const realtime = (realtimePermitted ??= spawnSync('chrt', ['-f', '10', 'true']).status === 0);
  let command = [process.execPath, '-e', source];
  if (cpu !== undefined) command = ['taskset', '-c', String(cpu), ...command];
  if (realtime) command = ['chrt', '-f', '10', ...command];
  const child = spawn(command[0]!, command.slice(1), { stdio: ['pipe', 'pipe', 'inherit'] });
  const stalls: Stall[] = [];
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    createInterface({ input: child.stdout }).on('line', (line) => {
      if (line === 'ready') return resolve();
      stalls.push(parse(line));
    });
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`${what} exited with ${code} before it started`)));
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

/**
 * A probe pinned to each CPU of this machine, and a monitor of the machine's memory-management kernel threads;
 * `stop` resolves with all their stalls, each naming its CPU.
 */
export async function startCpuStallProbes(
  opts: { thresholdMs?: number } = {},
): Promise<StallProbes & { pids: number[] }> {
  const probes = await Promise.all(cpus().map((_, cpu) => startStallProbe({ ...opts, cpu })));
  const daemons = memoryDaemonThreads();
  const monitor = daemons.length ? await startThreadRunMonitor(daemons) : undefined;
  return {
    pids: probes.map((p) => p.pid),
    priority: probes[0]!.priority,
    async stop() {
      return [...(await Promise.all(probes.map((p) => p.stop()))).flat(), ...((await monitor?.stop()) ?? [])];
    },
  };
}

// The guest kernel's memory daemons: reclaim (DAMON, kswapd), compaction, huge pages, same-page merging.
const MEMORY_DAEMON = /^(kdamond|kswapd|kcompactd|khugepaged|ksmd)/;

/** The kernel threads (children of kthreadd, pid 2) that manage memory, with their names; none off Linux. */
export function memoryDaemonThreads(): { pid: number; name: string }[] {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return [];
  }
  const found: { pid: number; name: string }[] = [];
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const parent = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (parent === 2 && MEMORY_DAEMON.test(name)) found.push({ pid: Number(entry), name });
    } catch {
      // the process ended between the listing and the read
    }
  }
  return found;
}

// Runs in the child: every millisecond, each thread's time on a CPU (schedstat, ns) and the CPU it last ran
// on; a thread that ran since the last tick is reported as a stretch that long on that CPU, ending now. The
// kernel updates a running thread's time at its scheduler ticks, so a report can cover more than the last
// millisecond; a stretch then starts where the thread's previous one ended, keeping the total exact.
const monitorSource = (threads: { pid: number; name: string }[]) => `
const { readFileSync } = require('node:fs');
const { performance } = require('node:perf_hooks');
const threads = ${JSON.stringify(threads)};
const origin = performance.timeOrigin;
const ran = (pid) => { try { return Number(readFileSync('/proc/' + pid + '/schedstat', 'latin1').split(' ')[0]) / 1e6; } catch { return NaN; } };
const cpuOf = (pid) => { try { const s = readFileSync('/proc/' + pid + '/stat', 'latin1'); return Number(s.slice(s.lastIndexOf(')') + 2).split(' ')[36]); } catch { return -1; } };
const before = threads.map((t) => ran(t.pid));
const ended = threads.map(() => 0);
let ready = false;
setInterval(() => {
  const now = performance.now();
  if (!ready) { ready = true; process.stdout.write('ready\\n'); }
  threads.forEach((t, i) => {
    const total = ran(t.pid);
    const ms = total - before[i];
    before[i] = total;
    if (!(ms > 0.05)) return;
    const start = Math.max(now - ms, ended[i]);
    ended[i] = start + ms;
    process.stdout.write((origin + start).toFixed(3) + ' ' + (origin + start + ms).toFixed(3) + ' ' + cpuOf(t.pid) + ' ' + t.name + '\\n');
  });
}, 1);
process.stdin.on('end', () => process.exit(0)).resume();
`;

/**
 * Follows the run time of the given threads (any pids; in tests, the machine's kernel threads): `stop`
 * resolves with each stretch one of them ran, on the CPU it ran on, named after the thread.
 */
export function startThreadRunMonitor(threads: { pid: number; name: string }[]): Promise<StallProbe> {
  return startRealtimeChild(monitorSource(threads), 'the thread monitor', undefined, (line) => {
    const [from, to, cpu, thread] = line.split(' ');
    return { from: Number(from), to: Number(to), cpu: Number(cpu) >= 0 ? Number(cpu) : undefined, thread };
  });
}

/**
 * How much of [from, to] (epoch ms) the stalls cover; with stalls from several CPUs, the most any one CPU
 * was held (a call waits at most for the CPU its threads were on). Stalls of one CPU that overlap (a hold
 * and a kernel thread's stretch) count once.
 */
export function stalledWithin(stalls: Stall[], from: number, to: number): number {
  const byCpu = new Map<number | undefined, [number, number][]>();
  for (const s of stalls) {
    const a = Math.max(from, s.from);
    const b = Math.min(to, s.to);
    if (b <= a) continue;
    const spans = byCpu.get(s.cpu) ?? [];
    spans.push([a, b]);
    byCpu.set(s.cpu, spans);
  }
  let most = 0;
  for (const spans of byCpu.values()) {
    spans.sort((x, y) => x[0] - y[0]);
    let covered = 0;
    let end = -Infinity;
    for (const [a, b] of spans) {
      if (b <= end) continue;
      covered += b - Math.max(a, end);
      end = b;
    }
    most = Math.max(most, covered);
  }
  return most;
}
