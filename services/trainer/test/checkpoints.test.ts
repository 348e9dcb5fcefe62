// A run's checkpoints on disk: what a run keeps as it writes them (the newest N, its latest, its best,
// exported ones and the bases of other runs), what it deletes, the checkpoints it lists, and DeleteRun.
// The ledger on a real SQLite store and artifact folder with chosen validation losses; then real runs
// through a gRPC server.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { commonV1, trainerV1 } from '@floe/contracts';
import { call, collect } from '@floe/service-kit';
import { LocalArtifactStore, SqliteMetadataStore } from '@floe/store';
import { rejectsWith, tempDir } from '@floe/testing';
import { startTrainer, tinyLmSpec, trainerUnderTest, withOwnTrainer } from './trainer-fixture.js';
import { CheckpointLedger } from '../src/checkpoints.js';

const R = trainerV1.CheckpointKeptReason;

let client: trainerV1.TrainerServiceClient;
// Dropped checkpoints leave the disk at once here, so the tests see what a retention keeps.
const trainer = trainerUnderTest(
  { FLOE_MAX_CONCURRENT_RUNS: '2', FLOE_CHECKPOINT_GRACE_MS: '0' },
  (t) => (client = t.client),
);
const onDisk = new LocalArtifactStore(join(trainer.home.path, 'artifacts'));

test('the ledger keeps the newest N, the latest and the best; pins outlive the retention', async () => {
  const dir = tempDir();
  try {
    const store = new SqliteMetadataStore(join(dir.path, 'm.sqlite'));
    const artifacts = new LocalArtifactStore(join(dir.path, 'artifacts'));
    const ledger = new CheckpointLedger(store, artifacts);
    const retention = { keepLast: 2, keepBest: true };
    // Validation losses by step: the best (0.5) is at step 2, long before the newest two.
    const losses = [0.9, 0.5, 0.7, undefined, 0.8, 0.6, 0.75];
    const ids: string[] = [];
    for (const [i, loss] of losses.entries()) {
      const step = i + 1;
      const a = await artifacts.put(
        'checkpoint',
        { 'w.bin': new Uint8Array([step]) },
        { labels: { run: 'r', step: String(step) } },
      );
      ids.push(a.manifest.id);
      if (step === 3) ledger.pin(a.manifest.id, { exported: true });
      const { best, dropped } = ledger.record(
        'r',
        { step, artifactId: a.manifest.id, validationLoss: loss },
        retention,
      );
      await ledger.collect(dropped);
      assert.equal(best?.step, step === 1 ? 1 : 2, `best after step ${step}`);
    }
    const held = (await ledger.entries('r')).map((e) => e.step);
    assert.deepEqual(held, [2, 3, 6, 7], 'best (2), exported (3), the newest two (6, 7)');
    for (const [i, id] of ids.entries())
      assert.equal((await artifacts.get(id)) !== undefined, held.includes(i + 1), `step ${i + 1} on disk`);
    assert.equal(await ledger.resolve('r', 0, true), ids[1]);
    assert.equal(await ledger.resolve('r', 0), ids[6]);
    assert.equal(await ledger.resolve('r', 3), ids[2]);
    await assert.rejects(ledger.resolve('r', 4), /r@4/);
    const listed = await ledger.list('r', retention);
    assert.equal(listed.bestStep, 2);
    assert.deepEqual(
      listed.checkpoints.map((c) => [c.step, c.validationLoss, c.keptBecause]),
      [
        [2, 0.5, [R.CHECKPOINT_KEPT_REASON_BEST]],
        [3, 0.7, [R.CHECKPOINT_KEPT_REASON_EXPORTED]],
        [6, 0.6, [R.CHECKPOINT_KEPT_REASON_RECENT]],
        [7, 0.75, [R.CHECKPOINT_KEPT_REASON_RECENT, R.CHECKPOINT_KEPT_REASON_LATEST]],
      ],
    );
    // Without a retention nothing is deleted.
    for (const step of [1, 2, 3]) {
      const a = await artifacts.put(
        'checkpoint',
        { 'w.bin': new Uint8Array([step]) },
        { labels: { run: 's', step: String(step) } },
      );
      assert.deepEqual(ledger.record('s', { step, artifactId: a.manifest.id }, undefined).dropped, []);
    }
    assert.deepEqual(
      (await ledger.list('s', undefined)).checkpoints.map((c) => c.keptBecause),
      [
        [R.CHECKPOINT_KEPT_REASON_ALL],
        [R.CHECKPOINT_KEPT_REASON_ALL],
        [R.CHECKPOINT_KEPT_REASON_ALL, R.CHECKPOINT_KEPT_REASON_LATEST],
      ],
    );
    store.close();
  } finally {
    dir.remove();
  }
});

