// Argument parsing shared by the commands: node's parseArgs plus --json and --help on every command.
import { parseArgs, type ParseArgsConfig } from 'node:util';

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
  const { values, positionals } = parseArgs({ args: argv, options: { ...COMMON_OPTIONS, ...cmd.options }, allowPositionals: true, strict: true });
  return { values, positionals, json: Boolean(values.json), help: Boolean(values.help) };
}

/** Prints a result: JSON when asked, else the human form. */
export function output(args: ParsedArgs, value: unknown, human: () => string): void {
  process.stdout.write(args.json ? JSON.stringify(value) + '\n' : human() + '\n');
}
