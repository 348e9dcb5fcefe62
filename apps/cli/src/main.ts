// floe <command> [options]. Every command has --help and --json.
import { parse } from './args.js';
import { CATALOG as COMMANDS } from './commands/catalog.js';

function usage(): string {
  return [
    'floe — keep neural networks current',
    '',
    'Usage: floe <command> [options]',
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(10)} ${c.summary}`),
    '',
    'Every command takes --help and --json.',
  ].join('\n');
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage() + '\n');
    return name ? 0 : 2;
  }
  const entry = COMMANDS.find((c) => c.name === name);
  if (!entry) {
    process.stderr.write(`floe: unknown command ${JSON.stringify(name)}\n\n${usage()}\n`);
    return 2;
  }
  const cmd = await entry.load();
  let args;
  try {
    args = parse(cmd, rest);
  } catch (err) {
    process.stderr.write(`floe ${cmd.name}: ${(err as Error).message}\n\n${cmd.usage}\n`);
    return 2;
  }
  if (args.help) {
    process.stdout.write(`${cmd.summary}\n\n${cmd.usage}\n`);
    return 0;
  }
  return cmd.run(args);
}

process.exitCode = await main(process.argv.slice(2));
