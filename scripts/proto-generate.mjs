#!/usr/bin/env node
// Regenerates libs/contracts from proto/ (ts-proto code and the descriptor set that server reflection
// serves). With --check it generates into a temporary folder and fails when the committed code differs.
import { execFileSync } from 'node:child_process';
import {
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  existsSync,
  mkdirSync,
  cpSync,
  writeFileSync,
} from 'node:fs';
import { join, relative } from 'node:path';
import { tmpdir } from 'node:os';

const root = new URL('..', import.meta.url).pathname;
const genDir = 'libs/contracts/src/gen';
const descriptor = 'libs/contracts/src/descriptor.binpb';
const check = process.argv.includes('--check');
const buf = join(root, 'node_modules/.bin/buf');

function generate(outBase) {
  execFileSync(buf, ['generate', '-o', outBase], { cwd: root, stdio: 'inherit' });
  mkdirSync(join(outBase, 'libs/contracts/src'), { recursive: true });
  execFileSync(buf, ['build', '-o', join(outBase, descriptor)], { cwd: root, stdio: 'inherit' });
  writeFileSync(join(outBase, genDir, 'services.ts'), servicesModule());
}

/**
 * The list of services, from the folders of proto/floe (every one but common): a service is registered in
 * the contracts by adding its proto folder, nothing else.
 */
function servicesModule() {
  const camel = (s) => s.replace(/_([a-z])/g, (_, c) => c.toUpperCase());
  const lines = ['// Written by scripts/proto-generate.mjs from proto/floe/<service>/v1; never edit by hand.'];
  const names = [];
  for (const dir of readdirSync(join(root, 'proto/floe')).sort()) {
    if (dir === 'common') continue;
    const file = `${dir}_service.proto`;
    const text = readFileSync(join(root, 'proto/floe', dir, 'v1', file), 'utf8');
    const service = /^service\s+(\w+)/m.exec(text)?.[1];
    if (!service) throw new Error(`proto/floe/${dir}/v1/${file} declares no service`);
    lines.push(`export * as ${camel(dir)}V1 from './floe/${dir}/v1/${dir}_service.js';`);
    names.push(`  '${dir.replace(/_/g, '-')}': 'floe.${dir}.v1.${service}',`);
  }
  lines.push('', '/** Fully qualified name of each service, by its short name (as FLOE_SERVICES names it). */');
  lines.push('export const SERVICE_NAMES = {', ...names, '} as const;', '');
  lines.push('/** The short name of a service: data-profiler, trainer, … */');
  lines.push('export type ServiceName = keyof typeof SERVICE_NAMES;', '');
  return lines.join('\n');
}

function listFiles(dir) {
  if (!existsSync(dir)) return [];
  const out = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...listFiles(p));
    else out.push(p);
  }
  return out;
}

const tmp = mkdtempSync(join(tmpdir(), 'floe-proto-'));
try {
  generate(tmp);
  if (!check) {
    rmSync(join(root, genDir), { recursive: true, force: true });
    cpSync(join(tmp, genDir), join(root, genDir), { recursive: true });
    cpSync(join(tmp, descriptor), join(root, descriptor));
    console.log(`generated ${genDir} and ${descriptor}`);
  } else {
    const fresh = new Set(listFiles(join(tmp, genDir)).map((p) => relative(tmp, p)));
    const committed = new Set(listFiles(join(root, genDir)).map((p) => relative(root, p)));
    fresh.add(descriptor);
    if (existsSync(join(root, descriptor))) committed.add(descriptor);
    const stale = [];
    for (const f of new Set([...fresh, ...committed])) {
      if (!fresh.has(f)) stale.push(`${f}: not generated from proto/ any more`);
      else if (!committed.has(f)) stale.push(`${f}: missing`);
      else if (!readFileSync(join(tmp, f)).equals(readFileSync(join(root, f)))) stale.push(`${f}: differs`);
    }
    if (stale.length) {
      console.error('generated code is stale; run `npm run proto:generate`:\n  ' + stale.join('\n  '));
      process.exit(1);
    }
    console.log(`codegen up to date (${fresh.size} files)`);
  }
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
