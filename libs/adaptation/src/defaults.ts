// The defaults of scoring and planning, named and documented once; a request can override each (zero in
// a request means "the default"). The service passes requests through resolveScoring / resolvePlanning.
import type { DriftLevel } from './plan.js';

/** Calibration sample for block scores (ScoreBlocks and PlanAdaptation). */
export const SCORING_DEFAULTS = {
  /** Calibration batches: enough for stable angles on the study's models (8 × 8 sequences). */
  calibrationBatches: 8,
  /** Examples per calibration batch. */
  batchSize: 8,
  /** Bytes per sequence of a language model, capped at its context. */
  sequenceLength: 128,
} as const;

/** What a plan's suggested budget assumes one training step consumes. */
export const PLANNING_DEFAULTS = {
  /** Bytes per step for text: a batch of 16 sequences of 128 bytes (the study's adaptation runs). */
  textUnitsPerStep: 16 * 128,
  /** Examples per step for tabular data and images. */
  exampleUnitsPerStep: 64,
} as const;

export interface ScoringOptions {
  calibrationBatches: number;
  batchSize: number;
  sequenceLength: number;
}

/** The request's scoring options with zeros replaced by the defaults, the sequence capped at `context`. */
export function resolveScoring(req: Partial<ScoringOptions>, context?: number): ScoringOptions {
  const seq = req.sequenceLength || SCORING_DEFAULTS.sequenceLength;
  return {
    calibrationBatches: req.calibrationBatches || SCORING_DEFAULTS.calibrationBatches,
    batchSize: req.batchSize || SCORING_DEFAULTS.batchSize,
    sequenceLength: context ? Math.min(seq, context) : seq,
  };
}

/** Units (bytes for text, examples otherwise) per step for the suggested budget; 0 means the default. */
export function unitsPerStep(kind: 'text' | 'tabular' | 'image', requested = 0): number {
  if (requested > 0) return requested;
  return kind === 'text' ? PLANNING_DEFAULTS.textUnitsPerStep : PLANNING_DEFAULTS.exampleUnitsPerStep;
}

/**
 * The drift level a plan acts on, from PSI alone (the byte distribution, for text): document lengths of
 * two samples of one source differ by chance more often than their bytes do, so KS verdicts would
 * over-react.
 */
export function driftLevel(psi: number, thresholds: { psiModerate: number; psiShifted: number }): DriftLevel {
  return psi >= thresholds.psiShifted ? 'shifted' : psi >= thresholds.psiModerate ? 'moderate' : 'stable';
}