test('dropped checkpoints wait out their grace period in the trash, across a restart', async () => {
  const dir = tempDir();
  try {
    const path = join(dir.path, 'm.sqlite');
    let store = new SqliteMetadataStore(path);
    const artifacts = new LocalArtifactStore(join(dir.path, 'artifacts'));
    let now = 1_000_000;
    const clock = { graceMs: 60_000, now: () => now };
    const ledger = new CheckpointLedger(store, artifacts, clock);
    const ids: string[] = [];
    for (const step of [1, 2, 3]) {
      const a = await artifacts.put(
        'checkpoint',
        { 'w.bin': new Uint8Array([step]) },
        { labels: { run: 'r', step: String(step) } },
      );
      ids.push(a.manifest.id);
      ledger.record('r', { step, artifactId: a.manifest.id }, { keepLast: 1, keepBest: false });
      now += 1000;
    }
    // Gone from the record at once: nothing resolves or lists them.
    assert.deepEqual(
      (await ledger.list('r', { keepLast: 1, keepBest: false })).checkpoints.map((c) => c.step),
      [3],
    );
    await assert.rejects(ledger.resolve('r', 2), /r@2/);
    // On disk until due: a reader that resolved step 2 just before can still open it.
    assert.equal(ledger.nextDue(), 1_000_000 + 1000 + 60_000);
    assert.equal(await ledger.collect(), 0);
    for (const id of ids) assert.ok(await artifacts.get(id), 'still on disk within the grace period');
    // Step 1 falls due; step 2 is claimed in its grace period (a run started from it) and stays.
    ledger.pin(ids[1]!, { baseOf: 'child' });
    now = 1_000_000 + 1000 + 60_000;
    assert.equal(await ledger.collect(), 1);
    assert.equal(await artifacts.get(ids[0]!), undefined);
    // A restart finds the trash where it was.
    store.close();
    store = new SqliteMetadataStore(path);
    const restarted = new CheckpointLedger(store, artifacts, clock);
    assert.equal(restarted.nextDue(), 1_000_000 + 2000 + 60_000);
    now += 1000;
    assert.equal(await restarted.collect(), 0, 'the pinned one is not deleted');
    assert.ok(await artifacts.get(ids[1]!));
    assert.ok(await artifacts.get(ids[2]!), 'the latest is never in the trash');
    assert.equal(restarted.nextDue(), undefined);
    store.close();
  } finally {
    dir.remove();
  }
});

