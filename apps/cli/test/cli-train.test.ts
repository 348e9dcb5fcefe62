// The `floe train` commands against a real server, as a user runs them (a child process).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FloeServer } from '@floe/service-kit';
import { quietLog, startTestServer, tempDir, testConfig } from '@floe/testing';
import { floeAt } from './fixtures/floe.js';
import { createTrainerService } from '@floe/trainer';

const home = tempDir();
let server: FloeServer;

before(async () => {
  const config = testConfig(home.path);
  server = await startTestServer([createTrainerService({ config, log: quietLog })], config);
});

after(async () => {
  await server.shutdown();
  home.remove();
});

const floe = floeAt(() => server.address);

test('floe train start --watch, get, list and resume, with --json', { timeout: 120_000 }, async () => {
  // Three steps of the tiny transformer on e-mails.
  const start = ['train', 'start', '--dataset', 'builtin:spam-assassin', '--steps', '3', '--batch', '4', '--seq', '32'];
  const started = await floe(...start, '--watch', '--json');
  assert.equal(started.code, 0, started.stderr);
  const lines = started.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.equal(lines.filter((l) => typeof l.step === 'object').length, 3, 'one JSON line per step event');
  const final = lines.at(-1) as { run_id: string; state: string; step: number };
  assert.deepEqual([final.state, final.step], ['RUN_STATE_PAUSED', 3]);
  const got = JSON.parse((await floe('train', 'get', final.run_id, '--json')).stdout) as Record<string, unknown>;
  // What the run trains, as floe takes it back: the model, the data, the strategy.
  assert.deepEqual(
    [got.step, got.model, got.dataset, got.strategy],
    [3, 'transformer-lm/tiny:0', 'builtin:spam-assassin', 'full'],
  );
  // Without --json into a log (the child's stderr is a pipe, not a terminal): lines, not carriage returns — the
  // steps a log keeps (the last), the checkpoint, nothing redrawn.
  const logged = await floe(...start, '--checkpoint-every', '3', '--watch');
  assert.equal(logged.code, 0, logged.stderr);
  assert.ok(!logged.stderr.includes('\r'), JSON.stringify(logged.stderr));
  const logLines = logged.stderr.trim().split('\n');
  assert.ok(logLines.length <= 6, logged.stderr);
  assert.ok(
    logLines.some((l) => /step 3\/3 loss/.test(l)),
    logged.stderr,
  );
  assert.ok(
    logLines.some((l) => /checkpoint at step 3/.test(l)),
    logged.stderr,
  );
  const listed = JSON.parse((await floe('train', 'list', '--json')).stdout) as unknown[];
  assert.equal(listed.length, 2);
  assert.match(
    (await floe('train', 'list')).stdout,
    /PAUSED\s+step 3\/3\s+transformer-lm\/tiny:0\s+builtin:spam-assassin/,
  );
  // Its loss curve as a plot: the training line alone, as the run never evaluated.
  const plot = join(home.path, 'loss.svg');
  const plotted = await floe('train', 'get', final.run_id, '--svg', plot);
  assert.match(plotted.stderr, /wrote .*loss\.svg/);
  const svg = readFileSync(plot, 'utf8');
  assert.match(svg, /^<svg/);
  for (const text of ['transformer-lm/tiny:0 on builtin:spam-assassin', '>training<'])
    assert.ok(svg.includes(text), text);
  assert.equal((svg.match(/aria-roledescription="line mark"/g) ?? []).length, 1, 'one series: no evaluation');
  const resumed = JSON.parse((await floe('train', 'resume', final.run_id, '--steps', '2', '--json')).stdout) as {
    budget_steps: number;
  };
  assert.equal(resumed.budget_steps, 5);
  const watched = await floe('train', 'watch', final.run_id);
  assert.match(watched.stderr, /\[#+\] step 5\/5/, 'a progress bar');
  const missing = await floe('train', 'get', 'run-nope');
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /not found/);
  assert.match((await floe('train', '--help')).stdout, /floe train start/);
});

test(
  'floe train start --strategy freezenet, then export as seed + indices + values',
  { timeout: 120_000 },
  async () => {
    const started = await floe(
      'train',
      'start',
      '--dataset',
      'builtin:mnist',
      '--arch',
      'lenet5',
      '--size',
      'small',
      '--strategy',
      'freezenet',
      '--freezing-rate',
      '0.95',
      '--steps',
      '2',
      '--batch',
      '8',
      '--watch',
      '--json',
    );
    assert.equal(started.code, 0, started.stderr);
    const final = JSON.parse(started.stdout.trim().split('\n').at(-1)!) as { run_id: string; state: string };
    assert.equal(final.state, 'RUN_STATE_PAUSED');
    const exported = JSON.parse((await floe('train', 'export', final.run_id, '--json')).stdout) as {
      format: string;
      compression: number;
    };
    assert.equal(exported.format, 'EXPORT_FORMAT_SPARSE');
    assert.ok(exported.compression > 10, `compression ${exported.compression}`);
    const bad = await floe(
      'train',
      'start',
      '--dataset',
      'builtin:mnist',
      '--arch',
      'lenet5',
      '--strategy',
      'prune',
      '--sparsity',
      '0.5',
      '--mask-method',
      'nope',
    );
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /--mask-method must be one of/);
    const unset = await floe(
      'train',
      'start',
      '--dataset',
      'builtin:mnist',
      '--arch',
      'lenet5',
      '--strategy',
      'freezenet',
    );
    assert.equal(unset.code, 1);
    assert.match(unset.stderr, /freezing_rate/);
  },
);

