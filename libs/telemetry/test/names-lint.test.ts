// The lint rule that keeps span, event and attribute names in one list: a literal anywhere else fails.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ESLint } from 'eslint';

const root = new URL('../../..', import.meta.url).pathname;

async function messages(code: string, filePath: string): Promise<string[]> {
  const [result] = await new ESLint({ cwd: root }).lintText(code, { filePath });
  return result!.messages.filter((m) => m.ruleId === 'no-restricted-syntax').map((m) => m.message);
}

test(
  'a span name or attribute key as a string literal outside libs/telemetry fails lint',
  { timeout: 60_000 },
  async () => {
    assert.equal(
      (await messages("export const phase = 'floe.train_segment';\n", 'services/trainer/src/x.ts')).length,
      1,
    );
    assert.equal(
      (await messages("export const attrs = { 'floe.run.id': 'r' };\n", 'libs/training/src/x.ts')).length,
      1,
    );
    assert.equal((await messages('export const name = `floe.step.${1}`;\n', 'apps/cli/src/x.ts')).length, 1);
    // A service's full name is not a span name.
    assert.equal(
      (await messages("export const s = 'floe.trainer.v1.TrainerService';\n", 'apps/cli/src/x.ts')).length,
      0,
    );
  },
);
