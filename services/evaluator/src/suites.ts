// Evaluation suites: a builtin one per builtin dataset, and user suites from YAML files in a folder
// (FLOE_SUITES_DIR, default $FLOE_HOME/suites). A suite names a task, a dataset and split, its metrics and
// how many examples (sequences, for language models) it evaluates.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { BUILTIN_DATASETS, parseDatasetUri } from '@floe/data';
import { CLASSIFICATION_METRICS, REGRESSION_METRICS } from '@floe/metrics';

export type TaskKind = 'language-model' | 'classification' | 'regression';
export type SplitName = 'train' | 'validation' | 'test' | 'all';

export interface SuiteDef {
  name: string;
  task: TaskKind;
  dataset: string;
  split: SplitName;
  /** A table's target column; empty: "label" or "target", else the last (DatasetRef.target_column). */
  targetColumn: string;
  /** A table's columns to leave out (DatasetRef.ignore_columns). */
  ignoreColumns: string[];
  metrics: string[];
  /** Sequences (language models) or examples to evaluate. */
  samples: number;
  /** Language models: bytes per evaluated sequence. */
  sequenceLength: number;
  batchSize: number;
  description: string;
  /** "builtin" or the file it came from. */
  source: string;
}

/** The metrics a suite may ask for, per task. */
export const METRICS: Record<TaskKind, string[]> = {
  'language-model': ['bits_per_byte', 'perplexity'],
  classification: CLASSIFICATION_METRICS,
  regression: REGRESSION_METRICS,
};

/** What a suite that names no metrics reports. */
const DEFAULT_METRICS: Record<TaskKind, string[]> = {
  'language-model': ['bits_per_byte', 'perplexity'],
  classification: ['accuracy', 'ece', 'loss'],
  regression: ['mse'],
};

const BUILTIN_TASK: Record<(typeof BUILTIN_DATASETS)[number], { task: TaskKind; samples: number; what: string }> = {
  'spam-assassin': {
    task: 'language-model',
    samples: 256,
    what: 'e-mails (SpamAssassin): bits per byte on held-out messages',
  },
  'typescript-lib': {
    task: 'language-model',
    samples: 256,
    what: 'TypeScript declaration files: bits per byte on held-out code',
  },
  sotu: {
    task: 'language-model',
    samples: 256,
    what: 'State of the Union addresses: bits per byte on held-out English prose',
  },
  mnist: { task: 'classification', samples: 1000, what: 'handwritten digits: accuracy and calibration' },
  iris: { task: 'classification', samples: 0, what: 'iris species from four measurements' },
  penguins: { task: 'classification', samples: 0, what: 'penguin species from measurements' },
  'lorenz96-sim': { task: 'regression', samples: 1000, what: 'Lorenz-96 simulation: next-state MSE' },
  'lorenz96-obs': {
    task: 'regression',
    samples: 500,
    what: 'Lorenz-96 noisy observations (a shifted regime): next-state MSE',
  },
};

export const BUILTIN_SUITES: SuiteDef[] = BUILTIN_DATASETS.map((name) => {
  const b = BUILTIN_TASK[name];
  const defaults =
    b.task === 'language-model'
      ? ['bits_per_byte', 'perplexity']
      : b.task === 'classification'
        ? ['accuracy', 'ece']
        : ['mse'];
  return {
    name,
    task: b.task,
    dataset: `builtin:${name}`,
    split: 'test',
    targetColumn: '',
    ignoreColumns: [],
    metrics: defaults,
    samples: b.samples,
    sequenceLength: 128,
    batchSize: 32,
    description: b.what,
    source: 'builtin',
  };
});

export class SuiteError extends Error {}

/** Reads one suite file; throws SuiteError naming the file and the field. */
export function parseSuite(text: string, source: string): SuiteDef {
  const raw = parseYaml(text) as Record<string, unknown> | null;
  const fail = (field: string, why: string) => new SuiteError(`${source}: ${field} ${why}`);
  if (!raw || typeof raw !== 'object') throw fail('the file', 'is not a YAML mapping');
  return suiteFromRecord(raw, source, fail);
}

