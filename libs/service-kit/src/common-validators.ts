// Validation of the floe.common.v1 messages, the same in every service.
import { commonV1 } from '@floe/contracts';
import type { Validator } from './validate.js';

const SIZE = /^[a-z0-9][a-z0-9_-]{0,31}$/;

export function checkModelRef(v: Validator, field: string, ref: commonV1.ModelRef | undefined): void {
  const source = ref?.source;
  if (!source) {
    v.add(field, 'is required (builtin, run or artifact_id)');
    return;
  }
  switch (source.$case) {
    case 'builtin':
      v.enumValue(`${field}.builtin.architecture`, source.value.architecture, commonV1.ModelArchitecture);
      if (v.string(`${field}.builtin.size`, source.value.size, { required: true, max: 32 })) {
        v.check(SIZE.test(source.value.size), `${field}.builtin.size`, 'must be a size name such as "tiny" or "small"');
      }
      break;
    case 'run':
      v.id(`${field}.run.run_id`, source.value.runId);
      v.number(`${field}.run.step`, source.value.step, { min: 0, integer: true });
      if (source.value.best && Number(source.value.step) !== 0)
        v.add(`${field}.run.step`, 'must be 0 with best (the best checkpoint is one step)');
      break;
    case 'artifactId':
      v.id(`${field}.artifact_id`, source.value);
      break;
  }
}

export function checkDatasetRef(
  v: Validator,
  field: string,
  ref: commonV1.DatasetRef | undefined,
  opts: { required?: boolean } = { required: true },
): void {
  if (!ref) {
    if (opts.required !== false) v.add(field, 'is required');
    return;
  }
  if (v.string(`${field}.uri`, ref.uri, { required: true })) {
    v.check(/^(builtin|file):./.test(ref.uri), `${field}.uri`, 'must be "builtin:<name>" or "file:<path>"');
  }
  v.enumValue(`${field}.split`, ref.split, commonV1.DatasetSplit, { allowUnspecified: true });
  v.number(`${field}.max_examples`, ref.maxExamples, { min: 0, integer: true });
  v.string(`${field}.target_column`, ref.targetColumn, { max: 256 });
  v.count(`${field}.ignore_columns`, ref.ignoreColumns, 1024);
  ref.ignoreColumns.forEach((c, i) => v.string(`${field}.ignore_columns[${i}]`, c, { required: true, max: 256 }));
}

export function checkPlan(v: Validator, field: string, plan: commonV1.AdaptationPlan | undefined): void {
  if (!plan) return;
  v.count(`${field}.freeze_block_ids`, plan.freezeBlockIds, 1024);
  v.count(`${field}.tune_block_ids`, plan.tuneBlockIds, 1024);
  v.count(`${field}.expansions`, plan.expansions, 256);
  plan.freezeBlockIds.forEach((b, i) => v.string(`${field}.freeze_block_ids[${i}]`, b, { required: true, max: 128 }));
  plan.tuneBlockIds.forEach((b, i) => v.string(`${field}.tune_block_ids[${i}]`, b, { required: true, max: 128 }));
  plan.expansions.forEach((e, i) => {
    v.string(`${field}.expansions[${i}].after_block_id`, e.afterBlockId, { required: true, max: 128 });
    v.number(`${field}.expansions[${i}].copies`, e.copies, { min: 0, max: 16, integer: true });
  });
  v.number(`${field}.replay_fraction`, plan.replayFraction, { min: 0, max: 0.99 });
  if (plan.replayFraction > 0) checkDatasetRef(v, `${field}.replay_dataset`, plan.replayDataset);
  v.number(`${field}.learning_rate`, plan.learningRate, { min: 0, max: 10 });
  v.number(`${field}.budget_steps`, plan.budgetSteps, { min: 0, integer: true });
}

export function checkPage(v: Validator, field: string, page: commonV1.PageRequest | undefined): void {
  if (!page) return;
  v.number(`${field}.page_size`, page.pageSize, { min: 0, integer: true });
  v.string(`${field}.page_token`, page.pageToken, { max: 1024 });
}

/** The split a DatasetRef names; UNSPECIFIED means the one that fits the call (`fallback`). */
export function datasetSplit(
  split: commonV1.DatasetSplit,
  fallback: 'train' | 'validation' | 'test' | 'all',
): 'train' | 'validation' | 'test' | 'all' {
  const S = commonV1.DatasetSplit;
  return split === S.DATASET_SPLIT_TRAIN
    ? 'train'
    : split === S.DATASET_SPLIT_VALIDATION
      ? 'validation'
      : split === S.DATASET_SPLIT_TEST
        ? 'test'
        : split === S.DATASET_SPLIT_ALL
          ? 'all'
          : fallback;
}
