// What the data can tell before any training: the model reads it, and every split a run or an evaluation
// draws from holds at least one sequence (text) or one example. Checked where a request arrives, so that
// a run is refused at StartRun instead of failing at step 0.
import { byteCount, exampleCount, selectSplit, splitIndices, type Dataset, type Split } from '@floe/data';
import { FloeError, InvalidArgumentError } from '@floe/errors';
import { mismatch, schemaOf, type ModelDescription } from './sources.js';

/** Refuses data the model cannot read, naming both the model's field and the data's (INVALID_ARGUMENT). */
export function requireReadable(model: ModelDescription, data: Dataset, modelField: string, dataField: string): void {
  const why = mismatch(model, data);
  if (!why) return;
  const what = `${model.spec.architecture}/${model.spec.size}`;
  throw new InvalidArgumentError([
    { field: modelField, description: `${what} cannot read ${dataField}: ${why}` },
    { field: dataField, description: `is ${data.kind} data (${data.name}), which ${what} cannot read: ${why}` },
  ]);
}

/** Bytes of text a model needs for one training or evaluation sequence of `sequenceLength`. */
export function bytesPerSequence(sequenceLength: number): number {
  return sequenceLength + 2;
}

/**
 * Refuses a split too small to draw from (FAILED_PRECONDITION naming the field and the split): text
 * shorter than one sequence, or no examples at all.
 */
export function requireEnough(data: Dataset, field: string, split: string, sequenceLength: number): void {
  if (data.kind === 'text') {
    // Documents are joined with a newline each (byteStream).
    const bytes = byteCount(data) + data.documents.length;
    const needed = bytesPerSequence(sequenceLength);
    if (bytes < needed)
      throw new FloeError(
        'failed_precondition',
        `${field}: the ${split} split of ${data.name} holds ${bytes} bytes of text, less than one sequence of ${needed} bytes (sequence length ${sequenceLength})`,
      );
    return;
  }
  requireExamples(exampleCount(data), data.name, field, split);
}

function requireExamples(count: number, name: string, field: string, split: string): void {
  if (count === 0)
    throw new FloeError('failed_precondition', `${field}: the ${split} split of ${name} has no examples`);
}

/**
 * requireEnough on the `split` of a whole dataset (at most `max` examples; 0: all), without copying a table's
 * or images' values to count them (hundreds of megabytes of pixels take seconds to copy).
 */
export function requireEnoughIn(full: Dataset, field: string, split: Split, max: number, sequenceLength: number): void {
  if (full.kind === 'text') return requireEnough(selectSplit(full, split, max), field, split, sequenceLength);
  const count = splitIndices(full, split).length;
  requireExamples(max > 0 ? Math.min(count, max) : count, full.name, field, split);
}

/** The column a model learned to predict, when its checkpoint records one (MLPs trained on a table). */
export function learnedTargetColumn(model: ModelDescription): string | undefined {
  const names = schemaOf(model).targetNames;
  return names?.length === 1 ? names[0] : undefined;
}

/**
 * Opens a table for `model` by the target column the request names; when it names none, by the column the
 * model learned to predict — so that a checkpoint continues, is scored or explained on a new table of the same
 * columns without naming its target again — unless the data lacks that column or is not a table (a renamed
 * target, a builtin), where the data's own default (label, target or the last column) stands.
 */
export async function openByTarget<D>(
  model: ModelDescription,
  named: string | undefined,
  open: (targetColumn: string | undefined) => D | Promise<D>,
): Promise<{ data: D; targetColumn: string | undefined }> {
  const learned = learnedTargetColumn(model);
  if (named || !learned) return { data: await open(named || undefined), targetColumn: named || undefined };
  try {
    return { data: await open(learned), targetColumn: learned };
  } catch (err) {
    if (err instanceof InvalidArgumentError && err.violations.every((v) => v.field.endsWith('target_column')))
      return { data: await open(undefined), targetColumn: undefined };
    throw err;
  }
}
