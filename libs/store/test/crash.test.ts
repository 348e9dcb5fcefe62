// Kill a writer in the middle of its work: the database opens and holds every committed row; the
// artifact store never shows a half-written artifact under its final name.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { LocalArtifactStore, SqliteMetadataStore } from '../src/index.js';
import { tempDir } from '@floe/testing';

const fixture = new URL('./fixtures/writer.ts', import.meta.url).pathname;

/** Runs the writer, kills it with SIGKILL once it has committed `atLeast` items, returns the last one. */
async function runAndKill(mode: string, path: string, atLeast: number, extraDelayMs: number): Promise<number> {
  const child = spawn(process.execPath, ['--import', 'tsx', fixture, mode, path], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let last = -1;
  let buffered = '';
  await new Promise<void>((resolve) => {
    child.stdout.on('data', (d: Buffer) => {
      buffered += d.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop()!;
      for (const l of lines) last = Number(l);
      if (last + 1 >= atLeast) setTimeout(resolve, extraDelayMs);
    });
  });
  child.kill('SIGKILL');
  await new Promise((r) => child.on('exit', r));
  return last;
}

for (const mode of ['sqlite', 'sqlite-progress'])
  test(
    `SQLite (${mode}): a SIGKILL mid-write keeps every committed row and a sound database`,
    { timeout: 60_000 },
    async () => {
      const dir = tempDir();
      try {
        const file = join(dir.path, 'meta.sqlite');
        for (let round = 0; round < 3; round++) {
          const lastPrinted = await runAndKill(mode, file, 20 * (round + 1), 7 * round);
          const raw = new Database(file);
          assert.equal(raw.pragma('integrity_check', { simple: true }), 'ok');
          raw.close();
          const store = new SqliteMetadataStore(file);
          for (let i = 0; i <= lastPrinted; i++) {
            const rec = store.get<{ i: number }>('run', `run-${i}`);
            assert.ok(rec, `committed run-${i} is missing after the kill`);
            assert.equal(store.metrics(`run-${i}`).length, 50, `run-${i} lost metric rows`);
          }
          // Whatever got past the last printed line is all-or-nothing, never a record without its metrics.
          for (const r of store.list('run', { limit: 100000 }).items) assert.equal(store.metrics(r.id).length, 50);
          store.close();
          // The next round writes on top of the recovered database.
          const cleanup = new Database(file);
          cleanup.exec('DELETE FROM records; DELETE FROM metrics;');
          cleanup.close();
        }
      } finally {
        dir.remove();
      }
    },
  );

test(
  'artifacts: a SIGKILL mid-write never leaves a half-written artifact under its final name',
  { timeout: 60_000 },
  async () => {
    const dir = tempDir();
    try {
      const lastPrinted = await runAndKill('artifacts', dir.path, 3, 15);
      const store = new LocalArtifactStore(dir.path);
      const visible = await store.list();
      assert.ok(visible.length >= lastPrinted + 1);
      for (const a of visible) {
        // readFile checks the sha256 of each file against the manifest.
        for (const f of a.manifest.files) assert.equal((await store.readFile(a.manifest.id, f.name)).length, f.size);
      }
      for (const name of readdirSync(dir.path)) {
        if (name.startsWith('.')) continue;
        assert.ok(
          existsSync(join(dir.path, name, 'manifest.json')),
          `${name} is under a final name without its manifest`,
        );
      }
      await store.sweep();
      assert.deepEqual(
        readdirSync(dir.path).filter((n) => n.startsWith('.')),
        [],
      );
    } finally {
      dir.remove();
    }
  },
);

test('artifacts: put, get, list, read checks sha256, delete; duplicate ids are refused', async () => {
  const dir = tempDir();
  try {
    const store = new LocalArtifactStore(dir.path);
    const a = await store.put(
      'model',
      { 'w.bin': new Uint8Array([1, 2, 3]) },
      { id: 'model-a', labels: { run: 'r1' } },
    );
    assert.equal(a.sizeBytes, 3);
    assert.deepEqual([...(await store.readFile('model-a', 'w.bin'))], [1, 2, 3]);
    await assert.rejects(store.put('model', { 'w.bin': new Uint8Array([9]) }, { id: 'model-a' }), /already exists/);
    assert.deepEqual([...(await store.readFile('model-a', 'w.bin'))], [1, 2, 3], 'the refused put changed nothing');
    const { writeFileSync } = await import('node:fs');
    writeFileSync(join(dir.path, 'model-a', 'w.bin'), new Uint8Array([1, 2, 4]));
    await assert.rejects(store.readFile('model-a', 'w.bin'), /corrupt/);
    assert.equal((await store.list('model')).length, 1);
    await store.delete('model-a');
    assert.equal(await store.get('model-a'), undefined);
    await assert.rejects(store.put('model', { '../x': new Uint8Array(1) }), /bad file name/);
  } finally {
    dir.remove();
  }
});

test('SQLite store: idempotency keys, states, paging and metrics stored once', () => {
  const dir = tempDir();
  try {
    const store = new SqliteMetadataStore(join(dir.path, 'm.sqlite'));
    store.create('run', 'a', 'QUEUED', { n: 1 }, 'req-1');
    assert.throws(() => store.create('run', 'b', 'QUEUED', { n: 2 }, 'req-1'), /UNIQUE/);
    assert.equal(store.findByRequestId('run', 'req-1')?.id, 'a');
    store.create('run', 'b', 'RUNNING', { n: 2 });
    store.update('run', 'a', 'PAUSED', { n: 3 });
    assert.deepEqual(
      store.list('run', { states: ['PAUSED'] }).items.map((r) => r.body),
      [{ n: 3 }],
    );
    const page = store.list('run', { limit: 1 });
    assert.equal(page.items.length, 1);
    assert.ok(page.next !== undefined, 'a next page');
    store.appendMetrics('a', [
      { step: 1, body: { loss: 1 } },
      { step: 2, body: { loss: 2 } },
    ]);
    store.appendMetrics('a', [
      { step: 2, body: { loss: 99 } },
      { step: 3, body: { loss: 3 } },
    ]);
    assert.deepEqual(
      store.metrics('a').map((m) => m.body),
      [{ loss: 1 }, { loss: 2 }, { loss: 3 }],
    );
    assert.deepEqual(
      store.metrics('a', 1).map((m) => m.step),
      [2, 3],
    );
    store.close();
  } finally {
    dir.remove();
  }
});
