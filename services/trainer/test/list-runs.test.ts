// ListRuns pages by keyset: with a label filter over several pages, while runs are being started, every
// matching run that existed when paging began comes exactly once; a token only works with its filters.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { commonV1, trainerV1 } from '@floe/contracts';
import { call } from '@floe/service-kit';
import { rejectsWith } from '@floe/testing';
import { trainerUnderTest } from './trainer-fixture.js';

let client: trainerV1.TrainerServiceClient;
trainerUnderTest({}, (t) => (client = t.client));

const start = async (team: string) =>
  (
    await call(client.startRun.bind(client), {
      requestId: '',
      spec: trainerV1.RunSpec.fromPartial({
        baseModel: {
          source: {
            $case: 'builtin',
            value: {
              architecture: commonV1.ModelArchitecture.MODEL_ARCHITECTURE_TRANSFORMER_LM,
              size: 'tiny',
              seed: 1,
            },
          },
        },
        dataset: { uri: 'builtin:spam-assassin' },
        strategy: trainerV1.Strategy.STRATEGY_FULL,
        batchSize: 2,
        sequenceLength: 16,
        budgetSteps: 1,
        labels: { team },
      }),
    })
  ).run!.runId;

const page = (pageToken: string, labels: Record<string, string> = { team: 'a' }) =>
  call(client.listRuns.bind(client), { page: { pageSize: 3, pageToken }, states: [], labels });

test(
  'a label filter over 3 pages under concurrent inserts returns every matching run exactly once',
  { timeout: 60_000 },
  async () => {
    const matching: string[] = [];
    for (const team of ['a', 'b', 'a', 'a', 'b', 'a', 'b', 'a', 'a', 'b', 'a']) {
      const id = await start(team);
      if (team === 'a') matching.push(id);
    }
    assert.equal(matching.length, 7);
    const seen: string[] = [];
    let token = '';
    let pages = 0;
    do {
      const r = await page(token);
      seen.push(...r.runs.map((run) => run.runId));
      assert.ok(r.runs.every((run) => run.spec!.labels.team === 'a'));
      token = r.page!.nextPageToken;
      pages++;
      // Runs started between pages, matching and not, are newer than the cursor.
      await start('a');
      await start('b');
    } while (token);
    assert.equal(pages, 3);
    assert.deepEqual(seen, [...matching].reverse(), 'newest first, each once, none skipped');
  },
);

test('a page token is refused with other filters', async () => {
  await start('a');
  await start('a');
  await start('a');
  await start('a');
  const first = await page('');
  assert.ok(first.page!.nextPageToken);
  await rejectsWith(page(first.page!.nextPageToken, { team: 'b' }), grpc.status.INVALID_ARGUMENT, 'page.page_token');
});
