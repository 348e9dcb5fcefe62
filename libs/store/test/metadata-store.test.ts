// The metadata store's contract, run against both implementations: SQLite (the embedded default) and
// PostgreSQL (cluster mode; a throwaway server of Debian's binaries). Records, keyset paging, request
// answers, once-per-step metrics, transactions, reopening; and on PostgreSQL, a server restart that
// costs no committed row.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { MessageChannel, Worker } from 'node:worker_threads';
import {
  LocalArtifactStore,
  PostgresMetadataStore,
  SqliteMetadataStore,
  type ListResult,
  type MetadataStore,
} from '../src/index.js';
import { awaitAnswer } from '../src/postgres.js';
import type { FloeError } from '@floe/errors';
import { startPostgres, tempDir, type TestPostgres } from '@floe/testing';

const dir = tempDir();
let pg: TestPostgres | undefined;
after(() => {
  pg?.remove();
  dir.remove();
});

let schemas = 0;
const backends: [string, () => Promise<{ open: () => MetadataStore }>][] = [
  [
    'SQLite',
    async () => {
      const file = join(dir.path, `s${schemas++}.sqlite`);
      return { open: () => new SqliteMetadataStore(file) };
    },
  ],
  [
    'PostgreSQL',
    async () => {
      pg ??= await startPostgres();
      const schema = `suite_${schemas++}`;
      return { open: () => new PostgresMetadataStore(pg!.url, schema) };
    },
  ],
];