test("a released export falls back under its run's retention; a sparse one goes", async () => {
  const dir = tempDir();
  try {
    const store = new SqliteMetadataStore(join(dir.path, 'm.sqlite'));
    const artifacts = new LocalArtifactStore(join(dir.path, 'artifacts'));
    const ledger = new CheckpointLedger(store, artifacts);
    const retention = { keepLast: 1, keepBest: false };
    const ids: string[] = [];
    const write = async (run: string, step: number) => {
      const a = await artifacts.put(
        'checkpoint',
        { 'w.bin': new Uint8Array([step]) },
        { labels: { run, step: String(step) } },
      );
      ids.push(a.manifest.id);
      return a.manifest.id;
    };
    for (const step of [1, 2, 3]) {
      const id = await write('r', step);
      if (step < 3) ledger.pin(id, { exported: true });
      ledger.record('r', { step, artifactId: id }, retention);
    }
    const held = async () => (await ledger.entries('r')).map((e) => e.step);
    assert.deepEqual(await held(), [1, 2, 3], 'both exports outlive keep_last 1');
    const stopped = { run: { id: 'r', retention, training: false }, sparse: false };
    // Step 1: nothing else keeps it — it leaves the record and enters the trash.
    assert.deepEqual(ledger.release(ids[0]!, stopped), { deleted: true, keptBecause: [] });
    assert.deepEqual(await held(), [2, 3]);
    assert.throws(() => ledger.release(ids[0]!, stopped), /released already/);
    assert.equal(await ledger.collect(), 1);
    assert.equal(await artifacts.get(ids[0]!), undefined);
    // Step 2 is also another run's base: it stays, and says why.
    ledger.pin(ids[1]!, { baseOf: 'child' });
    assert.deepEqual(ledger.release(ids[1]!, stopped), {
      deleted: false,
      keptBecause: [R.CHECKPOINT_KEPT_REASON_BASE_OF_RUN],
    });
    // The latest was never exported; exported, its release leaves it where the retention keeps it.
    assert.throws(() => ledger.release(ids[2]!, stopped), /was not exported/);
    ledger.pin(ids[2]!, { exported: true });
    assert.deepEqual(ledger.release(ids[2]!, stopped), {
      deleted: false,
      keptBecause: [R.CHECKPOINT_KEPT_REASON_RECENT, R.CHECKPOINT_KEPT_REASON_LATEST],
    });
    // A run still training: the pin goes, and its next checkpoint applies the retention.
    const first = await write('t', 1);
    ledger.pin(first, { exported: true });
    ledger.record('t', { step: 1, artifactId: first }, retention);
    ledger.record('t', { step: 2, artifactId: await write('t', 2) }, retention);
    const training = { run: { id: 't', retention, training: true }, sparse: false };
    assert.deepEqual(ledger.release(first, training), { deleted: false, keptBecause: [] });
    assert.deepEqual(
      ledger.record('t', { step: 3, artifactId: await write('t', 3) }, retention).dropped.sort(),
      [first, ids.at(-2)!].sort(),
    );
    // The export of a deleted run, and a sparse export, go.
    const orphan = await write('gone', 1);
    ledger.pin(orphan, { exported: true });
    assert.deepEqual(ledger.release(orphan, { sparse: false }), { deleted: true, keptBecause: [] });
    const sparse = await artifacts.put(
      'sparse-model',
      { 'sparse.json': new Uint8Array([1]) },
      { labels: { run: 'r' } },
    );
    assert.deepEqual(ledger.release(sparse.manifest.id, { ...stopped, sparse: true }), {
      deleted: true,
      keptBecause: [],
    });
    await ledger.collect();
    assert.equal(await artifacts.get(sparse.manifest.id), undefined);
    assert.equal(await artifacts.get(orphan), undefined);
    store.close();
  } finally {
    dir.remove();
  }
});

test('a record written before the ledger had a history still finds its older checkpoints', async () => {
  const dir = tempDir();
  try {
    const store = new SqliteMetadataStore(join(dir.path, 'm.sqlite'));
    const artifacts = new LocalArtifactStore(join(dir.path, 'artifacts'));
    const ids: string[] = [];
    for (const step of [2, 4]) {
      const a = await artifacts.put(
        'checkpoint',
        { 'w.bin': new Uint8Array([step]) },
        { labels: { run: 'old', step: String(step) } },
      );
      ids.push(a.manifest.id);
    }
    // What the trainer stored until now: the latest only.
    store.create('run-checkpoint', 'old', '', { checkpoint: ids[1], step: 4 });
    const ledger = new CheckpointLedger(store, artifacts);
    assert.equal(await ledger.resolve('old', 2), ids[0]);
    const a = await artifacts.put(
      'checkpoint',
      { 'w.bin': new Uint8Array([6]) },
      { labels: { run: 'old', step: '6' } },
    );
    ledger.record('old', { step: 6, artifactId: a.manifest.id }, undefined);
    assert.deepEqual(
      (await ledger.entries('old')).map((e) => e.step),
      [2, 4, 6],
    );
    assert.equal(await ledger.resolve('old', 4), ids[1]);
    store.close();
  } finally {
    dir.remove();
  }
});

