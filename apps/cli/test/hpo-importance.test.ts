// `floe hpo get|run|watch` end with which hyperparameters matter: a bar per parameter, the most important
// first, its correlation alone and its place in the selection; below 8 trials, or when none predicts the
// objective, a line saying so.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { importanceText } from '../src/commands/hpo.js';

test('importance: most important first, with its bar, correlation alone and selection rank', () => {
  const text = importanceText({
    trials: 24,
    fit: 0.913,
    parameters: [
      { name: 'width', importance: 0.25, correlationAlone: 0.31, selectionRank: 2 },
      { name: 'noise', importance: 0, correlationAlone: 0, selectionRank: 0 },
      { name: 'learning_rate', importance: 0.75, correlationAlone: 0.88, selectionRank: 1 },
    ],
  });
  const lines = text.split('\n');
  assert.match(lines[0]!, /24 trials; .* at ρ 0\.91/);
  assert.deepEqual(
    lines.slice(1).map((l) => l.trim().split(/\s+/)[0]),
    ['learning_rate', 'width', 'noise'],
  );
  assert.match(lines[1]!, /\[#{15}\.{5}\] 0\.75 {2}alone ρ 0\.88 {2}selected 1$/);
  assert.match(lines[3]!, /\[\.{20}\] 0\.00 {2}alone ρ 0\.00$/);
});

test('importance below the trials it needs, or when nothing predicts, says so instead of ranking', () => {
  assert.equal(
    importanceText({ trials: 5, fit: 0, parameters: [] }),
    'parameter importance: needs 8 trials with observations (5 so far)',
  );
  const none = [{ name: 'lr', importance: 0, correlationAlone: 0, selectionRank: 0 }];
  assert.equal(
    importanceText({ trials: 12, fit: 0, parameters: none }),
    "parameter importance: no hyperparameter predicts the trials' best values yet (12 trials)",
  );
});
