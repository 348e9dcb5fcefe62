// `floe up` with a bad configuration value stops at once, exit 2, with a message naming the variable —
// before it binds a port or opens a database.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort, tempDir } from '@floe/testing';

const root = new URL('../../..', import.meta.url).pathname;

async function up(env: Record<string, string>): Promise<{ code: number; stderr: string; opened: boolean }> {
  const home = tempDir();
  try {
    await promisify(execFile)(process.execPath, ['apps/cli/bin/floe.js', 'up'], {
      cwd: root,
      env: { ...process.env, FLOE_HOME: home.path, FLOE_ADDRESS: `127.0.0.1:${await freePort()}`, ...env },
      timeout: 30_000,
    });
    return { code: 0, stderr: '', opened: existsSync(join(home.path, 'db')) };
  } catch (err) {
    const e = err as { code: number; stderr: string };
    return { code: e.code, stderr: e.stderr, opened: existsSync(join(home.path, 'db')) };
  } finally {
    home.remove();
  }
}

for (const [variable, value] of [
  ['FLOE_TF_BACKEND', 'gpu'],
  ['FLOE_THREADS', 'lots'],
  ['FLOE_THREADS', '0'],
] as const) {
  test(`floe up with ${variable}=${value} stops with a message naming ${variable}`, { timeout: 40_000 }, async () => {
    const r = await up({ [variable]: value });
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, new RegExp(`invalid ${variable}=`));
    assert.equal(r.stderr.trim().split('\n').length, 1, `one line: ${r.stderr}`);
    assert.equal(r.opened, false, 'no database was opened');
  });
}