test('checkpoints written but never recorded before a start-up go to the trash; recorded, pinned and newer ones stay', async () => {
  const dir = tempDir();
  try {
    const store = new SqliteMetadataStore(join(dir.path, 'm.sqlite'));
    const artifacts = new LocalArtifactStore(join(dir.path, 'artifacts'));
    const ledger = new CheckpointLedger(store, artifacts);
    const put = async (run: string, step: number) =>
      (await artifacts.put('checkpoint', { 'w.bin': new Uint8Array([step]) }, { labels: { run, step: String(step) } }))
        .manifest.id;
    const recorded = [await put('r', 2), await put('r', 4)];
    for (const [i, id] of recorded.entries()) ledger.record('r', { step: 2 * (i + 1), artifactId: id }, undefined);
    // A crash between writing step 6 and recording it; the resumed run wrote step 6 again and recorded that.
    const lost = await put('r', 6);
    const again = await put('r', 6);
    ledger.record('r', { step: 6, artifactId: again }, undefined);
    // Left by a run deleted halfway; an exported artifact nothing records; a run from before the history.
    const leftover = await put('deleted', 1);
    const exported = await put('deleted', 2);
    ledger.pin(exported, { exported: true });
    const old = await put('old', 3);
    store.create('run-checkpoint', 'old', '', { checkpoint: old, step: 3 });
    const oldUnlisted = await put('old', 1);
    await new Promise((resolve) => setTimeout(resolve, 5));
    const startedAt = Date.now();
    await new Promise((resolve) => setTimeout(resolve, 5));
    const newer = await put('r', 8); // written since: its run may be about to record it

    assert.deepEqual((await ledger.trashUnrecorded(startedAt)).sort(), [lost, leftover].sort());
    assert.equal(await ledger.collect(), 2);
    const onDiskNow = new Set((await artifacts.list('checkpoint')).map((a) => a.manifest.id));
    assert.deepEqual(
      [lost, leftover].map((id) => onDiskNow.has(id)),
      [false, false],
    );
    for (const id of [...recorded, again, exported, old, oldUnlisted, newer]) assert.ok(onDiskNow.has(id), id);
    assert.deepEqual(
      (await ledger.entries('r')).map((e) => e.artifactId),
      [...recorded, again],
    );
    assert.equal(await ledger.resolve('old', 1), oldUnlisted, 'a record from before the history finds it by label');
    assert.deepEqual(await ledger.trashUnrecorded(Date.now()), [newer], 'once older than a start-up, it goes too');
    store.close();
  } finally {
    dir.remove();
  }
});

test(
  'a trainer started on a store a crashed one left deletes the checkpoints it never recorded',
  { timeout: 120_000 },
  async () => {
    const home = tempDir();
    try {
      const first = await startTrainer(home.path, {});
      const { run } = await call(first.client.startRun.bind(first.client), { requestId: '', spec: tinyLmSpec() });
      await collect(first.client.watchRun({ runId: run!.runId, fromStep: 0 }));
      const listed = async (c: trainerV1.TrainerServiceClient) =>
        (await call(c.listCheckpoints.bind(c), { runId: run!.runId })).checkpoints.map((c) => c.artifactId);
      const held = await listed(first.client);
      first.client.close();
      await first.server.shutdown();
      // What a process killed between writing a checkpoint and recording it leaves on disk.
      const artifacts = new LocalArtifactStore(join(home.path, 'artifacts'));
      const lost = (
        await artifacts.put('checkpoint', { 'w.bin': new Uint8Array(8) }, { labels: { run: run!.runId, step: '6' } })
      ).manifest.id;
      const second = await startTrainer(home.path, {});
      try {
        for (let waited = 0; (await artifacts.get(lost)) && waited < 10_000; waited += 50)
          await new Promise((resolve) => setTimeout(resolve, 50));
        assert.equal(await artifacts.get(lost), undefined, 'the unrecorded checkpoint left the disk');
        assert.deepEqual(await listed(second.client), held, 'the recorded ones stay');
        for (const id of held) assert.ok(await artifacts.get(id));
      } finally {
        second.client.close();
        await second.server.shutdown();
      }
    } finally {
      home.remove();
    }
  },
);

/** Evaluated and checkpointed at every step; a learning rate high enough that the best step is not always the last. */
const spec = (over: Partial<trainerV1.RunSpec> = {}): trainerV1.RunSpec =>
  tinyLmSpec({
    optimizer: trainerV1.OptimizerConfig.fromPartial({
      kind: trainerV1.OptimizerKind.OPTIMIZER_KIND_ADAMW,
      learningRate: 3e-2,
    }),
    evalIntervalSteps: 1,
    checkpointIntervalSteps: 1,
    ...over,
  });

/** Watches a run until it stops; its validation loss by step and the final run. */
async function finish(runId: string): Promise<{ validation: Map<number, number>; run: trainerV1.Run }> {
  const events = await collect(client.watchRun({ runId, fromStep: 0 }));
  const validation = new Map<number, number>();
  for (const e of events)
    if (e.event?.$case === 'step' && e.event.value.validationLoss !== undefined)
      validation.set(Number(e.event.value.step), e.event.value.validationLoss);
  return { validation, run: (events.at(-1)!.event as { value: trainerV1.Run }).value };
}

/**
 * The steps of a run's checkpoint artifacts on disk, once they are `expected` (dropped checkpoints leave the
 * record at once and the disk just after; 5 s at most).
 */
