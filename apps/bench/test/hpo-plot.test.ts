// bench:hpo --svg: the mean regret curve is the mean over replays at each step, and the plot draws one
// line per rule, the rules known only at a few budgets dashed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { meanRegretCurve, regretPlot } from '../src/hpo-plot.js';

test('the mean regret curve averages the replays at every tenth step, past their ends at their last value', () => {
  // Two replays' regrets: one falls by 0.01 a step, one stops at step 15 with regret 0.5.
  const traces = [Array.from({ length: 40 }, (_, i) => 1 - 0.01 * (i + 1)), Array.from({ length: 15 }, () => 0.5)];
  const curve = meanRegretCurve(traces.length, (i, step) => traces[i]![Math.min(step, traces[i]!.length) - 1]!, 40);
  assert.deepEqual(
    curve.map((p) => p.step),
    [10, 20, 30, 40],
  );
  curve.forEach((p) => assert.ok(Math.abs(p.regret - (1 - 0.01 * p.step + 0.5) / 2) < 1e-9, `step ${p.step}`));
});

test('one line per rule; sparse rules dashed, the others solid', async () => {
  const svg = await regretPlot(
    [
      { method: 'ifbo', points: [10, 20, 30].map((step) => ({ step, regret: 1 / step })) },
      { method: 'asha', points: [10, 20, 30].map((step) => ({ step, regret: 2 / step })) },
      {
        method: 'optuna_tpe_none',
        sparse: true,
        points: [
          { step: 10, regret: 0.9 },
          { step: 30, regret: 0.5 },
        ],
      },
    ],
    'test',
  );
  const lines = [
    ...svg.matchAll(
      /<path aria-label="[^"]*method: (\w+)" [^>]*aria-roledescription="line mark"[^>]*stroke-dasharray="([^"]*)"/g,
    ),
  ];
  const dashed = Object.fromEntries(lines.map((m) => [m[1], m[2] === '4,3']));
  assert.deepEqual(dashed, { ifbo: false, asha: false, optuna_tpe_none: true });
});