for (const [name, backend] of backends) {
  test(`${name}: records are created once, read, updated; ids and request ids are unique`, async () => {
    const store = (await backend()).open();
    try {
      const a = store.create('run', 'a', 'QUEUED', { n: 1 }, 'req-a');
      assert.equal(a.id, 'a');
      assert.deepEqual(store.get('run', 'a')!.body, { n: 1 });
      assert.equal(store.get('run', 'missing'), undefined);
      assert.throws(() => store.create('run', 'a', 'QUEUED', { n: 2 }));
      assert.throws(() => store.create('run', 'b', 'QUEUED', { n: 2 }, 'req-a'));
      store.create('study', 'a', 'ACTIVE', { n: 3 }, 'req-a');
      assert.equal(store.findByRequestId<{ n: number }>('run', 'req-a')!.body.n, 1);
      const u = store.update('run', 'a', 'RUNNING', { n: 4 });
      assert.equal(u.state, 'RUNNING');
      assert.deepEqual(u.body, { n: 4 });
      assert.ok(u.updatedAt >= a.createdAt);
      assert.throws(() => store.update('run', 'missing', 'RUNNING', {}));
      // Deleting frees the id and the request id; the other kind's record of the same id stays.
      assert.equal(store.delete('run', 'a'), true);
      assert.equal(store.delete('run', 'a'), false);
      assert.equal(store.get('run', 'a'), undefined);
      assert.equal(store.findByRequestId('run', 'req-a'), undefined);
      assert.deepEqual(store.get('study', 'a')!.body, { n: 3 });
      store.create('run', 'a', 'QUEUED', { n: 5 }, 'req-a');
    } finally {
      store.close();
    }
  });

  test(`${name}: lists newest first by keyset; states and filters fill pages without skipping or repeating`, async () => {
    const store = (await backend()).open();
    try {
      for (let i = 0; i < 25; i++) store.create('run', `r${i}`, i % 3 === 0 ? 'PAUSED' : 'QUEUED', { i });
      const seen: number[] = [];
      let before: number | undefined;
      do {
        const page = store.list<{ i: number }>('run', { limit: 7, before });
        seen.push(...page.items.map((r) => r.body.i));
        before = page.next;
        // A record created between pages is newer than the cursor: it never shifts a page.
        if (seen.length === 7) store.create('run', 'late', 'QUEUED', { i: 100 });
      } while (before !== undefined);
      assert.deepEqual(
        seen,
        Array.from({ length: 25 }, (_, k) => 24 - k),
      );
      const paused = store.list<{ i: number }>('run', { states: ['PAUSED'], limit: 100 }).items.map((r) => r.body.i);
      assert.deepEqual(paused, [24, 21, 18, 15, 12, 9, 6, 3, 0]);
      const odd: number[] = [];
      before = undefined;
      do {
        const page: ListResult<{ i: number }> = store.list<{ i: number }>('run', {
          limit: 4,
          before,
          filter: (b) => b.i % 2 === 1 && b.i < 100,
        });
        odd.push(...page.items.map((r) => r.body.i));
        before = page.next;
      } while (before !== undefined);
      assert.deepEqual(odd, [23, 21, 19, 17, 15, 13, 11, 9, 7, 5, 3, 1]);
    } finally {
      store.close();
    }
  });

  test(`${name}: a request's first answer is kept; each metric step is stored once`, async () => {
    const store = (await backend()).open();
    try {
      assert.equal(store.recordRequest('StartRun', 'x', { fingerprint: 'f1', response: { run: 1 } }), true);
      assert.equal(store.recordRequest('StartRun', 'x', { fingerprint: 'f2', response: { run: 2 } }), false);
      assert.deepEqual(store.findRequest('StartRun', 'x'), { fingerprint: 'f1', response: { run: 1 } });
      assert.equal(store.findRequest('PauseRun', 'x'), undefined);
      store.appendMetrics('run-1', [
        { step: 1, body: { loss: 3 } },
        { step: 2, body: { loss: 2 } },
      ]);
      store.appendMetrics('run-1', [
        { step: 2, body: { loss: 99 } },
        { step: 3, body: { loss: 1 } },
      ]);
      store.appendMetrics('run-2', [{ step: 1, body: { loss: 7 } }]);
      assert.deepEqual(
        store.metrics<{ loss: number }>('run-1').map((m) => [m.step, m.body.loss]),
        [
          [1, 3],
          [2, 2],
          [3, 1],
        ],
      );
      assert.deepEqual(
        store.metrics('run-1', 1, 1).map((m) => m.step),
        [2],
      );
      store.deleteMetrics('run-1');
      assert.deepEqual(store.metrics('run-1'), []);
      assert.equal(store.metrics('run-2').length, 1, "another owner's rows stay");
    } finally {
      store.close();
    }
  });

  test(`${name}: a lease is held by one owner until it expires, then another takes it`, async () => {
    const store = (await backend()).open();
    try {
      assert.equal(store.acquireLease('run', 'r1', 'a', 300), true);
      assert.equal(store.acquireLease('run', 'r1', 'b', 300), false, 'held by a');
      assert.equal(store.acquireLease('run', 'r1', 'a', 300), true, 'the owner may take it again');
      assert.equal(store.renewLease('run', 'r1', 'a', 300), true);
      assert.equal(store.renewLease('run', 'r1', 'b', 300), false);
      assert.equal(store.leaseOf('run', 'r1')!.owner, 'a');
      assert.equal(store.acquireLease('run', 'r2', 'b', 300), true, 'another resource is free');
      await new Promise((r) => setTimeout(r, 450));
      assert.equal(store.acquireLease('run', 'r1', 'b', 300), true, 'expired: b takes it over');
      assert.equal(store.renewLease('run', 'r1', 'a', 300), false, 'a has lost it');
      store.releaseLease('run', 'r1', 'a');
      assert.equal(store.leaseOf('run', 'r1')!.owner, 'b', 'only the owner releases');
      store.releaseLease('run', 'r1', 'b');
      assert.equal(store.leaseOf('run', 'r1'), undefined);
    } finally {
      store.close();
    }
  });

  test(`${name}: a transaction that throws leaves nothing; nested ones join it; data outlives a reopen`, async () => {
    const b = await backend();
    const store = b.open();
    try {
      assert.throws(() =>
        store.transaction(() => {
          store.create('run', 'doomed', 'QUEUED', {});
          store.appendMetrics('doomed', [{ step: 1, body: {} }]);
          throw new Error('abort');
        }),
      );
      assert.equal(store.get('run', 'doomed'), undefined);
      assert.deepEqual(store.metrics('doomed'), []);
      store.transaction(() => {
        store.create('run', 'kept', 'QUEUED', { v: 1 });
        store.progressTransaction(() => store.appendMetrics('kept', [{ step: 1, body: { v: 1 } }]));
      });
    } finally {
      store.close();
    }
    const again = b.open();
    try {
      assert.deepEqual(again.get('run', 'kept')!.body, { v: 1 });
      assert.equal(again.metrics('kept').length, 1);
    } finally {
      again.close();
    }
  });
}

