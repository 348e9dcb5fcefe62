// Every decision rule by name: the one place that builds them (the service, the bench and tests).
import type { FreezeThawOptimizer } from '../freeze-thaw.js';
import type { CurvePfn } from '../pfn.js';
import { Asha, MedianStopping, RandomSearch, SuccessiveHalving } from './baselines.js';
import { Ifbo, type IfboOptions } from './ifbo.js';
import { PowerLawEnsemble } from './power-law.js';

export const OPTIMIZER_NAMES = [
  'ifbo',
  'random',
  'asha',
  'hyperband',
  'successive_halving',
  'median_stopping',
  'power_law',
] as const;
export type OptimizerName = (typeof OPTIMIZER_NAMES)[number];

/** Rules that need the PFN (and so TF.js: they run in a worker thread). */
export const needsSurrogate = (name: OptimizerName) => name === 'ifbo';

/** A fresh rule; `pfn` is required for ifBO. */
export function createOptimizer(name: OptimizerName, pfn?: CurvePfn, options?: IfboOptions): FreezeThawOptimizer {
  switch (name) {
    case 'ifbo':
      if (!pfn) throw new Error('ifBO needs the trained surrogate');
      return new Ifbo(pfn, options);
    case 'random':
      return new RandomSearch();
    case 'asha':
      return new Asha();
    case 'hyperband':
      return new SuccessiveHalving(true);
    case 'successive_halving':
      return new SuccessiveHalving(false);
    case 'median_stopping':
      return new MedianStopping();
    case 'power_law':
      return new PowerLawEnsemble();
  }
}
