// Early stopping's rule in closed form: the best loss, the evaluations since it, min_delta, losses that are not
// finite, and the state rebuilt from a run's recorded evaluations (counted afresh where it last paused the run).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  EARLY_STOPPING_START,
  earlyStoppingStateOf,
  observeValidationLoss,
  stopsEarly,
  type EarlyStoppingConfig,
} from '../src/index.js';

/** The 1-based evaluation at which a run with `losses` stops, or undefined. */
function stopsAt(losses: number[], config: EarlyStoppingConfig): number | undefined {
  let state = EARLY_STOPPING_START;
  for (const [i, loss] of losses.entries()) {
    state = observeValidationLoss(state, loss, config);
    if (stopsEarly(state, config)) return i + 1;
  }
  return undefined;
}

test('a run stops after `patience` evaluations without a loss below the best by more than min_delta', () => {
  const losses = [1.0, 0.8, 0.79, 0.81, 0.7, 0.71, 0.72, 0.73];
  // min_delta 0: 0.79 improves; the best is 0.7 at the 5th, and three more without one stop at the 8th.
  assert.equal(stopsAt(losses, { patience: 3, minDelta: 0 }), 8);
  // min_delta 0.05: 0.79 does not improve on 0.8 (nor 0.81); 0.7 does; the 8th is the third after it.
  assert.equal(stopsAt(losses, { patience: 2, minDelta: 0.05 }), 4);
  assert.equal(stopsAt(losses, { patience: 3, minDelta: 0.05 }), 8);
  assert.equal(stopsAt(losses, { patience: 4, minDelta: 0 }), undefined);
  assert.equal(stopsAt(losses, { patience: 0, minDelta: 0 }), undefined, 'patience 0: never');
  // A loss that is not finite never improves, and is never the best.
  assert.equal(stopsAt([1, NaN, Infinity], { patience: 2, minDelta: 0 }), 3);
  assert.deepEqual(observeValidationLoss(EARLY_STOPPING_START, NaN, { patience: 1, minDelta: 0 }), {
    best: Infinity,
    since: 1,
  });
});

test("the state rebuilt from a run's evaluations is the live one; where early stopping paused the run it counts afresh", () => {
  const config = { patience: 2, minDelta: 0 };
  const evaluations = [1.0, 0.9, 0.95, 0.97, 0.96, 0.98].map((loss, i) => ({ step: 10 * (i + 1), loss }));
  let live = EARLY_STOPPING_START;
  for (const [i, e] of evaluations.entries()) {
    live = observeValidationLoss(live, e.loss, config);
    assert.deepEqual(earlyStoppingStateOf(evaluations.slice(0, i + 1), config), live, `after step ${e.step}`);
  }
  // Uninterrupted it stops at step 40 (0.95, 0.97 after the best 0.9); resumed from there it has its patience
  // again: 0.96 at 50 is one, 0.98 at 60 two.
  assert.deepEqual(earlyStoppingStateOf(evaluations.slice(0, 4), config), { best: 0.9, since: 2 });
  assert.deepEqual(earlyStoppingStateOf(evaluations.slice(0, 4), config, 40), { best: 0.9, since: 0 });
  assert.deepEqual(earlyStoppingStateOf(evaluations, config, 40), { best: 0.9, since: 2 });
});
