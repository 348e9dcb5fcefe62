// Compute yields to the event loop: a task's worker thread runs under SCHED_IDLE (Linux, native addon),
// and so do the native kernel pool's threads it uses, while the main thread keeps its normal policy;
// FLOE_COMPUTE_PRIORITY low / normal give nice 10 / the main thread's priority instead.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { native } from '@floe/native';
import { runTask } from '../src/index.js';

const SCHED_IDLE = 5;
const SCHED_OTHER = 0;
const policy = (stat: string) => Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[38]);

test(
  'a task worker and the kernel pool run under SCHED_IDLE; the event loop does not',
  { skip: process.platform !== 'linux' || !native ? 'Linux with the native addon only' : false },
  async () => {
    native!.setThreads(2);
    const seen = await runTask<void, { self: number; nice: number; threads: { tid: number; policy: number }[] }>(
      new URL('./fixtures/scheduling.ts', import.meta.url),
      undefined,
    );
    assert.equal(seen.self, SCHED_IDLE, 'the worker thread');
    assert.equal(policy(readFileSync('/proc/thread-self/stat', 'utf8')), SCHED_OTHER, 'the main thread');
    // The pool was created on this (normal) thread by setThreads; its worker took SCHED_IDLE when the task's
    // worker asked for it (idleScheduling wakes every pool thread to take it).
    assert.ok(
      seen.threads.filter((t) => t.policy === SCHED_IDLE).length >= 2,
      `the worker and the pool's thread: ${JSON.stringify(seen.threads)}`,
    );
  },
);

test(
  'FLOE_COMPUTE_PRIORITY low runs a task worker at nice 10 under the normal policy, normal leaves it as the main thread',
  { skip: process.platform !== 'linux' ? 'Linux only' : false },
  async () => {
    const fixture = new URL('./fixtures/scheduling.ts', import.meta.url);
    type Seen = { self: number; nice: number };
    const low = await runTask<void, Seen>(fixture, undefined, { priority: 'low' });
    assert.deepEqual({ policy: low.self, nice: low.nice }, { policy: SCHED_OTHER, nice: 10 });
    const normal = await runTask<void, Seen>(fixture, undefined, { priority: 'normal' });
    const main = readFileSync('/proc/thread-self/stat', 'utf8');
    const mainNice = Number(main.slice(main.lastIndexOf(')') + 2).split(' ')[16]);
    assert.deepEqual({ policy: normal.self, nice: normal.nice }, { policy: SCHED_OTHER, nice: mainNice });
  },
);
