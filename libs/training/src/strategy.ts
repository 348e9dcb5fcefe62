// What a strategy does to a model before training: freeze named blocks, or insert function-preserving
// copies and train only those (plus, for ADE, the blocks its plan tunes).
import type { Block, BlockModel } from '@floe/models';
import type { StrategyConfig } from './run-job.js';

/** Applies `s` to `model` in place; returns the blocks it added. */
export function applyStrategy(model: BlockModel, s: StrategyConfig): Block[] {
  // The sparse strategies choose entries, not blocks (see selective.ts).
  if (s.kind === 'full' || s.kind === 'freezenet' || s.kind === 'prune' || s.kind === 'rigl') return [];
  // FREEZE, and BCD over the blocks it does not freeze.
  if (s.kind === 'freeze' || s.kind === 'bcd') {
    const frozen = new Set(s.freeze);
    model.setTrainable((b) => !frozen.has(b.id));
    return [];
  }
  // EXPAND spreads `expandCount` copies when no sites are named; an ADE plan names its sites, and may name
  // none (under stable drift it only tunes).
  const added =
    s.expandAfter.length || s.kind === 'ade'
      ? s.expandAfter.map((id) => model.expandAfter(id))
      : model.expandEvenly(s.expandCount);
  const train = new Set([...added.map((b) => b.id), ...(s.kind === 'ade' ? s.tune : [])]);
  model.setTrainable((b) => train.has(b.id));
  return added;
}
