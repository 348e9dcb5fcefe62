// The plot `floe hpo get|run|watch --svg` writes: one line per trial, a point per observation, the incumbent
// thick, and no legend once there are too many trials for one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hpoSurrogateV1 as hpo } from '@floe/contracts';
import { studyPlot } from '../src/commands/hpo.js';

/** Each line mark's first point (its aria label) and stroke width. */
function lines(svg: string): { label: string; width: number }[] {
  const marks = svg.matchAll(
    /<path aria-label="([^"]*)" role="graphics-symbol" aria-roledescription="line mark"[^>]*stroke-width="([^"]*)"/g,
  );
  return [...marks].map((m) => ({ label: m[1]!, width: Number(m[2]) }));
}

function study(trials: number, best: string): hpo.Study {
  return hpo.Study.fromPartial({
    studyId: 'study-1',
    budgetUsed: 9,
    bestTrialId: best,
    spec: { totalBudget: 40, objective: 'validation_loss' },
    trials: Array.from({ length: trials }, (_, i) => ({
      trialId: `t${i + 1}`,
      configuration: [
        { name: 'optimizer.learning_rate', value: { $case: 'floatValue' as const, value: 0.001 * (i + 1) } },
      ],
      // Trial i has i % 3 + 1 observations.
      observations: Array.from({ length: (i % 3) + 1 }, (_, j) => ({
        step: 10 * (j + 1),
        value: 1 - 0.1 * j - 0.01 * i,
      })),
    })),
  });
}

test('a line per trial with a point per observation; the incumbent alone is thick', async () => {
  const svg = await studyPlot(study(3, 't2'));
  assert.match(svg, /^<svg/);
  const drawn = lines(svg);
  assert.deepEqual(drawn.map((l) => l.label.match(/trial: (t\d+)/)?.[1]).sort(), ['t1', 't2', 't3']);
  for (const l of drawn) assert.equal(l.width, l.label.includes('trial: t2 ') ? 4 : 1.5, l.label);
  assert.equal((svg.match(/aria-roledescription="point"/g) ?? []).length, 1 + 2 + 3);
  assert.match(svg, /validation_loss/);
  assert.match(svg, /role-legend/);
});

test('past 16 trials the lines stay and the legend goes', async () => {
  const svg = await studyPlot(study(20, 't7'));
  assert.equal(lines(svg).length, 20);
  assert.equal(lines(svg).filter((l) => l.width === 4).length, 1);
  assert.doesNotMatch(svg, /role-legend/);
});
