// `floe eval suites | run | compare | double-descent` against a real server, as a user runs them.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FloeServer } from '@floe/service-kit';
import { quietLog, startTestServer, tempDir, testConfig } from '@floe/testing';
import { floeAt } from './fixtures/floe.js';
import { createEvaluatorService } from '@floe/evaluator';

const home = tempDir();
let server: FloeServer;

before(async () => {
  const config = testConfig(home.path, { FLOE_DATA_ROOTS: home.path });
  server = await startTestServer([createEvaluatorService({ config, log: quietLog })], config);
});

after(async () => {
  await server.shutdown();
  home.remove();
});

const floe = floeAt(() => server.address);

test('floe eval suites | run | compare | double-descent, with --json', { timeout: 180_000 }, async () => {
  const suites = JSON.parse((await floe('eval', 'suites', '--json')).stdout) as { name: string }[];
  assert.ok(suites.some((s) => s.name === 'spam-assassin'));
  const table = await floe('eval', 'suites');
  assert.match(table.stdout, /^mnist\s+classification/m);

  const run = await floe('eval', 'run', '--model', 'lenet5/small:1', '--suites', 'iris', '--json');
  assert.equal(run.code, 1, 'a vision model on a tabular suite is refused');
  assert.match(run.stderr, /classification|tabular|image|model/);
  const mlp = JSON.parse((await floe('eval', 'run', '--model', 'mlp/tiny:1', '--suites', 'iris', '--json')).stdout) as {
    results: { metrics: { name: string; value: number; stderr: number }[] }[];
  };
  const acc = mlp.results[0]!.metrics.find((m) => m.name === 'accuracy')!;
  assert.ok(acc.value >= 0 && acc.value <= 1 && acc.stderr >= 0);

  // A table of one's own as a suite, named after its file and scored on its test split.
  writeFileSync(
    join(home.path, 'flowers.csv'),
    'petal,sepal,label\n' +
      Array.from({ length: 80 }, (_, i) => `${(i % 7) + 0.5},${(i % 5) * 0.3},${i % 2 ? 'wide' : 'narrow'}`).join('\n'),
  );
  const own = await floe(
    'eval',
    'run',
    '--model',
    'mlp/tiny:1',
    '--data',
    'file:flowers.csv',
    '--task',
    'classification',
  );
  assert.equal(own.code, 0, own.stderr);
  assert.match(own.stdout, /^flowers\.csv\s+n=\d+\s+accuracy/m);
  const untasked = await floe('eval', 'run', '--model', 'mlp/tiny:1', '--data', 'file:flowers.csv');
  assert.equal(untasked.code, 1);
  assert.match(untasked.stderr, /--data needs --task classification\|regression\|language-model/);

  const compared = await floe(
    'eval',
    'compare',
    '--stages',
    'mlp/tiny:1,mlp/tiny:2',
    '--suites',
    'iris',
    '--metric',
    'accuracy',
  );
  assert.equal(compared.code, 0, compared.stderr);
  assert.match(compared.stdout, /ACC .* BWT .* FWT/);

  const file = join(home.path, 'curve.csv');
  writeFileSync(
    file,
    'x,y\n' +
      Array.from(
        { length: 120 },
        (_, x) =>
          `${x},${0.5 + Math.exp(-x / 10) + 0.3 * Math.exp(-(((x - 60) / 8) ** 2)) - 0.2 / (1 + Math.exp(-(x - 80) / 5))}`,
      ).join('\n'),
  );
  const dd = JSON.parse((await floe('eval', 'double-descent', '--file', file, '--json')).stdout) as {
    hasDoubleDescent: boolean;
    t2: number;
  };
  assert.equal(dd.hasDoubleDescent, true);
  assert.ok(Math.abs(dd.t2 - 60) <= 4);
});
