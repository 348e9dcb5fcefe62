// Argument parsing shared by the commands: node's parseArgs plus --json and --help on every command.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { commonV1 } from '@floe/contracts';

/** --arch values → the contract's enum. */
export const ARCH: Record<string, commonV1.ModelArchitecture> = {
  'transformer-lm': commonV1.ModelArchitecture.MODEL_ARCHITECTURE_TRANSFORMER_LM,
  'mamba-lm': commonV1.ModelArchitecture.MODEL_ARCHITECTURE_MAMBA_LM,
  lenet5: commonV1.ModelArchitecture.MODEL_ARCHITECTURE_LENET5,
  mlp: commonV1.ModelArchitecture.MODEL_ARCHITECTURE_MLP,
};

export interface Command {
  name: string;
  summary: string;
  usage: string;
  options?: NonNullable<ParseArgsConfig['options']>;
  run(args: ParsedArgs): Promise<number>;
}

export interface ParsedArgs {
  values: Record<string, string | boolean | string[] | boolean[] | undefined>;
  positionals: string[];
  json: boolean;
}

export const COMMON_OPTIONS = {
  json: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
  address: { type: 'string' },
} as const;

export function parse(cmd: Command, argv: string[]): ParsedArgs & { help: boolean } {
  const { values, positionals } = parseArgs({
    args: argv,
    options: { ...COMMON_OPTIONS, ...cmd.options },
    allowPositionals: true,
    strict: true,
  });
  return { values, positionals, json: Boolean(values.json), help: Boolean(values.help) };
}

/** Prints a result: JSON when asked, else the human form. */
export function output(args: ParsedArgs, value: unknown, human: () => string): void {
  process.stdout.write(args.json ? JSON.stringify(value) + '\n' : human() + '\n');
}

export const str = (a: ParsedArgs, k: string, d = '') =>
  typeof a.values[k] === 'string' ? (a.values[k] as string) : d;
export const num = (a: ParsedArgs, k: string, d: number) => (typeof a.values[k] === 'string' ? Number(a.values[k]) : d);
export const list = (a: ParsedArgs, k: string) =>
  str(a, k)
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

/** --target and --ignore: a table's column to predict and its columns to leave out (DatasetRef's). */
export const TABLE_OPTIONS = { target: { type: 'string' }, ignore: { type: 'string' } } as const;
/** The usage line of TABLE_OPTIONS. */
export const TABLE_USAGE =
  "  --target COLUMN: a table's column to predict (default: the one named label or target, else the last);\n" +
  '  --ignore A,B: columns to leave out (not features, not profiled: a key that repeats, a column that leaks)';

/** A table's columns as --target and --ignore name them. */
export const tableColumns = (a: ParsedArgs): Pick<commonV1.DatasetRef, 'targetColumn' | 'ignoreColumns'> => ({
  targetColumn: str(a, 'target'),
  ignoreColumns: list(a, 'ignore'),
});

/** A text progress bar: [#####.....]. */
export function bar(done: number, total: number, width = 30): string {
  const filled = Math.round((Math.min(done, total) / Math.max(1, total)) * width);
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}]`;
}
