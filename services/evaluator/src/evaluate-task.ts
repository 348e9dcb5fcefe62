// Model passes of the evaluator in a worker thread (the house rule: TF.js work never runs on the
// server's event loop): one model (or its fresh initialisation) on each suite, the same seeded examples
// for every model so that comparisons are paired.
import { openDataset } from '@floe/data';
import { initBackend } from '@floe/ml-runtime';
import { invalidArgument } from '@floe/errors';
import { LocalArtifactStore } from '@floe/store';
import {
  noRunResolver,
  openInitialModel,
  openModel,
  requireEnough,
  requireReadable,
  serveTask,
  type ComputeEnv,
  type ResolvedModelSource,
} from '@floe/training';
import { evaluateSuite, type SuiteOutcome } from './runner.js';
import type { SuiteDef } from './suites.js';

export interface EvaluateTaskInput {
  env: ComputeEnv;
  /** The request's field of the model, for errors (e.g. "stages[1]"). */
  field: string;
  model: ResolvedModelSource;
  /** Evaluate the model's architecture freshly initialised instead (the FWT baseline). */
  initial: boolean;
  suites: SuiteDef[];
  /** The request's field of each suite, for errors (e.g. "suites[0]", "inline_suites[1]"). */
  suiteFields: string[];
  bootstrap: number;
  seed: number;
}

export type EvaluateTaskProgress = { suite: number; done: number; total: number };

serveTask<EvaluateTaskInput, SuiteOutcome[], EvaluateTaskProgress>(async (input, progress) => {
  const { env } = input;
  await initBackend(env.backend, { threads: env.threads });
  const artifacts = new LocalArtifactStore(env.artifactsDir);
  const open = input.initial ? openInitialModel : openModel;
  const model = await open(input.field, input.model, artifacts, noRunResolver);
  try {
    const out: SuiteOutcome[] = [];
    for (const [i, suite] of input.suites.entries()) {
      const suiteField = input.suiteFields[i]!;
      if (model.task !== suite.task)
        throw invalidArgument(
          input.field,
          `is a ${model.task} model; suite ${suite.name} (${suiteField}) is a ${suite.task} task`,
        );
      const data = openDataset(
        { uri: suite.dataset, split: suite.split },
        { dataRoots: env.dataRoots, maxBytes: env.maxDatasetBytes },
        `${suiteField} dataset`,
      );
      requireReadable(model, data, input.field, suiteField);
      const context = Number(model.spec.config.context ?? suite.sequenceLength);
      requireEnough(
        data,
        `${suiteField} (suite ${suite.name}, dataset ${suite.dataset})`,
        suite.split,
        Math.min(suite.sequenceLength, context),
      );
      out.push(
        await evaluateSuite(model, suite, data, {
          bootstrap: input.bootstrap,
          seed: input.seed,
          onBatch: async (done, total) => progress({ suite: i, done, total }),
        }),
      );
    }
    return out;
  } finally {
    model.dispose();
  }
});
