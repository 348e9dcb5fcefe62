// file: datasets: a text file or a folder of text files, CSV (a header row), or JSON lines. Tabular files
// use the column named "label" or "target" as the target (else the last column): numbers with few distinct
// integer values, or text, make a classification; other numbers a regression.
import { lstatSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import { FloeError, resourceExhausted } from '@floe/errors';
import type { Dataset, TabularDataset } from './types.js';

const TEXT_EXTENSIONS = new Set(['.txt', '.md', '.ts', '.js', '.json', '.py', '.html', '.csv', '.log', '.rst', '']);

function listFiles(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir).sort()) {
    if (name.startsWith('.')) continue;
    const p = join(dir, name);
    // Links inside a folder are not followed: one could lead out of the data roots, which were checked
    // for the folder alone.
    const s = lstatSync(p);
    if (s.isDirectory()) listFiles(p, out);
    else if (s.isFile() && TEXT_EXTENSIONS.has(extname(name))) out.push(p);
  }
  return out;
}

function checkSize(bytes: number, maxBytes: number, what: string): void {
  if (bytes > maxBytes)
    throw resourceExhausted(`${what} is ${bytes} bytes, over the limit of ${maxBytes} (FLOE_MAX_DATASET_BYTES)`);
}

function tabular(name: string, header: string[], rows: (string | number | null)[][]): TabularDataset {
  if (header.length < 2) throw new FloeError('invalid_argument', `${name}: a tabular file needs at least two columns`);
  let t = header.findIndex((h) => h === 'label' || h === 'target');
  if (t < 0) t = header.length - 1;
  const featureIdx = header.map((_, i) => i).filter((i) => i !== t);
  const categories: Record<string, string[]> = {};
  const x = new Float32Array(rows.length * featureIdx.length);
  rows.forEach((r, i) =>
    featureIdx.forEach((c, j) => {
      const v = r[c];
      if (v === null || v === undefined || v === '') x[i * featureIdx.length + j] = NaN;
      else if (typeof v === 'number' || (!Number.isNaN(Number(v)) && v.trim() !== ''))
        x[i * featureIdx.length + j] = Number(v);
      else {
        const col = (categories[header[c]!] ??= []);
        if (!col.includes(v)) col.push(v);
        x[i * featureIdx.length + j] = col.indexOf(v);
      }
    }),
  );
  const tv = rows.map((r) => r[t]);
  const numeric = tv.every((v) => typeof v === 'number' || (v !== null && v !== '' && !Number.isNaN(Number(v))));
  const distinct = new Set(tv.map(String));
  const isClass = !numeric || (distinct.size <= 20 && tv.every((v) => Number.isInteger(Number(v))));
  const base = {
    kind: 'tabular' as const,
    name,
    features: featureIdx.map((i) => header[i]!),
    x,
    rows: rows.length,
    categories,
  };
  if (isClass) {
    const classes = [...distinct].sort();
    return {
      ...base,
      target: { type: 'class', labels: Int32Array.from(tv.map((v) => classes.indexOf(String(v)))), classes },
    };
  }
  return { ...base, target: { type: 'regression', y: Float32Array.from(tv.map(Number)), names: [header[t]!] } };
}

function parseCsvLine(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]!;
    if (quoted) {
      if (ch === '"' && line[i + 1] === '"') {
        cur += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else cur += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  out.push(cur);
  return out;
}

/** Loads a resolved path (already checked against the data roots). */
export function loadFile(path: string, maxBytes: number): Dataset {
  const s = statSync(path);
  const name = basename(path);
  if (s.isDirectory()) {
    const files = listFiles(path);
    const total = files.reduce((n, f) => n + statSync(f).size, 0);
    checkSize(total, maxBytes, path);
    return { kind: 'text', name, documents: files.map((f) => new Uint8Array(readFileSync(f))) };
  }
  checkSize(s.size, maxBytes, path);
  const ext = extname(path).toLowerCase();
  if (ext === '.csv') {
    const lines = readFileSync(path, 'utf8')
      .split(/\r?\n/)
      .filter((l) => l.trim() !== '');
    if (lines.length < 2)
      throw new FloeError('invalid_argument', `${name}: a CSV file needs a header and at least one row`);
    return tabular(name, parseCsvLine(lines[0]!), lines.slice(1).map(parseCsvLine));
  }
  if (ext === '.jsonl' || ext === '.ndjson') {
    const records = readFileSync(path, 'utf8')
      .split(/\r?\n/)
      .filter((l) => l.trim() !== '')
      .map((l, i) => {
        try {
          return JSON.parse(l) as Record<string, string | number | null>;
        } catch {
          throw new FloeError('invalid_argument', `${name}: line ${i + 1} is not JSON`);
        }
      });
    if (records.length === 0) throw new FloeError('invalid_argument', `${name}: no records`);
    const header = Object.keys(records[0]!);
    return tabular(
      name,
      header,
      records.map((r) => header.map((h) => r[h] ?? null)),
    );
  }
  return { kind: 'text', name, documents: [new Uint8Array(readFileSync(path))] };
}
