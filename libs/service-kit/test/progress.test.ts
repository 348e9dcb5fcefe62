// withEvents: results and progress come out in the order the work made them, then its result; work that
// awaits caughtUp() waits for a slow consumer instead of queueing without bound.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withEvents } from '../src/index.js';

test('events and progress in order, then the result', async () => {
  const out: string[] = [];
  for await (const e of withEvents<string, number>(async (emit, report) => {
    emit('a');
    report({ phase: 'p', done: 1, total: 2, fraction: 0.5, message: '' });
    emit('b');
    return 7;
  }))
    out.push('event' in e ? e.event : 'progress' in e ? `progress ${e.progress.done}` : `result ${e.result}`);
  assert.deepEqual(out, ['a', 'progress 1', 'b', 'result 7']);
});

test('caughtUp holds the work while 16 items wait, and lets it go as the consumer takes them', async () => {
  let made = 0;
  const stream = withEvents<number, number>(async (emit, _report, caughtUp) => {
    for (let i = 0; i < 100; i++) {
      emit(i);
      made++;
      await caughtUp();
    }
    return made;
  });
  const first = await stream.next();
  assert.deepEqual(first.value, { event: 0 });
  await new Promise((r) => setTimeout(r, 100));
  assert.ok(made <= 17, `${made} made while the consumer took 1`);
  const rest: number[] = [];
  for await (const e of stream) if ('event' in e) rest.push(e.event);
  assert.deepEqual(
    rest,
    Array.from({ length: 99 }, (_, i) => i + 1),
  );
  assert.equal(made, 100);
});

test('a consumer that stops lets waiting work go', async () => {
  let finished = false;
  const stream = withEvents<number, void>(async (emit, _report, caughtUp) => {
    for (let i = 0; i < 40; i++) {
      emit(i);
      await caughtUp();
    }
    finished = true;
  });
  await stream.next();
  await stream.return(undefined);
  await new Promise((r) => setTimeout(r, 50));
  assert.ok(finished, 'the work ran to its end instead of waiting forever');
});
