// The data-profiler through a real server: profiles with progress, drift verdicts, and clear errors for
// bad input. Plans from a trained run's model are tested with the trainer beside it (apps/cli/test).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { commonV1, dataProfilerV1 as dp } from '@floe/contracts';
import { collect, createClient, type FloeServer } from '@floe/service-kit';
import { quietLog, rejectsWith, startTestServer, tempDir, testConfig } from '@floe/testing';
import { createDataProfilerService } from '../src/index.js';

const home = tempDir();
const dataRoot = join(home.path, 'data');
let server: FloeServer;
let small: FloeServer;
let profiler: dp.DataProfilerServiceClient;
let smallProfiler: dp.DataProfilerServiceClient;
let socket: Server;

before(async () => {
  mkdirSync(dataRoot, { recursive: true });
  writeFileSync(join(dataRoot, 'notes.txt'), 'hello world\nhello again\n');
  socket = createServer().listen(join(dataRoot, 'socket.txt'));
  const config = testConfig(home.path, { FLOE_DATA_ROOTS: dataRoot, FLOE_MAX_CONCURRENT_RUNS: '1' });
  server = await startTestServer([createDataProfilerService({ config, log: quietLog })], config);
  const smallConfig = testConfig(home.path, { FLOE_DATA_ROOTS: dataRoot, FLOE_MAX_DATASET_BYTES: '100000' });
  small = await startTestServer([createDataProfilerService({ config: smallConfig, log: quietLog })], smallConfig);
  profiler = createClient(dp.DataProfilerServiceClient, server.address);
  smallProfiler = createClient(dp.DataProfilerServiceClient, small.address);
});

after(async () => {
  for (const c of [profiler, smallProfiler]) c.close();
  await server.shutdown();
  await small.shutdown();
  socket.close();
  home.remove();
});

const ref = (uri: string, split = commonV1.DatasetSplit.DATASET_SPLIT_UNSPECIFIED): commonV1.DatasetRef => ({
  uri,
  split,
  maxExamples: 0,
  targetColumn: '',
  ignoreColumns: [],
});

test('ProfileDataset streams progress, then the profile (text, tabular, image)', { timeout: 120_000 }, async () => {
  const events = await collect(profiler.profileDataset({ dataset: ref('builtin:spam-assassin'), bins: 10 }));
  const progress = events.filter((e) => e.event?.$case === 'progress');
  assert.ok(progress.length >= 5, `${progress.length} progress events`);
  const fractions = progress.map((e) => (e.event!.value as commonV1.Progress).fraction);
  assert.deepEqual(
    fractions,
    [...fractions].sort((a, b) => a - b),
    'progress only grows',
  );
  const last = events.at(-1)!.event!;
  assert.equal(last.$case, 'profile');
  const p = last.value as dp.DatasetProfile;
  assert.equal(p.kind, dp.DataKind.DATA_KIND_TEXT);
  assert.equal(p.exampleCount, 6046);
  const text = (p.detail as { value: dp.TextProfile }).value;
  assert.equal(
    text.byteCounts.reduce((a, b) => a + b, 0),
    p.byteCount,
  );
  assert.ok(text.byteEntropyBits > 4 && text.byteEntropyBits < 6.5, `byte entropy ${text.byteEntropyBits}`);
  assert.ok(text.vocabularySize > 10_000);
  assert.equal(text.lengthHistogram!.counts.length, 10);

  const penguins = (await collect(profiler.profileDataset({ dataset: ref('builtin:penguins'), bins: 0 }))).at(-1)!
    .event!.value as dp.DatasetProfile;
  assert.equal(penguins.detail?.$case, 'tabular');
  const mnist = (await collect(profiler.profileDataset({ dataset: ref('builtin:mnist'), bins: 0 }))).at(-1)!.event!
    .value as dp.DatasetProfile;
  assert.equal(mnist.detail?.$case, 'image');
});

