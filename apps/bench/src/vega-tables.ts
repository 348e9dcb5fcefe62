// Real tables vega-datasets ships (an npm dependency), written as JSON lines into a folder of their own so that
// the benches read them through floe's own reader, as a user's files are read.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

type Records = Record<string, unknown>[];
const require = createRequire(import.meta.url);
const vega = join(dirname(require.resolve('vega-datasets')), '..', 'data');

/** A vega table as records: a .json file's array, or a .csv file's rows (birdstrikes.csv: no quoted commas). */
export function vegaRecords(file: string): Records {
  const text = readFileSync(join(vega, file), 'utf8');
  if (file.endsWith('.json')) return JSON.parse(text) as Records;
  const [head, ...lines] = text.trim().split('\n');
  const names = head!.split(',');
  return lines.map((l) => Object.fromEntries(l.split(',').map((v, i) => [names[i]!, v])));
}

/** A folder of JSON lines files (name → records) under the system's temporary folder; `remove` deletes it. */
export function jsonLinesFolder(name: string, tables: Record<string, Records>): { dir: string; remove(): void } {
  const dir = join(tmpdir(), `floe-${name}-${process.pid}`);
  mkdirSync(dir, { recursive: true });
  for (const [file, records] of Object.entries(tables))
    writeFileSync(join(dir, file), records.map((r) => JSON.stringify(r)).join('\n') + '\n');
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
