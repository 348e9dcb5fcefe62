// runTask's workers: a task's worker stays up after it answers and serves the next call of the same task;
// calls at once get workers of their own; a cancelled call's worker is ended, never reused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidArgumentError } from '@floe/errors';
import { closeIdleTaskWorkers, runTask } from '../src/index.js';
import type { EchoJob } from './fixtures/echo-task.js';

const ECHO = new URL('./fixtures/echo-task.ts', import.meta.url);
type Echo = { threadId: number; served: number };
const echo = (job: EchoJob, opts: Parameters<typeof runTask>[2] = {}) =>
  runTask<EchoJob, Echo, number>(ECHO, job, opts);

test('a second call runs in the worker the first left, after its progress and its answer', async () => {
  await closeIdleTaskWorkers();
  const seen: number[] = [];
  const first = await echo(
    { progress: 3 },
    {
      onProgress: (p) => {
        seen.push(p as number);
      },
    },
  );
  const second = await echo({});
  assert.deepEqual(seen, [1, 2, 3]);
  assert.equal(second.threadId, first.threadId);
  assert.equal(second.served, first.served + 1);
});

test('a task that throws answers with the same error, and its worker serves the next call', async () => {
  await closeIdleTaskWorkers();
  const before = await echo({});
  await assert.rejects(echo({ fail: true }), (err: Error) => {
    assert.ok(err instanceof InvalidArgumentError);
    assert.equal(err.violations[0]!.field, 'fail');
    return true;
  });
  assert.equal((await echo({})).threadId, before.threadId);
});

test('calls at once run in workers of their own; two of them stay for the next calls', async () => {
  await closeIdleTaskWorkers();
  const burst = await Promise.all([echo({}), echo({}), echo({}), echo({})]);
  assert.equal(new Set(burst.map((e) => e.threadId)).size, 4);
  const next = await Promise.all([echo({}), echo({}), echo({}), echo({})]);
  const kept = next.filter((e) => burst.some((b) => b.threadId === e.threadId));
  assert.equal(kept.length, 2, 'two idle workers kept of four');
  assert.ok(kept.every((e) => e.served === 2));
});

test('a cancelled call ends its worker; the next call starts a new one', async () => {
  await closeIdleTaskWorkers();
  const controller = new AbortController();
  const hung = echo({ hang: true }, { signal: controller.signal });
  const started = await echo({}); // a second worker, idle again once answered
  setTimeout(() => controller.abort(new Error('gave up')), 50);
  await assert.rejects(hung, /gave up/);
  const next = await echo({});
  assert.equal(next.threadId, started.threadId, 'the idle worker serves, not the cancelled one');
  await closeIdleTaskWorkers();
  assert.notEqual((await echo({})).threadId, started.threadId, 'closed workers are not reused');
});

test('idleMs 0 (FLOE_TASK_WORKER_IDLE_MS=0): a worker per call, never one left idle by another caller', async () => {
  await closeIdleTaskWorkers();
  const pooled = await echo({});
  assert.notEqual((await echo({}, { idleMs: 0 })).threadId, pooled.threadId);
  const a = await echo({}, { idleMs: 0 });
  const b = await echo({}, { idleMs: 0 });
  assert.notEqual(a.threadId, b.threadId);
  assert.equal(b.served, 1);
});

test('an idle worker exits after its idle time', async () => {
  await closeIdleTaskWorkers();
  const a = await echo({}, { idleMs: 100 });
  assert.equal((await echo({}, { idleMs: 100 })).threadId, a.threadId, 'within the idle time');
  await new Promise((r) => setTimeout(r, 400));
  assert.notEqual((await echo({})).threadId, a.threadId, 'after it');
});

test('a task streaming to a slow caller stays at most 8 messages ahead of it, then finishes', async () => {
  await closeIdleTaskWorkers();
  const seen: number[] = [];
  let release!: () => void;
  const held = new Promise<void>((resolve) => (release = resolve));
  const answer = echo({ stream: 100 }, { onProgress: (p) => (seen.push(p as number), held) });
  try {
    // The worker starts (a second or so), posts 8, and waits: still 8 well after.
    const deadline = Date.now() + 20_000;
    while (seen.length < 8 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual(seen, [1, 2, 3, 4, 5, 6, 7, 8], 'the worker waits for its caller');
  } finally {
    release();
  }
  await answer;
  assert.deepEqual(
    seen,
    Array.from({ length: 100 }, (_, i) => i + 1),
  );
  // Acknowledgements of one call do not count for the next in the same worker.
  const again: number[] = [];
  await echo({ stream: 20 }, { onProgress: (p) => void again.push(p as number) });
  assert.equal(again.length, 20);
});
