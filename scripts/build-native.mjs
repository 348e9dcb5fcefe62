#!/usr/bin/env node
// Builds floe's native kernels (libs/native) from source with node-gyp, as part of `npm ci`.
// FLOE_NATIVE=0 skips it. A failed build never fails the install: the runtime then uses wasm and says so.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const dir = join(root, 'libs/native');

if (process.env.FLOE_NATIVE === '0') {
  console.log('floe: FLOE_NATIVE=0, native kernels not built; the runtime will use wasm');
  process.exit(0);
}

function nodeGyp() {
  // npm ships node-gyp beside itself; fall back to one installed in node_modules.
  const candidates = [];
  if (process.env.npm_execpath)
    candidates.push(join(dirname(process.env.npm_execpath), '..', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
  try {
    candidates.push(createRequire(import.meta.url).resolve('node-gyp/bin/node-gyp.js'));
  } catch {
    // not installed
  }
  return candidates.find((c) => existsSync(c));
}

const gyp = nodeGyp();
if (!gyp) {
  console.log('floe: node-gyp not found; native kernels not built, the runtime will use wasm');
  process.exit(0);
}
// Build against the headers of the running Node (node-gyp would otherwise try to download them).
const args = [gyp, 'rebuild', '--release', '-j', 'max'];
const localHeaders = join(dirname(dirname(process.execPath)), 'include', 'node', 'node_api.h');
if (!process.env.npm_config_nodedir && existsSync(localHeaders))
  args.push(`--nodedir=${dirname(dirname(process.execPath))}`);
const started = Date.now();
const result = spawnSync(process.execPath, args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
if (result.status !== 0) {
  const reason = (result.stderr || result.stdout || '').trim().split('\n').slice(-3).join(' | ');
  console.log(`floe: native kernels did not build (${reason}); the runtime will use wasm`);
  process.exit(0);
}
console.log(
  `floe: native kernels built in ${((Date.now() - started) / 1000).toFixed(1)} s (libs/native/build/Release/floe_native.node)`,
);