/**
 * A suite from its fields (YAML keys: name, task, dataset, split, target_column, ignore_columns, metrics, samples,
 * sequence_length, batch_size, description), the one set of rules for files and for suites sent inline. `fail` makes the
 * error for a bad field.
 */
export function suiteFromRecord(
  raw: Record<string, unknown>,
  source: string,
  fail: (field: string, why: string) => Error,
): SuiteDef {
  const str = (k: string, required = false) => {
    const v = raw[k];
    if (v === undefined || v === null) {
      if (required) throw fail(k, 'is required');
      return undefined;
    }
    if (typeof v !== 'string') throw fail(k, 'must be a string');
    return v;
  };
  const int = (k: string, d: number, min: number) => {
    const v = raw[k];
    if (v === undefined || v === null) return d;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min) throw fail(k, `must be an integer ≥ ${min}`);
    return v;
  };
  const name = str('name', true)!;
  if (!/^[a-z0-9][a-z0-9._-]{0,63}$/.test(name))
    throw fail('name', 'must be lower-case letters, digits, ".", "_" or "-" (at most 64)');
  const task = str('task', true) as TaskKind;
  if (!(task in METRICS)) throw fail('task', `must be one of ${Object.keys(METRICS).join(', ')}`);
  const dataset = str('dataset', true)!;
  try {
    parseDatasetUri(dataset);
  } catch (err) {
    throw fail('dataset', (err as Error).message);
  }
  const split = (str('split') ?? 'test') as SplitName;
  if (!['train', 'validation', 'test', 'all'].includes(split))
    throw fail('split', 'must be train, validation, test or all');
  const ignoreColumns = raw.ignore_columns ?? [];
  if (!Array.isArray(ignoreColumns) || !ignoreColumns.every((c) => typeof c === 'string' && c !== ''))
    throw fail('ignore_columns', 'must be a list of column names');
  const metrics = raw.metrics === undefined ? DEFAULT_METRICS[task] : raw.metrics;
  if (!Array.isArray(metrics) || metrics.length === 0 || !metrics.every((m) => typeof m === 'string'))
    throw fail('metrics', 'must be a list of metric names');
  for (const m of metrics as string[])
    if (!METRICS[task].includes(m))
      throw fail('metrics', `has ${JSON.stringify(m)}, which does not apply to ${task} (${METRICS[task].join(', ')})`);
  return {
    name,
    task,
    dataset,
    split,
    targetColumn: str('target_column') ?? '',
    ignoreColumns: ignoreColumns as string[],
    metrics: metrics as string[],
    samples: int('samples', task === 'language-model' ? 256 : 0, 0),
    sequenceLength: int('sequence_length', 128, 2),
    batchSize: int('batch_size', 32, 1),
    description: str('description') ?? '',
    source,
  };
}

/** A suite file that was not used, and why. */
export interface RefusedSuite {
  file: string;
  reason: string;
}

/** Builtin suites plus the folder's *.yaml / *.yml files; a bad or duplicate file is refused, not fatal. */
export function loadSuites(dir: string): { suites: SuiteDef[]; refused: RefusedSuite[] } {
  const suites = [...BUILTIN_SUITES];
  const refused: RefusedSuite[] = [];
  if (!existsSync(dir)) return { suites, refused };
  for (const file of readdirSync(dir)
    .filter((f) => /\.ya?ml$/.test(f))
    .sort()) {
    const path = join(dir, file);
    try {
      const s = parseSuite(readFileSync(path, 'utf8'), path);
      if (suites.some((x) => x.name === s.name))
        throw new SuiteError(`${path}: name ${JSON.stringify(s.name)} is already taken`);
      suites.push(s);
    } catch (err) {
      const message = (err as Error).message;
      refused.push({ file: path, reason: message.startsWith(`${path}: `) ? message.slice(path.length + 2) : message });
    }
  }
  return { suites, refused };
}
