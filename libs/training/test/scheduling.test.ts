// Compute yields to the event loop: a task's worker thread runs under SCHED_IDLE (Linux, native addon),
// and so do the native kernel pool's threads it uses, while the main thread keeps its normal policy.
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
    const seen = await runTask<void, { self: number; threads: { tid: number; policy: number }[] }>(
      new URL('./fixtures/scheduling.ts', import.meta.url),
      undefined,
    );
    assert.equal(seen.self, SCHED_IDLE, 'the worker thread');
    assert.equal(policy(readFileSync('/proc/thread-self/stat', 'utf8')), SCHED_OTHER, 'the main thread');
    // The pool was created on this (normal) thread by setThreads; its worker took SCHED_IDLE on its job.
    assert.ok(
      seen.threads.filter((t) => t.policy === SCHED_IDLE).length >= 2,
      `the worker and the pool's thread: ${JSON.stringify(seen.threads)}`,
    );
  },
);
