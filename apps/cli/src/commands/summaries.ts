// The one line `floe --help` shows for each command; each command's module reads its own here (catalog.ts,
// which loads the modules, reads them too), so no command imports the catalog that imports it.

export const SUMMARIES = {
  up: 'host the services in one process (all five by default)',
  health: "print each service's health status",
  adapt: 'the whole adaptation: profile, plan, tune, train, evaluate, explain; resumable; writes a report',
  train: 'start, watch, pause, resume, cancel, delete, list and get training runs; export and list their checkpoints',
  profile: 'profile a dataset (text, tabular or images)',
  drift: "compare a dataset with a reference: PSI, KS, Wasserstein, JS, L∞, Cramér's V per feature",
  plan: 'propose an adaptation plan: blocks to expand, tune and freeze, replay, learning rate, budget',
  eval: 'evaluation suites, metrics with standard errors, forgetting across stages, double descent',
  predict: "a trained model's predictions for the rows of a table (no target needed), as CSV",
  generate: 'a language model continues a prompt, printed as it is made (greedy or sampled, seeded)',
  hpo: 'hyperparameter studies: freeze-thaw BO (ifBO) and the baselines, by hand or driving trainer runs',
  explain: 'attributions (SHAP, gradients), what changed between two models, hidden attention of Mamba',
} as const;

export type CommandName = keyof typeof SUMMARIES;

/** A command's summary line (the one place it is written). */
export function summaryOf(name: CommandName): string {
  return SUMMARIES[name];
}
