// Model passes of the evaluator in a worker thread (the house rule: TF.js work never runs on the
// server's event loop): one model (or its fresh initialisation) on each suite, the same seeded examples
// for every model so that comparisons are paired.
import { openDataset, type Dataset } from '@floe/data';
import { initBackend } from '@floe/ml-runtime';
import type { BlockModel } from '@floe/models';
import { invalidArgument } from '@floe/errors';
import { LocalArtifactStore } from '@floe/store';
import {
  noRunResolver,
  openInitialModel,
  openByTarget,
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

/** One suite's data, opened where the task runs; errors name the suite's field. */
function openSuiteData(input: EvaluateTaskInput, i: number, targetColumn = input.suites[i]!.targetColumn): Dataset {
  const suite = input.suites[i]!;
  return openDataset(
    { uri: suite.dataset, split: suite.split, targetColumn, ignoreColumns: suite.ignoreColumns },
    { dataRoots: input.env.dataRoots, maxBytes: input.env.maxDatasetBytes },
    `${input.suiteFields[i]} dataset`,
  );
}

/** Suite i's data for a trained model: a table read by the column the model learned unless the suite names one. */
async function openSuiteDataFor(input: EvaluateTaskInput, i: number, model: BlockModel): Promise<Dataset> {
  const opened = await openByTarget(model, input.suites[i]!.targetColumn, (column) =>
    openSuiteData(input, i, column ?? ''),
  );
  return opened.data;
}

/** A model of suite i's task (classification, regression, language model), or INVALID_ARGUMENT. */
function requireTask(input: EvaluateTaskInput, i: number, model: BlockModel): void {
  const suite = input.suites[i]!;
  if (model.task !== suite.task)
    throw invalidArgument(
      input.field,
      `is a ${model.task} model; suite ${suite.name} (${input.suiteFields[i]}) is a ${suite.task} task`,
    );
}

/** Checks that `model` can be scored on suite i's data, then scores it. */
function scoreSuite(
  input: EvaluateTaskInput,
  i: number,
  model: BlockModel,
  data: Dataset,
  progress: (p: EvaluateTaskProgress) => void,
): Promise<SuiteOutcome> {
  const suite = input.suites[i]!;
  const suiteField = input.suiteFields[i]!;
  requireTask(input, i, model);
  requireReadable(model, data, input.field, suiteField);
  const context = Number(model.spec.config.context ?? suite.sequenceLength);
  requireEnough(
    data,
    `${suiteField} (suite ${suite.name}, dataset ${suite.dataset})`,
    suite.split,
    Math.min(suite.sequenceLength, context),
  );
  return evaluateSuite(model, suite, data, {
    bootstrap: input.bootstrap,
    seed: input.seed,
    onBatch: async (done, total) => progress({ suite: i, done, total }),
  });
}

serveTask<EvaluateTaskInput, SuiteOutcome[], EvaluateTaskProgress>(async (input, progress) => {
  await initBackend(input.env.backend, { threads: input.env.threads });
  const artifacts = new LocalArtifactStore(input.env.artifactsDir);
  const out: SuiteOutcome[] = [];
  if (input.model.kind === 'builtin') {
    // A builtin takes each suite's shape, as a run on that data builds it (an MLP its table's columns and
    // classes, LeNet its images' size and classes): a fresh model per suite.
    for (let i = 0; i < input.suites.length; i++) {
      const data = openSuiteData(input, i);
      const model = await openModel(input.field, input.model, artifacts, noRunResolver, { data });
      try {
        out.push(await scoreSuite(input, i, model, data, progress));
      } finally {
        model.dispose();
      }
    }
    return out;
  }
  const open = input.initial ? openInitialModel : openModel;
  const model = await open(input.field, input.model, artifacts, noRunResolver);
  try {
    for (let i = 0; i < input.suites.length; i++) {
      requireTask(input, i, model); // before the suite's data is read
      out.push(await scoreSuite(input, i, model, await openSuiteDataFor(input, i, model), progress));
    }
    return out;
  } finally {
    model.dispose();
  }
});
