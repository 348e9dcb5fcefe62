// The commands by name, with the one line `floe --help` shows; each command's module is imported only when it
// runs. `floe up` loads the five services (with TensorFlow.js), and plots load Vega: imported eagerly they made
// every `floe` call take ~2.4 s to start.
import type { Command } from '../args.js';

export interface CatalogEntry {
  name: string;
  summary: string;
  load: () => Promise<Command>;
}

export const CATALOG: readonly CatalogEntry[] = [
  {
    name: 'up',
    summary: 'host the services in one process (all five by default)',
    load: async () => (await import('./up.js')).up,
  },
  {
    name: 'health',
    summary: "print each service's health status",
    load: async () => (await import('./health.js')).health,
  },
  {
    name: 'adapt',
    summary: 'the whole adaptation: profile, plan, tune, train, evaluate, explain; resumable; writes a report',
    load: async () => (await import('./adapt.js')).adaptCommand,
  },
  {
    name: 'train',
    summary:
      'start, watch, pause, resume, cancel, delete, list and get training runs; export and list their checkpoints',
    load: async () => (await import('./train.js')).train,
  },
  {
    name: 'profile',
    summary: 'profile a dataset (text, tabular or images)',
    load: async () => (await import('./profile.js')).profile,
  },
  {
    name: 'drift',
    summary: "compare a dataset with a reference: PSI, KS, Wasserstein, JS, L∞, Cramér's V per feature",
    load: async () => (await import('./profile.js')).drift,
  },
  {
    name: 'plan',
    summary: 'propose an adaptation plan: blocks to expand, tune and freeze, replay, learning rate, budget',
    load: async () => (await import('./profile.js')).plan,
  },
  {
    name: 'eval',
    summary: 'evaluation suites, metrics with standard errors, forgetting across stages, double descent',
    load: async () => (await import('./eval.js')).evaluate,
  },
  {
    name: 'predict',
    summary: "a trained model's predictions for the rows of a table (no target needed), as CSV",
    load: async () => (await import('./predict.js')).predict,
  },
  {
    name: 'generate',
    summary: 'a language model continues a prompt, printed as it is made (greedy or sampled, seeded)',
    load: async () => (await import('./generate.js')).generate,
  },
  {
    name: 'hpo',
    summary: 'hyperparameter studies: freeze-thaw BO (ifBO) and the baselines, by hand or driving trainer runs',
    load: async () => (await import('./hpo.js')).hpoCommand,
  },
  {
    name: 'explain',
    summary: 'attributions (SHAP, gradients), what changed between two models, hidden attention of Mamba',
    load: async () => (await import('./explain.js')).explainCommand,
  },
];

/** A command's summary line, from the catalog (the one place it is written). */
export function summaryOf(name: string): string {
  const entry = CATALOG.find((c) => c.name === name);
  if (!entry) throw new Error(`no command ${name} in the catalog`);
  return entry.summary;
}
