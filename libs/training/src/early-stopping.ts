// Early stopping, as Keras' EarlyStopping and Lightning's: a run whose validation loss has not improved on its
// best by more than min_delta for `patience` evaluations pauses (a paused run resumes, so nothing is lost). The
// state is a function of the evaluations so far, so a run paused, crashed or moved to another replica and
// resumed stops where it would have stopped uninterrupted.

export interface EarlyStoppingConfig {
  /** Evaluations without an improvement before the run pauses; 0: never. */
  patience: number;
  /** An improvement is a validation loss below the best by more than this. */
  minDelta: number;
}

/** Where early stopping stands after some evaluations. */
export interface EarlyStoppingState {
  /** The best validation loss so far (Infinity before the first evaluation). */
  best: number;
  /** Evaluations since the best, or since counting last started afresh. */
  since: number;
}

export const EARLY_STOPPING_START: EarlyStoppingState = { best: Infinity, since: 0 };

/** The state after one more evaluation's loss (a loss that is not finite never improves). */
export function observeValidationLoss(
  state: EarlyStoppingState,
  loss: number,
  config: EarlyStoppingConfig,
): EarlyStoppingState {
  if (Number.isFinite(loss) && (state.best === Infinity || loss < state.best - config.minDelta))
    return { best: loss, since: 0 };
  return { best: state.best, since: state.since + 1 };
}

/** Whether a run in `state` stops. */
export const stopsEarly = (state: EarlyStoppingState, config: EarlyStoppingConfig): boolean =>
  config.patience > 0 && state.since >= config.patience;

/**
 * The state after a run's recorded evaluations (step and validation loss, in step order). At `restartStep` —
 * where early stopping last paused the run — counting starts afresh (the best is kept), so a run resumed after
 * early stopping has its patience again.
 */
export function earlyStoppingStateOf(
  evaluations: readonly { step: number; loss: number }[],
  config: EarlyStoppingConfig,
  restartStep = 0,
): EarlyStoppingState {
  let state = EARLY_STOPPING_START;
  for (const { step, loss } of evaluations) {
    state = observeValidationLoss(state, loss, config);
    if (step === restartStep) state = { ...state, since: 0 };
  }
  return state;
}
