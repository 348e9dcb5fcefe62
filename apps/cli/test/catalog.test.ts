// The command catalog: `floe --help` lists it without loading any command, and each entry loads the command it
// names (its summary is the catalog's, so the two cannot drift apart).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { CATALOG } from '../src/commands/catalog.js';

const root = new URL('../../..', import.meta.url).pathname;

test('every catalog entry loads its command; floe --help lists them all', async () => {
  for (const entry of CATALOG) {
    const cmd = await entry.load();
    assert.deepEqual([cmd.name, cmd.summary], [entry.name, entry.summary]);
  }
  const { stdout } = await promisify(execFile)(process.execPath, ['apps/cli/bin/floe.js', '--help'], { cwd: root });
  const lines = stdout.split('\n').map((l) => l.trim().split(/\s+/).join(' '));
  for (const entry of CATALOG) assert.ok(lines.includes(`${entry.name} ${entry.summary}`), entry.name);
});
