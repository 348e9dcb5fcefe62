// Small statistics the benchmarks share.

/** The q-quantile (q in [0, 1]) of a sample: its ⌊q·n⌋-th smallest value (the largest at q = 1); NaN if empty. */
export function quantile(xs: readonly number[], q: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
}

/** Runs `work` while a 1 ms timer measures the event loop's longest stall (the largest gap it saw). */
export async function measureStall(work: () => Promise<unknown>): Promise<{ wallMs: number; stallMs: number }> {
  let last = performance.now();
  let stall = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    stall = Math.max(stall, now - last);
    last = now;
  }, 1);
  const t0 = performance.now();
  await work();
  const wallMs = performance.now() - t0;
  await new Promise((resolve) => setTimeout(resolve, 5));
  clearInterval(timer);
  return { wallMs, stallMs: Math.max(stall, performance.now() - last) };
}