test('CompareDatasets: e-mails against themselves are stable, against code shifted', { timeout: 120_000 }, async () => {
  const report = async (a: commonV1.DatasetRef, b: commonV1.DatasetRef) =>
    (await collect(profiler.compareDatasets({ reference: a, current: b, bins: 0 }))).at(-1)!.event!
      .value as dp.DriftReport;
  const same = await report(ref('builtin:spam-assassin', 1), ref('builtin:spam-assassin', 3));
  assert.ok(same.overallPsi < 0.1, `held-out e-mails: PSI ${same.overallPsi}`);
  const code = await report(ref('builtin:spam-assassin'), ref('builtin:typescript-lib'));
  assert.equal(code.verdict, dp.DriftVerdict.DRIFT_VERDICT_SHIFTED);
  assert.ok(code.overallPsi > 0.25);
  assert.deepEqual(
    code.features.map((f) => f.feature),
    ['byte', 'document_length'],
  );
  await rejectsWith(
    collect(
      profiler.compareDatasets({ reference: ref('builtin:spam-assassin'), current: ref('builtin:iris'), bins: 0 }),
    ),
    grpc.status.INVALID_ARGUMENT,
    'current',
  );
  await rejectsWith(
    collect(
      profiler.compareDatasets({
        reference: ref('builtin:iris'),
        current: ref('builtin:iris'),
        bins: 0,
        thresholds: { psiModerate: 0.5, psiShifted: 0.2, ksPValue: 0, jsDistance: 0 },
      }),
    ),
    grpc.status.INVALID_ARGUMENT,
    'thresholds.psi_moderate',
  );
});

test('CompareDatasets names a column that starts arriving empty: its missing share, not a change of its values', async () => {
  // The same 200 rows, but in the current file the column "income" is blank in every other row.
  const rows = Array.from({ length: 200 }, (_, i) => [i % 37, 1000 + ((i * 7) % 101), i % 2 ? 'yes' : 'no']);
  const csv = (blankIncome: boolean) =>
    ['age,income,label', ...rows.map(([a, inc, l], i) => `${a},${blankIncome && i % 2 ? '' : inc},${l}`)].join('\n');
  writeFileSync(join(dataRoot, 'complete.csv'), csv(false));
  writeFileSync(join(dataRoot, 'gappy.csv'), csv(true));
  const report = (
    await collect(
      profiler.compareDatasets({ reference: ref('file:complete.csv'), current: ref('file:gappy.csv'), bins: 0 }),
    )
  ).at(-1)!.event!.value as dp.DriftReport;
  const byName = Object.fromEntries(report.features.map((f) => [f.feature, f]));
  assert.deepEqual([byName.income!.missingShareReference, byName.income!.missingShareCurrent], [0, 0.5]);
  assert.equal(byName.income!.verdict, dp.DriftVerdict.DRIFT_VERDICT_SHIFTED);
  assert.deepEqual([byName.age!.missingShareCurrent, byName.age!.psi], [0, 0]);
  assert.equal(report.verdict, dp.DriftVerdict.DRIFT_VERDICT_SHIFTED);
});

test(
  'bad input: missing or unreadable file NOT_FOUND, outside the roots PERMISSION_DENIED, over the cap RESOURCE_EXHAUSTED, unknown model NOT_FOUND',
  { timeout: 60_000 },
  async () => {
    const profile = (c: dp.DataProfilerServiceClient, uri: string) =>
      collect(c.profileDataset({ dataset: ref(uri), bins: 0 }));
    await rejectsWith(profile(profiler, 'file:missing.txt'), grpc.status.NOT_FOUND);
    await rejectsWith(profile(profiler, 'file:socket.txt'), grpc.status.NOT_FOUND);
    await rejectsWith(profile(profiler, 'file:/etc/hostname'), grpc.status.PERMISSION_DENIED);
    await rejectsWith(profile(smallProfiler, 'builtin:spam-assassin'), grpc.status.RESOURCE_EXHAUSTED);
    assert.equal(
      ((await profile(smallProfiler, 'file:notes.txt')).at(-1)!.event!.value as dp.DatasetProfile).byteCount,
      24,
      'a small file is fine',
    );
    const score = (model: commonV1.ModelRef) =>
      collect(
        profiler.scoreBlocks({
          model,
          dataset: ref('builtin:spam-assassin'),
          reference: undefined,
          calibrationBatches: 1,
          batchSize: 2,
          sequenceLength: 16,
          seed: 1,
        }),
      );
    const builtin = (size: string) => ({
      source: {
        $case: 'builtin' as const,
        value: { architecture: commonV1.ModelArchitecture.MODEL_ARCHITECTURE_TRANSFORMER_LM, size, seed: 1 },
      },
    });
    await rejectsWith(score(builtin('enormous')), grpc.status.NOT_FOUND);
    await rejectsWith(score({ source: { $case: 'artifactId', value: 'art-missing' } }), grpc.status.NOT_FOUND);
    await rejectsWith(
      collect(
        profiler.scoreBlocks({
          model: builtin('tiny'),
          dataset: ref('builtin:iris'),
          reference: undefined,
          calibrationBatches: 1,
          batchSize: 2,
          sequenceLength: 16,
          seed: 1,
        }),
      ),
      grpc.status.INVALID_ARGUMENT,
      'dataset',
    );
  },
);
