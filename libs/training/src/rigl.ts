// RigL (Evci et al., "Rigging the Lottery"): dynamic sparse training. Every ΔT steps until T_end, each
// masked parameter drops the fraction f(t) of its active weights with the smallest magnitude and grows as
// many inactive ones with the largest gradient magnitude, new weights starting at zero, so each layer
// keeps its density. f(t) = (α/2)(1 + cos(π t / T_end)), the cosine decay.

export interface RigLSchedule {
  /** Steps between mask updates (ΔT). */
  every: number;
  /** The last step that updates the mask (T_end). */
  end: number;
  /** The initial drop fraction α. */
  alpha: number;
}

export const DEFAULT_RIGL: RigLSchedule = { every: 100, end: 7500, alpha: 0.3 };

/** The fraction to drop and regrow at `step`, or 0 when the mask does not change then. */
export function riglFraction(step: number, s: RigLSchedule): number {
  if (step <= 0 || step > s.end || step % s.every !== 0) return 0;
  return (s.alpha / 2) * (1 + Math.cos((Math.PI * step) / s.end));
}

/**
 * One drop/grow of one parameter, in place on `weights` and `mask` (1 = active): returns the indices
 * dropped and grown. Ties break by index, so the update is deterministic.
 */
export function riglUpdate(
  weights: Float32Array,
  grads: ArrayLike<number>,
  mask: Float32Array,
  fraction: number,
): { dropped: number[]; grown: number[] } {
  const active: number[] = [];
  const inactive: number[] = [];
  for (let k = 0; k < mask.length; k++) (mask[k] ? active : inactive).push(k);
  const count = Math.min(Math.floor(fraction * active.length), inactive.length);
  if (count === 0) return { dropped: [], grown: [] };
  const dropped = active.sort((a, b) => Math.abs(weights[a]!) - Math.abs(weights[b]!) || a - b).slice(0, count);
  // Grow among the weights inactive before this update (a weight just dropped is not regrown at once).
  const grown = inactive.sort((a, b) => Math.abs(grads[b]!) - Math.abs(grads[a]!) || a - b).slice(0, count);
  for (const k of dropped) {
    mask[k] = 0;
    weights[k] = 0;
  }
  for (const k of grown) {
    mask[k] = 1;
    weights[k] = 0;
  }
  return { dropped, grown };
}
