// A copy of @floe/testing's turnsDuring for this library's tests (@floe/testing reads datasets through this
// library).
// How often the event loop got a turn while some work ran: a chain of setImmediate callbacks, each counted. Work
// done in slices (finishYielding) gives it turns; one synchronous call gives it none.

/** Runs `work` and counts the event loop's turns until it settles. */
export async function turnsDuring<T>(work: () => Promise<T>): Promise<{ result: T; turns: number }> {
  let turns = 0;
  let running = true;
  const tick = () => {
    if (!running) return;
    turns++;
    setImmediate(tick);
  };
  setImmediate(tick);
  try {
    return { result: await work(), turns };
  } finally {
    running = false;
  }
}
