// Backend choice: forcing what is not installed is a clear error; without the native addon, auto falls
// back to wasm and says so in one line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const root = new URL('../../..', import.meta.url).pathname;
const script = `
  const { initBackend } = await import('@floe/ml-runtime');
  const lines = [];
  try { const info = await initBackend(process.env.CHOICE, { log: (l) => lines.push(l) }); console.log(JSON.stringify({ name: info.name, lines })); }
  catch (e) { console.log(JSON.stringify({ error: e.message })); }`;

async function choose(choice: string, env: Record<string, string> = {}) {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ['--import', 'tsx', '--input-type=module', '-e', script],
    { cwd: root, env: { ...process.env, CHOICE: choice, ...env } },
  );
  return JSON.parse(stdout.trim().split('\n').at(-1)!) as { name?: string; lines?: string[]; error?: string };
}

test('forcing tensorflow where it is not installed names what is missing', async () => {
  const r = await choose('tensorflow');
  assert.match(r.error!, /neither @tensorflow\/tfjs-node-gpu nor @tensorflow\/tfjs-node is installed/);
});

test('without the native addon, auto uses wasm and logs one line why; native is an error', async () => {
  const r = await choose('auto', { FLOE_NATIVE: '0' });
  assert.equal(r.name, 'wasm');
  assert.equal(r.lines!.filter((l) => /native kernels unavailable/.test(l)).length, 1);
  assert.match((await choose('native', { FLOE_NATIVE: '0' })).error!, /native kernels are not available/);
  assert.equal((await choose('cpu')).name, 'cpu');
  assert.match((await choose('gpu')).error!, /expected one of/);
});
