// From block scores and drift to an AdaptationPlan (docs/ALGORITHMS.md §1, LLM-ADE): expand where the new data
// stresses the model most, tune the blocks it moves, freeze the rest, and mix the old data back in as
// drift grows. Pure and deterministic: the same inputs give the same plan (ties go to the earlier block).
import type { BlockScore } from './scores.js';

export type DriftLevel = 'stable' | 'moderate' | 'shifted';
export type Action = 'freeze' | 'tune' | 'expand';

export interface PlanInput {
  blocks: BlockScore[];
  drift: { verdict: DriftLevel; psi: number };
  /** Upper bound on expansion sites; 0 lets the plan decide. */
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

/**
 * Replay grows with drift: the strongest guard against forgetting. A fifth of each batch is enough once
 * the new data has expansion blocks of its own; more costs new-domain fit, less costs retention (the
 * adaptation study, bench:ade, copies after all four blocks: replay 25 % gave +5.9 % new-domain bits per
 * byte against FULL for 0.090× its forgetting, 19 % gave +3.7 % for 0.12×, 12.5 % +1.7 % for 0.18×).
 */
const REPLAY: Record<DriftLevel, number> = { stable: 0, moderate: 0.1, shifted: 0.2 };
/** Under a shift, a block whose angle is below this fraction of the median barely serves the new data. */
const IDLE_FRACTION = 0.5;
/** Re-warm to a higher peak the further the data moved. */
const LEARNING_RATE: Record<DriftLevel, number> = { stable: 3e-4, moderate: 5e-4, shifted: 1e-3 };

const fmt = (x: number) => x.toFixed(4);

export function planAdaptation(input: PlanInput): Plan {
  const level = input.drift.verdict;
  const residual = input.blocks.filter((b) => b.residual);
  // Rank by angular distance over all tokens; the earlier block wins ties (stable sort).
  const ranked = [...residual].sort((a, b) => b.angularDistanceAll - a.angularDistanceAll);
  const angles = ranked.map((b) => b.angularDistanceAll);
  const mid = angles.length >> 1;
  const median = !angles.length ? 0 : angles.length % 2 ? angles[mid]! : (angles[mid - 1]! + angles[mid]!) / 2;
  // Under a shift, a copy goes after every block the new data moves (capacity where it is used; the study
  // measured copies after all four blocks to beat copies after the two largest angles on both axes);
  // under moderate drift, one copy after the block it moves most. max_expansions caps either.
  const moved = ranked.filter((b) => b.angularDistanceAll >= IDLE_FRACTION * median).length;
  const wanted = level === 'shifted' ? moved : level === 'moderate' ? Math.min(1, residual.length) : 0;
  const sites = input.maxExpansions > 0 ? Math.min(wanted, input.maxExpansions) : wanted;
  const expand = new Set(ranked.slice(0, sites).map((b) => b.blockId));
  const decisions: Decision[] = [];
  // Under a shift every block the new data moves keeps training (the study measured freezing the
  // less-moved half to cost new-domain fit without saving old-domain loss); only idle blocks freeze.
  // Otherwise the blocks the data moves less than the median freeze.
  const trains = (b: BlockScore) =>
    level === 'shifted' ? b.angularDistanceAll >= IDLE_FRACTION * median : b.angularDistanceAll > median;
  const tuneOriginal = new Set<string>();
  for (const b of input.blocks) {
    if (expand.has(b.blockId)) {
      const alsoTune = level === 'shifted' && trains(b);
      if (alsoTune) tuneOriginal.add(b.blockId);
      decisions.push({
        blockId: b.blockId,
        action: 'expand',
        score: b.angularDistanceAll,
        reason: `angular distance ${fmt(b.angularDistanceAll)} on the new data ranks #${ranked.indexOf(b) + 1} of ${ranked.length}; drift is ${level} (PSI ${input.drift.psi.toFixed(3)}): add a copy that trains${alsoTune ? '; the original trains too' : ', keep the original'}`,
      });
    } else if (b.residual && level === 'shifted') {
      const important = trains(b);
      decisions.push(
        important
          ? {
              blockId: b.blockId,
              action: 'tune',
              score: b.angularDistanceAll,
              reason: `angular distance ${fmt(b.angularDistanceAll)} (median ${fmt(median)}): the shifted data moves this block, tune it`,
            }
          : {
              blockId: b.blockId,
              action: 'freeze',
              score: b.angularDistanceAll,
              reason: `angular distance ${fmt(b.angularDistanceAll)} is below half the median ${fmt(median)}: the new data barely uses this block, freeze it`,
            },
      );
    } else if (b.residual) {
      const important = trains(b);
      decisions.push(
        important
          ? {
              blockId: b.blockId,
              action: 'tune',
              score: b.angularDistanceAll,
              reason: `angular distance ${fmt(b.angularDistanceAll)} is above the median ${fmt(median)}: the new data moves this block, tune it`,
            }
          : {
              blockId: b.blockId,
              action: 'freeze',
              score: b.angularDistanceAll,
              reason: `angular distance ${fmt(b.angularDistanceAll)} is at or below the median ${fmt(median)}: freeze it to keep what it knows`,
            },
      );
    } else if (level === 'shifted') {
      decisions.push({
        blockId: b.blockId,
        action: 'tune',
        score: b.gradNorm,
        reason: `the input distribution shifted (PSI ${input.drift.psi.toFixed(3)}): tune ${b.blockId} (its gradient norm on the new data: ${b.gradNorm.toPrecision(3)})`,
      });
    } else {
      decisions.push({
        blockId: b.blockId,
        action: 'freeze',
        score: b.gradNorm,
        reason: `drift is ${level}: the ${b.blockId} stays as it is`,
      });
    }
  }
  // A plan trains something: with no residual block to tune or expand (an MLP or LeNet under stable or
  // moderate drift) the head tunes — it maps the features to the new data's targets, the least a continued
  // run must move; with residual blocks whose angles tie at the median, the first-ranked one tunes.
  if (!decisions.some((d) => d.action !== 'freeze')) {
    const fallback = ranked[0] ?? input.blocks.find((b) => b.blockId === 'head') ?? input.blocks.at(-1);
    const at = decisions.findIndex((d) => d.blockId === fallback?.blockId);
    if (at >= 0)
      decisions[at] = {
        ...decisions[at]!,
        action: 'tune',
        reason: `drift is ${level} and no other block trains: tune ${fallback!.blockId} so that the run learns the new data at all`,
      };
  }
  const unitsPerStep = input.unitsPerStep ?? 16 * 128;
  // One pass over the new data, within sensible bounds for continued training.
  const budgetSteps = Math.max(100, Math.min(5000, Math.ceil(input.newDataUnits / unitsPerStep)));
  return {
    freeze: decisions.filter((d) => d.action === 'freeze').map((d) => d.blockId),
    tune: decisions.filter((d) => d.action === 'tune' || tuneOriginal.has(d.blockId)).map((d) => d.blockId),
    expansions: decisions.filter((d) => d.action === 'expand').map((d) => ({ afterBlockId: d.blockId, copies: 1 })),
    replayFraction: REPLAY[level],
    learningRate: LEARNING_RATE[level],
    budgetSteps,
    decisions,
  };
}