test(
  'PostgreSQL: a server restart between writes costs no committed row; the store reconnects',
  { timeout: 120_000 },
  async () => {
    pg ??= await startPostgres();
    const store = new PostgresMetadataStore(pg.url, 'restart', { retryMs: 30_000 });
    try {
      for (let s = 1; s <= 5; s++) store.appendMetrics('run', [{ step: s, body: { s } }]);
      pg.stop();
      // The server comes back a second later, while the next write waits for it.
      const back = pg.startIn(1000);
      for (let s = 6; s <= 10; s++) store.appendMetrics('run', [{ step: s, body: { s } }]);
      assert.deepEqual(
        store.metrics('run').map((m) => m.step),
        [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
      );
      await back;
    } finally {
      store.close();
    }
  },
);

test('PostgreSQL handshake: a late wake-up or a stale answer never hands a query another query’s answer', async () => {
  // The worker's side, made hostile: before each answer it wakes the waiting thread without answering (as a
  // notify delayed from the previous query would) and posts an answer to an older query (as a query that
  // timed out would). Each query must still get exactly its own answer; a query never answered times out.
  const flag = new Int32Array(new SharedArrayBuffer(4));
  const { port1, port2 } = new MessageChannel();
  const worker = new Worker(
    `const { workerData: { port, flag } } = require('node:worker_threads');
     port.on('message', async ({ id }) => {
       if (id === 999) return;
       Atomics.notify(flag, 0);
       await new Promise((r) => setTimeout(r, 5));
       port.postMessage({ id: id - 1, value: -1 });
       port.postMessage({ id, value: id * 2 });
       Atomics.store(flag, 0, id);
       Atomics.notify(flag, 0);
     });`,
    { eval: true, workerData: { port: port2, flag }, transferList: [port2] },
  );
  try {
    for (let id = 1; id <= 20; id++) {
      port1.postMessage({ id });
      assert.equal(awaitAnswer<{ id: number; value: number }>(port1, flag, id, 10_000).value, id * 2);
    }
    port1.postMessage({ id: 999 });
    assert.throws(() => awaitAnswer(port1, flag, 999, 50), /did not answer within 50 ms/);
  } finally {
    port1.close();
    await worker.terminate();
  }
});

test('artifacts on a shared folder: concurrent writers of one id leave one whole artifact; new ids never collide', async () => {
  const root = join(dir.path, 'shared-artifacts');
  // Two stores on one folder, as two replicas on one ReadWriteMany volume.
  const [x, y] = [new LocalArtifactStore(root), new LocalArtifactStore(root)];
  const results = await Promise.allSettled(
    Array.from({ length: 8 }, (_, i) =>
      (i % 2 ? x : y).put('checkpoint', { 'weights.bin': new Uint8Array(64 * 1024).fill(i) }, { id: 'same-id' }),
    ),
  );
  assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1, 'one writer wins');
  for (const r of results) if (r.status === 'rejected') assert.equal((r.reason as FloeError).kind, 'already_exists');
  const winner = results.findIndex((r) => r.status === 'fulfilled');
  assert.ok(
    (await y.readFile('same-id', 'weights.bin')).every((b) => b === winner),
    'whole, from one writer',
  );
  const made = await Promise.all(
    Array.from({ length: 40 }, (_, i) => (i % 2 ? x : y).put('checkpoint', { 'w.bin': new Uint8Array([i]) })),
  );
  assert.equal(new Set(made.map((a) => a.manifest.id)).size, 40);
  assert.equal((await x.list('checkpoint')).length, 41);
});
