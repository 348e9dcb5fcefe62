// npm run bench:data-open [-- --images N] [-- --size PX] [-- --table-rows N] [-- --json]
// What a service's event loop goes through when a request names a folder of images (StartRun checks its
// training and validation splits): before, each split decoded the whole folder synchronously on the event loop
// and copied its pixels; now the folder is read once, in slices of 10 ms (openDatasetAsync), and each split's
// examples are counted, not copied. Both run here side by side on the same JPEG files (written first, N of PX×PX
// colour photos-like noise, four classes); printed: wall time and the event loop's longest stall (the largest
// gap a 1 ms timer saw), with their ratios. Then a CSV table (--table-rows, 200,000) read at once (openDataset) and in
// slices (openDatasetAsync, as StartRun and ProfileDataset read it).
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import jpeg from 'jpeg-js';
import { openDataset, openDatasetAsync } from '@floe/data';
import { requireEnoughIn } from '@floe/training';
import { Rng } from '@floe/random';
import { measureStall } from './stats.js';

const args = process.argv.slice(2);
const json = args.includes('--json');
const opt = (name: string, fallback: number) => {
  const i = args.indexOf(`--${name}`);
  const v = i >= 0 ? Number(args[i + 1]) : fallback;
  if (!(Number.isInteger(v) && v > 0)) throw new Error(`--${name} must be a positive integer, got ${args[i + 1]}`);
  return v;
};
const images = opt('images', 400);
const size = opt('size', 224);
const log = (s: string) => process.stderr.write(s + '\n');

const root = join(tmpdir(), `floe-bench-data-open-${process.pid}`);
const rng = new Rng(7);
for (let i = 0; i < images; i++) {
  const dir = join(root, 'photos', `class${i % 4}`);
  mkdirSync(dir, { recursive: true });
  const data = Buffer.alloc(size * size * 4);
  // Smooth gradients with noise: JPEG decodes them at its usual cost.
  for (let p = 0; p < size * size; p++) {
    const [x, y] = [p % size, Math.floor(p / size)];
    data[p * 4] = (x + i * 3 + rng.next() * 40) & 255;
    data[p * 4 + 1] = (y * 2 + rng.next() * 40) & 255;
    data[p * 4 + 2] = ((x + y) / 2 + (i % 4) * 60) & 255;
    data[p * 4 + 3] = 255;
  }
  writeFileSync(join(dir, `${i}.jpg`), jpeg.encode({ data, width: size, height: size }, 85).data);
}
log(`${images} JPEG files of ${size}×${size} written to ${root}`);

const opts = { dataRoots: [root] };
const uri = 'file:photos';
const before = await measureStall(async () => {
  openDataset({ uri, split: 'train' }, opts, 'spec.dataset');
  openDataset({ uri, split: 'validation' }, opts, 'spec.validation_dataset');
});
const now = await measureStall(async () => {
  // As StartRun checks them now: the folder read once, each split's examples counted.
  const full = await openDatasetAsync({ uri }, { ...opts, asRead: true }, 'spec.dataset');
  requireEnoughIn(full, 'spec.dataset', 'train', 0, 64);
  requireEnoughIn(full, 'spec.validation_dataset', 'validation', 0, 64);
});

// A table: a CSV of tableRows rows (numbers, a category, a date, a class) read at once and in slices.
const tableRows = opt('table-rows', 200_000);
writeFileSync(
  join(root, 'table.csv'),
  `size,count,kind,day,label\n${Array.from(
    { length: tableRows },
    (_, i) =>
      `${rng.normal().toFixed(4)},${i % 97},${['a', 'b', 'c'][i % 3]},2024-01-${String((i % 28) + 1).padStart(2, '0')},${i % 2}`,
  ).join('\n')}\n`,
);
const tableAtOnce = await measureStall(async () => {
  openDataset({ uri: 'file:table.csv' }, { ...opts, asRead: true }, 'spec.dataset');
});
const tableSliced = await measureStall(() =>
  openDatasetAsync({ uri: 'file:table.csv' }, { ...opts, asRead: true }, 'spec.dataset'),
);
rmSync(root, { recursive: true, force: true });

const round = (x: number) => Math.round(x * 10) / 10;
const result = {
  images,
  size,
  before: { wall_ms: round(before.wallMs), longest_stall_ms: round(before.stallMs) },
  now: { wall_ms: round(now.wallMs), longest_stall_ms: round(now.stallMs) },
  wall_ratio: round(before.wallMs / now.wallMs),
  stall_ratio: round(before.stallMs / now.stallMs),
  table: {
    rows: tableRows,
    at_once: { wall_ms: round(tableAtOnce.wallMs), longest_stall_ms: round(tableAtOnce.stallMs) },
    sliced: { wall_ms: round(tableSliced.wallMs), longest_stall_ms: round(tableSliced.stallMs) },
    stall_ratio: round(tableAtOnce.stallMs / tableSliced.stallMs),
  },
};
if (json) console.log(JSON.stringify(result));
else {
  console.log(`a training and a validation split of a folder of ${images} JPEGs (${size}×${size}), on the event loop`);
  console.log(
    `  before (each split decodes the folder at once): ${result.before.wall_ms} ms, longest stall ${result.before.longest_stall_ms} ms`,
  );
  console.log(
    `  now (read once, in slices):                     ${result.now.wall_ms} ms, longest stall ${result.now.longest_stall_ms} ms`,
  );
  console.log(`  wall time ${result.wall_ratio}x less, longest stall ${result.stall_ratio}x shorter`);
  const t = result.table;
  console.log(`a CSV of ${t.rows} rows (numbers, a category, a date, a class), on the event loop`);
  console.log(`  at once:   ${t.at_once.wall_ms} ms, longest stall ${t.at_once.longest_stall_ms} ms`);
  console.log(`  in slices: ${t.sliced.wall_ms} ms, longest stall ${t.sliced.longest_stall_ms} ms`);
  console.log(`  longest stall ${t.stall_ratio}x shorter`);
}
