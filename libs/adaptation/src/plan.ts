// From block scores and drift to an AdaptationPlan (ALGORITHMS.md §1, LLM-ADE): expand where the new data
// stresses the model most, tune the blocks it moves, freeze the rest, and mix the old data back in as
// drift grows. Pure and deterministic: the same inputs give the same plan (ties go to the earlier block).
import type { BlockScore } from './scores.js';

export type DriftLevel = 'stable' | 'moderate' | 'shifted';
export type Action = 'freeze' | 'tune' | 'expand';

export interface PlanInput {
  blocks: BlockScore[];
  drift: { verdict: DriftLevel; psi: number };
  /** Upper bound on expansion sites; 0 picks the default (half the residual blocks, at most 2). */
  maxExpansions: number;
  /** Bytes (or examples) of new data, for the suggested budget. */
  newDataUnits: number;
  /** Units per optimizer step the budget assumes (batch × sequence). */
  unitsPerStep?: number;
  /** Loss on the new data and on the reference data (same units), when known. */
  newLoss?: number;
  referenceLoss?: number;
}

export interface Decision {
  blockId: string;
  action: Action;
  reason: string;
  score: number;
}

export interface Plan {
  freeze: string[];
  tune: string[];
  expansions: { afterBlockId: string; copies: number }[];
  replayFraction: number;
  learningRate: number;
  budgetSteps: number;
  decisions: Decision[];
}

/** Replay grows with drift: the strongest guard against forgetting (Ibrahim et al. 2024). */
const REPLAY: Record<DriftLevel, number> = { stable: 0, moderate: 0.1, shifted: 0.25 };
/** Re-warm to a higher peak the further the data moved. */
const LEARNING_RATE: Record<DriftLevel, number> = { stable: 3e-4, moderate: 5e-4, shifted: 1e-3 };

const fmt = (x: number) => x.toFixed(4);

export function planAdaptation(input: PlanInput): Plan {
  const level = input.drift.verdict;
  const residual = input.blocks.filter((b) => b.residual);
  // Rank by angular distance over all tokens; the earlier block wins ties (stable sort).
  const ranked = [...residual].sort((a, b) => b.angularDistanceAll - a.angularDistanceAll);
  const defaultSites = Math.min(2, Math.max(1, Math.floor(residual.length / 2)));
  const cap = input.maxExpansions > 0 ? input.maxExpansions : defaultSites;
  const sites = level === 'shifted' ? Math.min(cap, residual.length) : level === 'moderate' ? Math.min(1, cap, residual.length) : 0;
  const expand = new Set(ranked.slice(0, sites).map((b) => b.blockId));
  // Tune the blocks that move the stream more than the median block (the "important" ones); the rest
  // keep what the model knew.
  const angles = ranked.map((b) => b.angularDistanceAll);
  const mid = angles.length >> 1;
  const median = !angles.length ? 0 : angles.length % 2 ? angles[mid]! : (angles[mid - 1]! + angles[mid]!) / 2;
  const decisions: Decision[] = [];
  for (const b of input.blocks) {
    if (expand.has(b.blockId)) {
      decisions.push({ blockId: b.blockId, action: 'expand', score: b.angularDistanceAll, reason: `angular distance ${fmt(b.angularDistanceAll)} on the new data ranks #${ranked.indexOf(b) + 1} of ${ranked.length}; drift is ${level} (PSI ${input.drift.psi.toFixed(3)}): add a copy that trains, keep the original` });
    } else if (b.residual) {
      const important = b.angularDistanceAll > median;
      decisions.push(
        important
          ? { blockId: b.blockId, action: 'tune', score: b.angularDistanceAll, reason: `angular distance ${fmt(b.angularDistanceAll)} is above the median ${fmt(median)}: the new data moves this block, tune it` }
          : { blockId: b.blockId, action: 'freeze', score: b.angularDistanceAll, reason: `angular distance ${fmt(b.angularDistanceAll)} is at or below the median ${fmt(median)}: freeze it to keep what it knows` },
      );
    } else if (level === 'shifted') {
      decisions.push({ blockId: b.blockId, action: 'tune', score: b.gradNorm, reason: `the input distribution shifted (PSI ${input.drift.psi.toFixed(3)}); ${b.blockId} meets symbols the model rarely saw (gradient norm ${b.gradNorm.toPrecision(3)}): tune it` });
    } else {
      decisions.push({ blockId: b.blockId, action: 'freeze', score: b.gradNorm, reason: `drift is ${level}: the ${b.blockId} stays as it is` });
    }
  }
  const unitsPerStep = input.unitsPerStep ?? 16 * 128;
  // One pass over the new data, within sensible bounds for continued training.
  const budgetSteps = Math.max(100, Math.min(5000, Math.ceil(input.newDataUnits / unitsPerStep)));
  return {
    freeze: decisions.filter((d) => d.action === 'freeze').map((d) => d.blockId),
    tune: decisions.filter((d) => d.action === 'tune').map((d) => d.blockId),
    expansions: decisions.filter((d) => d.action === 'expand').map((d) => ({ afterBlockId: d.blockId, copies: 1 })),
    replayFraction: REPLAY[level],
    learningRate: LEARNING_RATE[level],
    budgetSteps,
    decisions,
  };
}
