// Training N steps equals training k steps, checkpointing, loading in a new process and training N−k.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { tempDir } from '@floe/testing';

const fixture = new URL('./fixtures/train.ts', import.meta.url).pathname;
const run = async (...args: string[]) =>
  JSON.parse((await promisify(execFile)(process.execPath, ['--import', 'tsx', fixture, ...args])).stdout) as {
    losses: number[];
    id: string;
  };

test(
  'pause/resume through a checkpoint in a new process gives the same loss curve (1e-6)',
  { timeout: 120_000 },
  async () => {
    const dir = tempDir();
    try {
      const full = await run('full', '8', '', dir.path);
      const first = await run('first', '3', '', dir.path);
      const rest = await run('resume', first.id, '5', dir.path);
      const resumed = [...first.losses, ...rest.losses];
      assert.equal(resumed.length, 8);
      for (let i = 0; i < 8; i++)
        assert.ok(Math.abs(resumed[i]! - full.losses[i]!) <= 1e-6, `step ${i + 1}: ${resumed[i]} vs ${full.losses[i]}`);
      assert.ok(full.losses[7]! < full.losses[0]!, 'the loss goes down');
    } finally {
      dir.remove();
    }
  },
);
