// `floe profile`, `floe drift` and `floe plan` against a real server, as a user runs them.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FloeServer } from '@floe/service-kit';
import { quietLog, startTestServer, tempDir, testConfig } from '@floe/testing';
import { floeAt } from './fixtures/floe.js';
import { createDataProfilerService } from '@floe/data-profiler';

const home = tempDir();
let server: FloeServer;

before(async () => {
  const config = testConfig(home.path);
  server = await startTestServer([createDataProfilerService({ config, log: quietLog })], config);
});

after(async () => {
  await server.shutdown();
  home.remove();
});

const floe = floeAt(() => server.address);

test('floe profile | drift | plan print a table, or one JSON object with --json', { timeout: 180_000 }, async () => {
  const human = await floe('profile', 'builtin:penguins');
  assert.equal(human.code, 0, human.stderr);
  assert.match(human.stdout, /tabular, \d+ examples/);
  assert.match(human.stdout, /^Island\s+categorical\s+missing 0\s+distinct 3\s+Biscoe:168 Dream:124 Torgersen:52$/m);
  assert.match(human.stderr, /100%/, 'a progress bar on stderr');
  const p = JSON.parse((await floe('profile', 'builtin:spam-assassin', '--json')).stdout) as {
    exampleCount: number;
    text: { vocabularySize: number };
  };
  assert.equal(p.exampleCount, 6046);
  assert.ok(p.text.vocabularySize > 0);

  const d = JSON.parse(
    (await floe('drift', 'builtin:spam-assassin@train', 'builtin:spam-assassin@test', '--json')).stdout,
  ) as { verdict: string; overallPsi: number };
  assert.ok(d.overallPsi < 0.1);
  const table = await floe('drift', 'builtin:spam-assassin', 'builtin:typescript-lib');
  assert.match(table.stdout, /verdict shifted/);
  assert.match(table.stdout, /^byte\s/m);

  const planned = await floe(
    'plan',
    '--model',
    'transformer-lm/tiny:1',
    '--dataset',
    'builtin:typescript-lib',
    '--reference',
    'builtin:spam-assassin',
    '--json',
  );
  assert.equal(planned.code, 0, planned.stderr);
  const plan = JSON.parse(planned.stdout) as { plan: { expansions: unknown[]; decisions: unknown[] } };
  assert.ok(plan.plan.expansions.length >= 1);
  const bad = await floe(
    'plan',
    '--model',
    'transformer-lm/huge',
    '--dataset',
    'builtin:typescript-lib',
    '--reference',
    'builtin:spam-assassin',
  );
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /huge/);
  const badSplit = await floe('profile', 'builtin:iris@later');
  assert.equal(badSplit.code, 1);
  assert.match(badSplit.stderr, /unknown split "later"/);
});

test('floe profile --target COLUMN profiles that column as the target; an unknown one is refused, named', async () => {
  mkdirSync(join(home.path, 'data'), { recursive: true });
  writeFileSync(join(home.path, 'data', 'homes.csv'), 'size,price,label\n1,10.5,a\n2,20.25,b\n3,30.75,a\n');
  const asked = JSON.parse((await floe('profile', 'file:homes.csv', '--target', 'price', '--json')).stdout) as {
    tabular: { targets: { name: string }[]; columns: { name: string }[] };
  };
  assert.deepEqual(
    asked.tabular.targets.map((t) => t.name),
    ['price'],
  );
  assert.deepEqual(
    asked.tabular.columns.map((c) => c.name),
    ['size', 'label'],
  );
  const byDefault = JSON.parse((await floe('profile', 'file:homes.csv', '--json')).stdout) as typeof asked;
  assert.deepEqual(
    byDefault.tabular.targets.map((t) => t.name),
    ['label'],
  );
  const refused = await floe('profile', 'file:homes.csv', '--target', 'rent');
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /dataset\.target_column.*no column "rent"; its columns: size, price, label/);
});
