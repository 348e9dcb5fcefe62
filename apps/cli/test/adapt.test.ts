// `floe adapt --demo` as a user runs it, against the five services on loopback: killed while the base
// model trains and again while a tuning trial trains, then run again, it finishes without repeating
// finished stages (the trainer's runs prove it: one base run, every other run a trial of the one study,
// the final run the best trial resumed); --json prints the
// summary with each domain's bits per byte; the adapted model beats the base on the new domain, its
// forgetting comes with a standard error; and the report opens in headless Chromium with every section
// and its plot (a screenshot is kept in .floe/test-artifacts/).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { commonV1, trainerV1 } from '@floe/contracts';
import { call, createClient, type FloeServer } from '@floe/service-kit';
import { quietLog, startTestServer, tempDir, testConfig } from '@floe/testing';
import { createTrainerService } from '@floe/trainer';
import { createDataProfilerService } from '@floe/data-profiler';
import { createHpoSurrogateService } from '@floe/hpo-surrogate';
import { createExplainerService } from '@floe/explainer';
import { createEvaluatorService } from '@floe/evaluator';
import { REPORT_SECTIONS } from '../src/report.js';

const root = new URL('../../..', import.meta.url).pathname;
const CHROMIUM = '/usr/bin/chromium';
const home = tempDir();
const out = join(home.path, 'adapt-out');
let server: FloeServer;
let trainer: trainerV1.TrainerServiceClient;
const children: ChildProcess[] = [];

before(async () => {
  const config = testConfig(home.path);
  server = await startTestServer(
    [
      createTrainerService({ config, log: quietLog }),
      createDataProfilerService({ config, log: quietLog }),
      createHpoSurrogateService({ config, log: quietLog }),
      createExplainerService({ config, log: quietLog }),
      createEvaluatorService({ config, log: quietLog }),
    ],
    config,
  );
  trainer = createClient(trainerV1.TrainerServiceClient, server.address);
});

after(async () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  trainer.close();
  await server.shutdown();
  home.remove();
});

/** This adaptation's runs with these labels (and states). */
const runsOf = async (labels: Record<string, string>, states: commonV1.RunState[] = []) =>
  (
    await call(
      trainer.listRuns.bind(trainer),
      trainerV1.ListRunsRequest.fromPartial({
        page: { pageSize: 1000 },
        labels: { adaptation: 'test-demo', ...labels },
        states,
      }),
    )
  ).runs;

/** The demo, small: the same flow and stages on fewer steps. */
const ARGS = [
  'adapt',
  '--demo',
  '--pretrain-steps',
  '120',
  '--steps',
  '40',
  '--tune',
  '0.6',
  '--eval-samples',
  '64',
  '--id',
  'test-demo',
];

