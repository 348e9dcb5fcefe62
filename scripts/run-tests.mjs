#!/usr/bin/env node
// `npm test`: every *.test.ts under libs/, services/, apps/, deploy/ and test/, through node's test runner with
// tsx. Test files run in parallel processes (one per core); pass file paths or folders to run fewer.
// *.solo.test.ts files measure latency under floe's own load and run afterwards, alone: another test
// process competing for the two cores would measure the machine, not floe.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { availableParallelism } from 'node:os';

const root = new URL('..', import.meta.url).pathname;

function find(dir) {
  let out = [];
  let entries;
  try {
    entries = readdirSync(dir);
  } catch {
    return out;
  }
  for (const name of entries) {
    if (name === 'node_modules' || name.startsWith('.')) continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out = out.concat(find(p));
    else if (name.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

const targets = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const flags = process.argv.slice(2).filter((a) => a.startsWith('--'));
const files = (targets.length ? targets : ['libs', 'services', 'apps', 'deploy', 'test'])
  .flatMap((t) => (t.endsWith('.ts') ? [join(root, t)] : find(join(root, t))))
  .map((f) => relative(root, f))
  .sort();
if (files.length === 0) {
  console.error('no test files found');
  process.exit(1);
}
const run = (list, concurrency) =>
  list.length === 0
    ? 0
    : (spawnSync(
        process.execPath,
        ['--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, ...flags, ...list],
        {
          cwd: root,
          stdio: 'inherit',
          env: { ...process.env, FLOE_LOG_LEVEL: process.env.FLOE_LOG_LEVEL ?? 'warn' },
        },
      ).status ?? 1);
const solo = files.filter((f) => f.endsWith('.solo.test.ts'));
const parallel = run(
  files.filter((f) => !solo.includes(f)),
  Math.max(1, availableParallelism()),
);
const alone = run(solo, 1);
process.exit(parallel || alone);