test(
  'floe train start --base run:ID continues another run; --strategy ade needs the old domain',
  { timeout: 120_000 },
  async () => {
    const first = await floe(
      'train',
      'start',
      '--dataset',
      'builtin:spam-assassin',
      '--steps',
      '1',
      '--batch',
      '2',
      '--seq',
      '16',
      '--watch',
      '--json',
    );
    assert.equal(first.code, 0, first.stderr);
    const base = (JSON.parse(first.stdout.trim().split('\n').at(-1)!) as { run_id: string }).run_id;
    const next = await floe(
      'train',
      'start',
      '--base',
      `run:${base}`,
      '--dataset',
      'builtin:typescript-lib',
      '--steps',
      '1',
      '--batch',
      '2',
      '--seq',
      '16',
      '--watch',
      '--json',
    );
    assert.equal(next.code, 0, next.stderr);
    const run = JSON.parse(
      (
        await floe(
          'train',
          'get',
          (JSON.parse(next.stdout.trim().split('\n').at(-1)!) as { run_id: string }).run_id,
          '--json',
        )
      ).stdout,
    ) as { state: string; step: number };
    assert.deepEqual([run.state, run.step], ['RUN_STATE_PAUSED', 1]);
    const ade = await floe(
      'train',
      'start',
      '--base',
      `run:${base}`,
      '--dataset',
      'builtin:typescript-lib',
      '--strategy',
      'ade',
    );
    assert.equal(ade.code, 1);
    assert.match(ade.stderr, /--strategy ade needs --replay/);
    const badBase = await floe('train', 'start', '--base', 'nonsense', '--dataset', 'builtin:typescript-lib');
    assert.match(badBase.stderr, /--base: expected run:RUN_ID/);
  },
);

test(
  'floe train start --keep-checkpoints 1 --keep-best; floe train checkpoints lists what stays; --base run:ID@best',
  { timeout: 120_000 },
  async () => {
    const started = await floe(
      'train',
      'start',
      '--dataset',
      'builtin:spam-assassin',
      '--steps',
      '4',
      '--batch',
      '2',
      '--seq',
      '16',
      '--eval-every',
      '1',
      '--checkpoint-every',
      '1',
      '--keep-checkpoints',
      '1',
      '--keep-best',
      '--watch',
      '--json',
    );
    assert.equal(started.code, 0, started.stderr);
    const runId = (JSON.parse(started.stdout.trim().split('\n').at(-1)!) as { run_id: string }).run_id;
    const listed = JSON.parse((await floe('train', 'checkpoints', runId, '--json')).stdout) as {
      best_step: number;
      checkpoints: { step: number; artifact_id: string; validation_loss: number; kept_because: string[] }[];
    };
    const latest = listed.checkpoints.at(-1)!;
    assert.equal(latest.step, 4);
    assert.ok(latest.kept_because.includes('latest'), JSON.stringify(latest));
    const best = listed.checkpoints.find((c) => c.step === listed.best_step)!;
    assert.ok(best.kept_because.includes('best') && Number.isFinite(best.validation_loss), JSON.stringify(listed));
    assert.ok(listed.checkpoints.length <= 2, 'the latest and the best');
    const text = await floe('train', 'checkpoints', runId);
    assert.match(text.stdout, new RegExp(`step\\s+${listed.best_step} .* best`));
    const exported = JSON.parse((await floe('train', 'export', runId, '--best', '--json')).stdout) as {
      artifact_id: string;
    };
    assert.equal(exported.artifact_id, best.artifact_id);
    const fromBest = await floe(
      'train',
      'start',
      '--base',
      `run:${runId}@best`,
      '--dataset',
      'builtin:spam-assassin',
      '--steps',
      '1',
      '--batch',
      '2',
      '--seq',
      '16',
      '--json',
    );
    assert.equal(fromBest.code, 0, fromBest.stderr);
    const bad = await floe('train', 'start', '--base', `run:${runId}@latest`, '--dataset', 'builtin:spam-assassin');
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /a step or "best"/);
    const deleted = JSON.parse((await floe('train', 'delete', runId, '--json')).stdout) as {
      run_id: string;
      kept_artifact_ids: string[];
    };
    assert.equal(deleted.run_id, runId);
    assert.deepEqual(deleted.kept_artifact_ids, [best.artifact_id], 'exported, and the base of the run above');
    assert.match((await floe('train', 'get', runId)).stderr, /not found/);
    // Released, the export of the deleted run stays: a run started from it.
    const released = JSON.parse((await floe('train', 'release', best.artifact_id, '--json')).stdout) as {
      deleted: boolean;
      kept_because: string[];
    };
    assert.deepEqual(released, { artifact_id: best.artifact_id, deleted: false, kept_because: ['base_of_run'] });
    assert.match((await floe('train', 'release', best.artifact_id)).stderr, /released already/);
  },
);