function floe(args: string[]) {
  const child = spawn(process.execPath, ['apps/cli/bin/floe.js', ...args, '--address', server.address, '--out', out], {
    cwd: root,
    env: { ...process.env, FLOE_HOME: home.path, FLOE_LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (b: Buffer) => (stdout += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, exited, output: () => ({ stdout, stderr }) };
}

test(
  'floe adapt --demo: killed while training, twice, then run again, it finishes without repeating a stage; the report renders',
  { timeout: 900_000 },
  async () => {
    // Killed while the base model trains, then while a tuning trial trains.
    for (const stage of ['base', 'tune'] as const) {
      const attempt = floe(ARGS);
      const stageStarted = new RegExp(`\n  ${stage} +\\S`);
      let training = false;
      for (let i = 0; i < 3000 && !training && attempt.child.exitCode === null; i++) {
        await new Promise((r) => setTimeout(r, 200));
        if (!stageStarted.test(attempt.output().stderr)) continue;
        const running = await runsOf({}, [commonV1.RunState.RUN_STATE_RUNNING]);
        training = running.some((r) => Number(r.step) > 0 && (r.spec!.labels.stage === 'base') === (stage === 'base'));
      }
      assert.ok(training, `never saw ${stage} training: ${attempt.output().stderr}`);
      attempt.child.kill('SIGKILL');
      await attempt.exited;
    }

    // The same command again: it finishes.
    const second = floe([...ARGS, '--json']);
    const code = await second.exited;
    const { stdout, stderr } = second.output();
    assert.equal(code, 0, stderr);
    const summary = JSON.parse(stdout.trim().split('\n').at(-1)!);
    const status = Object.fromEntries(
      summary.stages.map((s: { stage: string; status: string }) => [s.stage, s.status]),
    );
    for (const stage of ['base', 'profile', 'plan']) assert.equal(status[stage], 'reused', stage);
    for (const stage of ['tune', 'train', 'evaluate', 'explain']) assert.equal(status[stage], 'done', stage);
    // Nothing trained twice: one base run across three attempts, and every other run is one of the
    // study's trials, once (the final run is the best trial resumed, not a new run).
    const report = JSON.parse(readFileSync(summary.report_json, 'utf8'));
    const all = await runsOf({});
    assert.equal(all.filter((r) => r.spec!.labels.stage === 'base').length, 1, 'one base run');
    assert.deepEqual(
      all
        .filter((r) => r.spec!.labels.stage !== 'base')
        .map((r) => r.runId)
        .sort(),
      report.tuning.trials.map((t: { runId: string }) => t.runId).sort(),
      'every other run is a trial, once',
    );

    // The summary: each domain's bits per byte; the adapted model better on the new domain; forgetting
    // with its standard error.
    for (const key of ['report', 'report_json']) assert.ok(existsSync(summary[key]), key);
    for (const side of [summary.base, summary.adapted])
      for (const key of ['new_bpb', 'old_bpb']) assert.ok(Number.isFinite(side[key]), key);
    assert.ok(summary.adapted.new_bpb < summary.base.new_bpb, JSON.stringify(summary));
    assert.ok(summary.adapted.new_gain > 2 * summary.adapted.new_gain_stderr);
    assert.ok(Number.isFinite(summary.adapted.forgetting) && summary.adapted.forgetting_stderr > 0);
    assert.equal(report.run.runId, summary.adapted.run_id);
    assert.equal(report.run.runId, report.tuning.incumbent.runId, 'the final run is the best trial resumed');
    assert.match(summary.trace_id, /^[0-9a-f]{32}$/);
    assert.notEqual(summary.trace_id, '0'.repeat(32));

    // The report in a browser: every section there, each with its plot drawn.
    assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install chromium (.ci/run does)`);
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
    try {
      const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
      const requests: string[] = [];
      page.on('request', (r) => requests.push(r.url()));
      await page.goto(`file://${summary.report}`);
      const sections = await page.$$eval('section', (all) =>
        all.map((s) => ({
          id: s.id,
          plots: s.querySelectorAll('figure svg').length,
          marks: s.querySelectorAll('figure svg path, figure svg rect, figure svg line').length,
          skipped: !!s.querySelector('.skipped'),
          height: s.getBoundingClientRect().height,
        })),
      );
      assert.deepEqual(
        sections.map((s) => s.id),
        REPORT_SECTIONS.map(([id]) => id),
      );
      for (const s of sections) {
        assert.equal(s.skipped, false, s.id);
        assert.ok(s.plots >= 1 && s.marks > 5, `${s.id}: ${s.plots} plots, ${s.marks} marks`);
        assert.ok(s.height > 100, `${s.id} is drawn`);
      }
      assert.deepEqual(
        requests.filter((u) => !u.startsWith('file:')),
        [],
        'the report needs no network',
      );
      const shots = join(root, '.floe', 'test-artifacts');
      mkdirSync(shots, { recursive: true });
      await page.screenshot({ path: join(shots, 'adapt-report.png'), fullPage: true });
    } finally {
      await browser.close();
    }
  },
);
