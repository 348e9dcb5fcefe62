// `floe explain run | compare | attention` against a real server, as a user runs them: tables, --json,
// and --svg writing the plots.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FloeServer } from '@floe/service-kit';
import { quietLog, startTestServer, tempDir, testConfig } from '@floe/testing';
import { createExplainerService } from '@floe/explainer';
import { floeAt } from './fixtures/floe.js';

const home = tempDir();
let server: FloeServer;

before(async () => {
  const config = testConfig(home.path);
  server = await startTestServer([createExplainerService({ config, log: quietLog })], config);
});

after(async () => {
  await server.shutdown();
  home.remove();
});

const floe = floeAt(() => server.address);

test('floe explain run | compare | attention, with --json and --svg', { timeout: 180_000 }, async () => {
  const svg = join(home.path, 'iris.svg');
  const run = await floe(
    'explain',
    'run',
    '--model',
    'mlp/small:1',
    '--data',
    'builtin:iris',
    '--method',
    'exact',
    '--instances',
    '4',
    '--svg',
    svg,
  );
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stdout, /4 instances, 4 features/);
  assert.match(run.stdout, /petal_length/);
  for (const path of [svg, join(home.path, 'iris-bar.svg'), join(home.path, 'iris-beeswarm.svg')])
    assert.match(readFileSync(path, 'utf8'), /^<svg/, path);

  const json = JSON.parse(
    (
      await floe(
        'explain',
        'run',
        '--model',
        'mlp/small:1',
        '--data',
        'builtin:iris',
        '--method',
        'kernel',
        '--instances',
        '2',
        '--json',
      )
    ).stdout,
  ) as { featureNames: string[]; values: { rows: number }; efficiencyGap?: number };
  assert.equal(json.values.rows, 2);
  assert.ok((json.efficiencyGap ?? 0) < 1e-4, 'proto3 JSON leaves out a gap of exactly 0');

  const compared = await floe(
    'explain',
    'compare',
    '--base',
    'mlp/small:1',
    '--adapted',
    'mlp/small:2',
    '--data',
    'builtin:iris',
    '--method',
    'exact',
    '--instances',
    '6',
  );
  assert.equal(compared.code, 0, compared.stderr);
  assert.match(compared.stdout, /rank correlation -?\d/);

  const heat = join(home.path, 'attention.svg');
  const attention = await floe(
    'explain',
    'attention',
    '--model',
    'mamba-lm/tiny:1',
    '--text',
    'Subject: lunch on Friday?',
    '--svg',
    heat,
  );
  assert.equal(attention.code, 0, attention.stderr);
  assert.match(attention.stdout, /α·x rebuilds the scan/);
  assert.ok(existsSync(heat) && existsSync(join(home.path, 'attention-attention-layer-1.svg')));

  const bad = await floe(
    'explain',
    'run',
    '--model',
    'mlp/small:1',
    '--data',
    'builtin:iris',
    '--method',
    'kernel',
    '--budget',
    '3',
  );
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /budget/);
});
