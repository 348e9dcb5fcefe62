// A large table is read in slices: openDatasetAsync gives the event loop turns while it parses and encodes a
// CSV or JSON lines file (a StartRun or ProfileDataset on a table would otherwise stall every other call for
// seconds), and reads exactly what the synchronous read does.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from './temp-dir.js';
import { turnsDuring } from './event-loop.js';
import { openDataset, openDatasetAsync, type TabularDataset } from '../src/index.js';

test('a 60,000-row CSV and JSON lines file are read in slices, to the same table as read at once', async () => {
  const dir = tempDir();
  try {
    const rows = Array.from({ length: 60_000 }, (_, i) => ({
      size: ((i * 0.37) % 11).toFixed(3),
      kind: ['a', 'b', 'c'][i % 3]!,
      day: `2024-01-${String((i % 28) + 1).padStart(2, '0')}`,
      label: String(i % 2),
    }));
    writeFileSync(
      join(dir.path, 't.csv'),
      `size,kind,day,label\n${rows.map((r) => `${r.size},${r.kind},${r.day},${r.label}`).join('\n')}\n`,
    );
    writeFileSync(
      join(dir.path, 't.jsonl'),
      rows.map((r) => JSON.stringify({ ...r, size: Number(r.size) })).join('\n'),
    );
    const opts = { dataRoots: [dir.path], asRead: true };
    for (const uri of ['file:t.csv', 'file:t.jsonl']) {
      const { result, turns } = await turnsDuring(() => openDatasetAsync({ uri }, { ...opts, sliceMs: 5 }));
      const sliced = result as TabularDataset;
      const whole = openDataset({ uri }, opts) as TabularDataset;
      assert.ok(turns >= 10, `${uri}: ${turns} turns of the event loop while reading`);
      assert.equal(sliced.rows, 60_000);
      assert.deepEqual(
        [sliced.features, sliced.categories, sliced.dates],
        [whole.features, whole.categories, whole.dates],
      );
      assert.deepEqual(sliced.x, whole.x);
      assert.deepEqual(sliced.splitKeys, whole.splitKeys);
    }
  } finally {
    dir.remove();
  }
});