async function stepsOnDisk(runId: string, expected: number[]): Promise<number[]> {
  for (let waited = 0; ; waited += 50) {
    const steps = (await onDisk.list('checkpoint'))
      .filter((a) => a.manifest.labels.run === runId)
      .map((a) => Number(a.manifest.labels.step))
      .sort((x, y) => x - y);
    if (waited >= 5000 || JSON.stringify(steps) === JSON.stringify(expected)) return steps;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const exportAt = (runId: string, over: Partial<trainerV1.ExportModelRequest> = {}) =>
  call(client.exportModel.bind(client), {
    runId,
    step: 0,
    format: trainerV1.ExportFormat.EXPORT_FORMAT_CHECKPOINT,
    best: false,
    transient: false,
    ...over,
  });

test(
  'a run with keep_last 2 and keep_best holds its newest two and its best, on disk and in ListCheckpoints',
  { timeout: 180_000 },
  async () => {
    const { run } = await call(client.startRun.bind(client), {
      requestId: 'kept',
      spec: spec({ checkpointRetention: { keepLast: 2, keepBest: true } }),
    });
    const { validation, run: done } = await finish(run!.runId);
    assert.equal(done.state, commonV1.RunState.RUN_STATE_PAUSED);
    const bestStep = [...validation].reduce((a, b) => (b[1] < a[1] ? b : a))[0];
    assert.equal(done.bestCheckpointStep, bestStep, `validation losses ${JSON.stringify([...validation])}`);
    const expected = [...new Set([bestStep, 5, 6])].sort((x, y) => x - y);
    assert.deepEqual(await stepsOnDisk(run!.runId, expected), expected);
    const listed = await call(client.listCheckpoints.bind(client), { runId: run!.runId });
    assert.deepEqual(
      listed.checkpoints.map((c) => c.step),
      expected,
    );
    assert.equal(listed.bestStep, bestStep);
    for (const c of listed.checkpoints) {
      assert.equal(c.validationLoss, validation.get(c.step), `the loss measured at step ${c.step}`);
      assert.ok(c.sizeBytes > 0);
    }
    // The best checkpoint by name, for ExportModel and for a run that starts from it.
    const best = await exportAt(run!.runId, { best: true, transient: true });
    assert.equal(best.artifact!.artifactId, listed.checkpoints.find((c) => c.step === bestStep)!.artifactId);
    if (!expected.includes(1)) await rejectsWith(exportAt(run!.runId, { step: 1 }), grpc.status.NOT_FOUND);
    const child = await call(client.startRun.bind(client), {
      requestId: 'from-best',
      spec: spec({
        budgetSteps: 1,
        baseModel: { source: { $case: 'run', value: { runId: run!.runId, step: 0, best: true } } },
      }),
    });
    assert.equal(child.run!.baseArtifactId, best.artifact!.artifactId);
    await finish(child.run!.runId);
  },
);

test('exported checkpoints and bases of other runs outlive keep_last 1', { timeout: 180_000 }, async () => {
  const first = await call(client.startRun.bind(client), {
    requestId: 'pins',
    spec: spec({ budgetSteps: 2, checkpointRetention: { keepLast: 1, keepBest: false } }),
  });
  const runId = first.run!.runId;
  await finish(runId);
  assert.deepEqual(await stepsOnDisk(runId, [2]), [2]);
  const exported = await exportAt(runId);
  // A transient read (how the evaluator opens a run) pins nothing.
  await exportAt(runId, { transient: true });
  const resume = (requestId: string) => call(client.resumeRun.bind(client), { runId, additionalSteps: 2, requestId });
  await resume('pins-resume-1');
  await finish(runId);
  assert.deepEqual(await stepsOnDisk(runId, [2, 4]), [2, 4], 'the export at 2 stays; 3 went');
  const child = await call(client.startRun.bind(client), {
    requestId: 'child-of-4',
    spec: spec({ budgetSteps: 1, baseModel: { source: { $case: 'run', value: { runId, step: 4, best: false } } } }),
  });
  await finish(child.run!.runId);
  await resume('pins-resume-2');
  const { run } = await finish(runId);
  assert.equal(run.step, 6);
  assert.deepEqual(await stepsOnDisk(runId, [2, 4, 6]), [2, 4, 6], 'the base of the child run (4) stays; 5 went');
  const listed = await call(client.listCheckpoints.bind(client), { runId });
  assert.deepEqual(
    listed.checkpoints.map((c) => [c.step, c.keptBecause]),
    [
      [2, [R.CHECKPOINT_KEPT_REASON_EXPORTED]],
      [4, [R.CHECKPOINT_KEPT_REASON_BASE_OF_RUN]],
      [6, [R.CHECKPOINT_KEPT_REASON_RECENT, R.CHECKPOINT_KEPT_REASON_LATEST]],
    ],
  );
  // The exported artifact is the checkpoint itself and still loads as a base model.
  assert.equal(listed.checkpoints[0]!.artifactId, exported.artifact!.artifactId);
  const fromExport = await call(client.startRun.bind(client), {
    requestId: 'from-export',
    spec: spec({
      budgetSteps: 1,
      baseModel: { source: { $case: 'artifactId', value: exported.artifact!.artifactId } },
    }),
  });
  assert.equal((await finish(fromExport.run!.runId)).run.state, commonV1.RunState.RUN_STATE_PAUSED);
});

test('bad retention and best references are INVALID_ARGUMENT naming the field; nothing is stored', async () => {
  const before = (
    await call(client.listRuns.bind(client), { states: [], labels: {}, page: { pageSize: 100, pageToken: '' } })
  ).runs.length;
  await rejectsWith(
    call(client.startRun.bind(client), {
      requestId: '',
      spec: spec({ checkpointRetention: { keepLast: -1, keepBest: false } }),
    }),
    grpc.status.INVALID_ARGUMENT,
    'spec.checkpoint_retention.keep_last',
  );
  await rejectsWith(
    call(client.startRun.bind(client), {
      requestId: '',
      spec: spec({ evalIntervalSteps: 0, checkpointRetention: { keepLast: 2, keepBest: true } }),
    }),
    grpc.status.INVALID_ARGUMENT,
    'spec.checkpoint_retention.keep_best',
  );
  await rejectsWith(
    call(client.startRun.bind(client), {
      requestId: '',
      spec: spec({ baseModel: { source: { $case: 'run', value: { runId: 'run-x', step: 3, best: true } } } }),
    }),
    grpc.status.INVALID_ARGUMENT,
    'spec.base_model.run.step',
  );
  await rejectsWith(exportAt('run-x', { step: 3, best: true }), grpc.status.INVALID_ARGUMENT, 'step');
  await rejectsWith(call(client.listCheckpoints.bind(client), { runId: 'run-unknown' }), grpc.status.NOT_FOUND);
  const after = (
    await call(client.listRuns.bind(client), { states: [], labels: {}, page: { pageSize: 100, pageToken: '' } })
  ).runs.length;
  assert.equal(after, before);
});

test(
  'a run that never evaluated has no best checkpoint: FAILED_PRECONDITION saying why',
  { timeout: 120_000 },
  async () => {
    const { run } = await call(client.startRun.bind(client), {
      requestId: 'no-eval',
      spec: spec({ budgetSteps: 2, evalIntervalSteps: 0 }),
    });
    const { run: done } = await finish(run!.runId);
    assert.equal(done.bestCheckpointStep, 0);
    const e = await rejectsWith(exportAt(run!.runId, { best: true }), grpc.status.FAILED_PRECONDITION);
    assert.match(e.details, /eval_interval_steps/);
    // Without a retention every checkpoint stays.
    assert.deepEqual(await stepsOnDisk(run!.runId, [1, 2]), [1, 2]);
  },
);

test(
  'DeleteRun: a stopped run goes with its metrics and checkpoints; exported ones and bases of other runs stay',
  { timeout: 180_000 },
  async () => {
    const first = await call(client.startRun.bind(client), { requestId: 'doomed', spec: spec({ budgetSteps: 3 }) });
    const runId = first.run!.runId;
    await finish(runId);
    const held = await call(client.listCheckpoints.bind(client), { runId });
    assert.deepEqual(
      held.checkpoints.map((c) => c.step),
      [1, 2, 3],
    );
    const exported = await exportAt(runId, { step: 1 });
    const child = await call(client.startRun.bind(client), {
      requestId: 'orphan-to-be',
      spec: spec({ budgetSteps: 1, baseModel: { source: { $case: 'run', value: { runId, step: 2, best: false } } } }),
    });
    // A run still training cannot be deleted.
    const busy = await rejectsWith(
      call(client.deleteRun.bind(client), { runId: child.run!.runId, requestId: '' }),
      grpc.status.FAILED_PRECONDITION,
    );
    assert.match(busy.details, /pause or cancel it/);
    await finish(child.run!.runId);
    const others = (
      await call(client.listRuns.bind(client), { states: [], labels: {}, page: { pageSize: 100, pageToken: '' } })
    ).runs.length;

    const deleted = await call(client.deleteRun.bind(client), { runId, requestId: 'delete-doomed' });
    assert.equal(deleted.run!.runId, runId);
    assert.equal(deleted.deletedCheckpoints, 1, 'step 3 went');
    const byStep = new Map(held.checkpoints.map((c) => [c.step, c.artifactId]));
    assert.deepEqual([...deleted.keptArtifactIds].sort(), [byStep.get(1)!, byStep.get(2)!].sort());
    assert.deepEqual(await stepsOnDisk(runId, [1, 2]), [1, 2]);
    // A retry with the same request id answers the first answer.
    const again = await call(client.deleteRun.bind(client), { runId, requestId: 'delete-doomed' });
    assert.equal(again.replayed, true);
    assert.equal(again.deletedCheckpoints, 1);
    // The run is gone everywhere; the other runs are untouched.
    await rejectsWith(call(client.getRun.bind(client), { runId }), grpc.status.NOT_FOUND);
    await rejectsWith(exportAt(runId), grpc.status.NOT_FOUND);
    await rejectsWith(call(client.listCheckpoints.bind(client), { runId }), grpc.status.NOT_FOUND);
    await rejectsWith(collect(client.watchRun({ runId, fromStep: 0 })), grpc.status.NOT_FOUND);
    await rejectsWith(call(client.deleteRun.bind(client), { runId, requestId: '' }), grpc.status.NOT_FOUND);
    const left = (
      await call(client.listRuns.bind(client), { states: [], labels: {}, page: { pageSize: 100, pageToken: '' } })
    ).runs;
    assert.equal(left.length, others - 1);
    assert.ok(left.some((r) => r.runId === child.run!.runId));
    // The kept checkpoints still load: the exported one by its artifact id, the child's base through the child.
    const fromExport = await call(client.startRun.bind(client), {
      requestId: 'after-delete',
      spec: spec({
        budgetSteps: 1,
        baseModel: { source: { $case: 'artifactId', value: exported.artifact!.artifactId } },
      }),
    });
    assert.equal((await finish(fromExport.run!.runId)).run.state, commonV1.RunState.RUN_STATE_PAUSED);
    const fromChildBase = await call(client.startRun.bind(client), {
      requestId: 'child-base-after-delete',
      spec: spec({ budgetSteps: 1, baseModel: { source: { $case: 'artifactId', value: child.run!.baseArtifactId } } }),
    });
    assert.equal((await finish(fromChildBase.run!.runId)).run.state, commonV1.RunState.RUN_STATE_PAUSED);
    // The deleted run's step 2 is held by two runs' claims; when the last one is deleted, it goes too.
    const childGone = await call(client.deleteRun.bind(client), { runId: child.run!.runId, requestId: '' });
    assert.equal(childGone.deletedCheckpoints, 1, "the child's own checkpoint");
    assert.deepEqual(await stepsOnDisk(runId, [1, 2]), [1, 2], 'step 2 is still the base of a run');
    const lastClaim = await call(client.deleteRun.bind(client), { runId: fromChildBase.run!.runId, requestId: '' });
    assert.equal(lastClaim.deletedCheckpoints, 2, 'its own checkpoint and the orphaned base');
    assert.deepEqual(await stepsOnDisk(runId, [1]), [1], 'the exported checkpoint stays for good');
  },
);

test(
  'ReleaseExport: an exported checkpoint the run no longer needs leaves the disk',
  { timeout: 120_000 },
  async () => {
    const { run } = await call(client.startRun.bind(client), {
      requestId: '',
      spec: spec({ budgetSteps: 2, checkpointRetention: { keepLast: 1, keepBest: false } }),
    });
    const runId = run!.runId;
    await finish(runId);
    const exported = await exportAt(runId);
    await call(client.resumeRun.bind(client), { runId, additionalSteps: 1, requestId: '' });
    await finish(runId);
    assert.deepEqual(await stepsOnDisk(runId, [2, 3]), [2, 3], 'the export outlives keep_last 1');
    const release = (requestId: string, artifactId = exported.artifact!.artifactId) =>
      call(client.releaseExport.bind(client), { artifactId, requestId });
    const released = await release('release-2');
    assert.deepEqual([released.deleted, released.keptBecause, released.replayed], [true, [], false]);
    assert.deepEqual(await stepsOnDisk(runId, [3]), [3]);
    assert.deepEqual(
      (await call(client.listCheckpoints.bind(client), { runId })).checkpoints.map((c) => c.step),
      [3],
    );
    assert.equal((await release('release-2')).replayed, true);
    await rejectsWith(release(''), grpc.status.NOT_FOUND);
    await rejectsWith(release('', 'no such artifact'), grpc.status.INVALID_ARGUMENT, 'artifact_id');
    // The latest was not exported: refused, and it stays.
    const latest = await exportAt(runId, { transient: true });
    const refused = await rejectsWith(release('', latest.artifact!.artifactId), grpc.status.FAILED_PRECONDITION);
    assert.match(refused.details, /artifact_id: .* was not exported/);
    assert.deepEqual(await stepsOnDisk(runId, [3]), [3]);
  },
);

test(
  'a checkpoint read while its run trains on stays loadable through the grace period (FLOE_CHECKPOINT_GRACE_MS)',
  { timeout: 120_000 },
  async () => {
    // The default grace period (60 s): far longer than this test.
    await withOwnTrainer({}, async (c) => {
      const { run } = await call(c.startRun.bind(c), {
        requestId: '',
        spec: spec({ budgetSteps: 2, checkpointRetention: { keepLast: 1, keepBest: false } }),
      });
      const runId = run!.runId;
      await collect(c.watchRun({ runId, fromStep: 0 }));
      // How the evaluator opens run:ID — the latest checkpoint, read now, not pinned.
      const read = await call(c.exportModel.bind(c), {
        runId,
        step: 0,
        format: trainerV1.ExportFormat.EXPORT_FORMAT_CHECKPOINT,
        best: false,
        transient: true,
      });
      await call(c.resumeRun.bind(c), { runId, additionalSteps: 2, requestId: '' });
      await collect(c.watchRun({ runId, fromStep: 0 }));
      // The run has moved on (keep_last 1 holds step 4 only) ...
      assert.deepEqual(
        (await call(c.listCheckpoints.bind(c), { runId })).checkpoints.map((k) => k.step),
        [4],
      );
      // ... and the checkpoint the reader resolved at step 2 still loads.
      const fromRead = await call(c.startRun.bind(c), {
        requestId: '',
        spec: spec({
          budgetSteps: 1,
          baseModel: { source: { $case: 'artifactId', value: read.artifact!.artifactId } },
        }),
      });
      const events = await collect(c.watchRun({ runId: fromRead.run!.runId, fromStep: 0 }));
      assert.equal((events.at(-1)!.event as { value: trainerV1.Run }).value.state, commonV1.RunState.RUN_STATE_PAUSED);
    });
  },
);

test(
  'FLOE_CHECKPOINT_KEEP_LAST: runs without a retention of their own take the server default, recorded in their spec',
  { timeout: 120_000 },
  async () => {
    await withOwnTrainer({ FLOE_CHECKPOINT_KEEP_LAST: '1' }, async (c) => {
      const started = async (over: Partial<trainerV1.RunSpec>) => {
        const { run } = await call(c.startRun.bind(c), { requestId: '', spec: spec({ budgetSteps: 3, ...over }) });
        const events = await collect(c.watchRun({ runId: run!.runId, fromStep: 0 }));
        return (events.at(-1)!.event as { value: trainerV1.Run }).value;
      };
      const evaluated = await started({});
      assert.deepEqual(evaluated.spec!.checkpointRetention, { keepLast: 1, keepBest: true });
      const held = await call(c.listCheckpoints.bind(c), { runId: evaluated.runId });
      assert.deepEqual(
        held.checkpoints.map((k) => k.step),
        [...new Set([evaluated.bestCheckpointStep, 3])].sort((a, b) => a - b),
      );
      const blind = await started({ evalIntervalSteps: 0 });
      assert.deepEqual(blind.spec!.checkpointRetention, { keepLast: 1, keepBest: false });
      // A run's own retention wins; keep_last 0 keeps every checkpoint.
      const all = await started({ checkpointRetention: { keepLast: 0, keepBest: false } });
      assert.deepEqual(
        (await call(c.listCheckpoints.bind(c), { runId: all.runId })).checkpoints.map((k) => k.step),
        [1, 2, 3],
      );
    });
  },
);
