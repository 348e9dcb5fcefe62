// The README's table of the chart's values, made from values.schema.json (descriptions, types) and
// values.yaml (defaults): `npm run deploy:values-table` rewrites it; a test fails when it is stale.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';

const chartDir = new URL('../helm/floe', import.meta.url).pathname;
const readmePath = join(chartDir, '..', '..', '..', 'README.md');
const START = '<!-- values-table:start (npm run deploy:values-table) -->';
const END = '<!-- values-table:end -->';

interface Schema {
  type?: string;
  description?: string;
  enum?: unknown[];
  properties?: Record<string, Schema>;
  items?: Schema;
  oneOf?: Schema[];
}

const show = (v: unknown) => (v === undefined ? '' : '`' + JSON.stringify(v).replace(/\|/g, '\\|') + '`');
const typeOf = (s: Schema) =>
  s.enum ? s.enum.map((e) => JSON.stringify(e)).join(' \\| ') : (s.type ?? (s.oneOf ? 'quantity' : 'object'));

export function valuesTable(): string {
  const schema = JSON.parse(readFileSync(join(chartDir, 'values.schema.json'), 'utf8')) as Schema;
  const defaults = parseYaml(readFileSync(join(chartDir, 'values.yaml'), 'utf8')) as Record<string, unknown>;
  const rows: string[] = ['| key | type | default | description |', '| --- | --- | --- | --- |'];
  const walk = (s: Schema, path: string, value: unknown) => {
    // Objects with fields of their own are expanded; maps and pass-through objects are one row.
    const leafObject = s.type === 'object' && s.properties && path.split('.').length >= 3;
    if (s.properties && !leafObject) {
      for (const [k, child] of Object.entries(s.properties))
        walk(child, path ? `${path}.${k}` : k, (value as Record<string, unknown> | undefined)?.[k]);
      return;
    }
    rows.push(`| \`${path}\` | ${typeOf(s)} | ${show(value)} | ${s.description ?? ''} |`);
  };
  const { components, ...rest } = schema.properties!;
  walk({ properties: rest }, '', defaults);
  // The five services share one shape: one row per field, with each service's default where they differ.
  const perService = defaults.components as Record<string, Record<string, unknown>>;
  const names = Object.keys(components!.properties!);
  const fields = components!.properties![names[0]!]!.properties!;
  for (const [field, s] of Object.entries(fields)) {
    const values = names.map((n) => perService[n]![field]);
    const same = values.every((v) => JSON.stringify(v) === JSON.stringify(values[0]));
    const value = same ? show(values[0]) : names.map((n, i) => `${n}: ${show(values[i])}`).join('<br>');
    rows.push(`| \`components.<service>.${field}\` | ${typeOf(s)} | ${value} | ${s.description ?? ''} |`);
  }
  return [START, ...rows, END].join('\n');
}

/** Rewrites the README's table in place. */
export function updateReadme(): boolean {
  const readme = readFileSync(readmePath, 'utf8');
  const from = readme.indexOf(START);
  const to = readme.indexOf(END);
  if (from < 0 || to < 0) throw new Error(`README.md has no ${START} … ${END} section`);
  const next = readme.slice(0, from) + valuesTable() + readme.slice(to + END.length);
  if (next === readme) return false;
  writeFileSync(readmePath, next);
  return true;
}

if (process.argv[1] === new URL(import.meta.url).pathname)
  console.log(updateReadme() ? 'README.md: values table updated' : 'README.md: values table already current');
