import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FloeError } from '@floe/errors';
import { Rng } from '@floe/random';
import { tempDir } from './temp-dir.js';
import { turnsDuring } from './event-loop.js';
import {
  conformImages,
  finishYielding,
  loadFile,
  openDataset,
  openDatasetAsync,
  resizeImage,
  saveImageFolder,
  selectSplit,
  selectSplitSteps,
  splitIndices,
  type ImageDataset,
} from '../src/index.js';

/** `count` random images in 8-bit steps (what a file holds), labelled round-robin over `classes`. */
function randomImages(
  seed: number,
  classes: string[],
  count: number,
  height: number,
  width: number,
  channels: number,
): ImageDataset {
  const rng = new Rng(seed);
  return {
    kind: 'image',
    name: 'random',
    height,
    width,
    channels,
    pixels: Float32Array.from({ length: count * height * width * channels }, () => Math.floor(rng.next() * 256) / 255),
    labels: Int32Array.from({ length: count }, (_, i) => i % classes.length),
    classes,
  };
}

/** The pixels of each image of class `c`, in the order they were written. */
const imagesOf = (d: ImageDataset, c: string) => {
  const px = d.height * d.width * d.channels;
  return [...d.labels.keys()]
    .filter((i) => d.classes[d.labels[i]!] === c)
    .map((i) => d.pixels.subarray(i * px, (i + 1) * px));
};

const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
};

function refusal(fn: () => unknown, kind: string, pattern: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof FloeError, String(err));
    assert.equal(err.kind, kind);
    assert.match(err.message, pattern);
    return true;
  });
}

test('a folder of PNG images, one folder per class, reads back exactly what was written', () => {
  const dir = tempDir();
  try {
    const written = randomImages(1, ['7', '10', '3'], 12, 20, 18, 1);
    saveImageFolder(written, join(dir.path, 'grey'));
    const d = loadFile(join(dir.path, 'grey'), 1 << 30) as ImageDataset;
    assert.equal(d.kind, 'image');
    assert.deepEqual([d.height, d.width, d.channels], [20, 18, 1], 'grey images make one channel');
    assert.deepEqual(d.classes, ['3', '7', '10'], 'class folders ordered as numbers');
    assert.equal(d.labels.length, 12);
    assert.equal(d.resizedImages, undefined);
    for (const c of written.classes) {
      const [a, b] = [imagesOf(written, c), imagesOf(d, c)];
      assert.equal(b.length, 4);
      a.forEach((image, n) => assert.equal(maxAbsDiff(image, b[n]!), 0, `class ${c} image ${n}`));
    }
    // Splits work as for any dataset (80/10/10 by example).
    const sizes = (['train', 'validation', 'test'] as const).map((s) => selectSplit(d, s).labels.length);
    assert.equal(sizes[0]! + sizes[1]! + sizes[2]!, 12);

    const colour = randomImages(2, ['cat', 'dog'], 6, 16, 16, 3);
    saveImageFolder(colour, join(dir.path, 'colour'));
    const c = loadFile(join(dir.path, 'colour'), 1 << 30) as ImageDataset;
    assert.equal(c.channels, 3);
    assert.equal(maxAbsDiff(imagesOf(c, 'dog')[2]!, imagesOf(colour, 'dog')[2]!), 0);
  } finally {
    dir.remove();
  }
});

test('grey beside colour, JPEG and mixed sizes: three channels, JPEG within its error, the common size', () => {
  const dir = tempDir();
  try {
    const root = join(dir.path, 'mixed');
    const grey = randomImages(3, ['a'], 3, 24, 24, 1);
    saveImageFolder(grey, root);
    saveImageFolder(randomImages(4, ['b'], 3, 24, 24, 3), root);
    saveImageFolder(randomImages(5, ['c'], 2, 40, 30, 1), root);
    const d = loadFile(root, 1 << 30) as ImageDataset;
    assert.deepEqual([d.height, d.width, d.channels], [24, 24, 3], 'one colour image makes every image RGB');
    assert.deepEqual(d.classes, ['a', 'b', 'c']);
    assert.equal(d.resizedImages, 2, 'the two 40×30 images are resized to the common 24×24');
    // A grey image in an RGB dataset has its value in every channel.
    const g = imagesOf(d, 'a')[0]!;
    const own = imagesOf(grey, 'a')[0]!;
    for (let p = 0; p < 24 * 24; p++) for (let ch = 0; ch < 3; ch++) assert.equal(g[p * 3 + ch], own[p]);

    // JPEG is lossy: a smooth image (random pixels are JPEG's worst case) decodes close to what was written.
    const smooth: ImageDataset = {
      ...randomImages(6, ['s'], 1, 32, 32, 3),
      pixels: Float32Array.from({ length: 32 * 32 * 3 }, (_, i) => {
        const [p, ch] = [Math.floor(i / 3), i % 3];
        return Math.round(255 * (0.5 + 0.4 * Math.sin((p % 32) / 5 + ch) * Math.cos(Math.floor(p / 32) / 7))) / 255;
      }),
    };
    saveImageFolder(smooth, join(dir.path, 'jpeg'), { format: 'jpeg', quality: 95 });
    const j = loadFile(join(dir.path, 'jpeg'), 1 << 30) as ImageDataset;
    assert.equal(j.channels, 3);
    let meanAbs = 0;
    for (let i = 0; i < j.pixels.length; i++) meanAbs += Math.abs(j.pixels[i]! - smooth.pixels[i]!) / j.pixels.length;
    assert.ok(meanAbs < 0.01, `JPEG at quality 95: mean |Δ| ${meanAbs}`);
  } finally {
    dir.remove();
  }
});

test('resizing keeps a constant image constant and a ramp a ramp; shrinking by 2 keeps a ramp', () => {
  const flat = new Float32Array(7 * 5 * 2).fill(0.25);
  for (const [h, w] of [
    [14, 10],
    [3, 2],
    [7, 5],
    [1, 1],
  ] as const)
    assert.ok(
      resizeImage(flat, 7, 5, 2, h, w).every((v) => Math.abs(v - 0.25) < 1e-6),
      `${h}×${w}`,
    );
  // A horizontal ramp across 8 pixels, upsampled to 16: the interior stays linear in the pixel centres.
  const up = resizeImage(
    Float32Array.from({ length: 8 }, (_, x) => x / 7),
    1,
    8,
    1,
    1,
    16,
  );
  for (let x = 2; x < 14; x++) assert.ok(Math.abs(up[x + 1]! - 2 * up[x]! + up[x - 1]!) < 1e-6);
  // Shrinking by 2: each output centre lies between two inputs and its weights are symmetric about it.
  const down = resizeImage(
    Float32Array.from({ length: 16 }, (_, x) => x),
    1,
    16,
    1,
    1,
    8,
  );
  for (let x = 1; x < 7; x++) assert.ok(Math.abs(down[x]! - (2 * x + 0.5)) < 1e-5, `${down[x]}`);
});

test('image folders refuse what they cannot read, naming the file', () => {
  const dir = tempDir();
  try {
    const images = randomImages(7, ['1', '2'], 4, 16, 16, 1);
    const loose = join(dir.path, 'loose');
    saveImageFolder(images, loose);
    writeFileSync(join(loose, 'stray.png'), Buffer.from('not really'));
    refusal(() => loadFile(loose, 1 << 30), 'invalid_argument', /stray\.png is not inside a class folder/);

    const broken = join(dir.path, 'broken');
    saveImageFolder(images, broken);
    writeFileSync(join(broken, '2', 'bad.png'), Buffer.from('not a png'));
    refusal(() => loadFile(broken, 1 << 30), 'invalid_argument', /broken\/2\/bad\.png cannot be read as a PNG image/);

    // A text file inside a class folder is ambiguous; one beside the class folders (a README) is skipped.
    const both = join(dir.path, 'both');
    saveImageFolder(images, both);
    writeFileSync(join(both, '1', 'notes.txt'), 'hello');
    refusal(() => loadFile(both, 1 << 30), 'invalid_argument', /1 text file \(e\.g\. 1\/notes\.txt\) and 4 images/);
    const documented = join(dir.path, 'documented');
    saveImageFolder(images, documented);
    writeFileSync(join(documented, 'README.md'), '# two classes');
    writeFileSync(join(documented, 'LICENSE'), 'CC0');
    const read = loadFile(documented, 1 << 30) as ImageDataset;
    assert.deepEqual([read.kind, read.classes, read.labels.length], ['image', ['1', '2'], 4]);

    // The decoded pixels count against the limit too (a PNG compresses well).
    const big = join(dir.path, 'big');
    saveImageFolder({ ...images, pixels: new Float32Array(images.pixels.length) }, big);
    refusal(() => loadFile(big, 3000), 'resource_exhausted', /4 images of 16×16×1 take 4096 bytes/);

    // Through openDataset the content errors name the request's field.
    assert.throws(
      () => openDataset({ uri: 'file:broken' }, { dataRoots: [dir.path] }, 'spec.dataset'),
      (err: unknown) => err instanceof FloeError && err.violations[0]?.field === 'spec.dataset.uri',
    );
  } finally {
    dir.remove();
  }
});

test('images conformed to a model: grey fills every channel, colour becomes luma, sizes resample', () => {
  const grey = randomImages(8, ['a'], 2, 8, 8, 1);
  const rgb = conformImages(grey, 8, 8, 3);
  for (let i = 0; i < grey.pixels.length; i++)
    for (let ch = 0; ch < 3; ch++) assert.equal(rgb.pixels[i * 3 + ch], grey.pixels[i]);
  const colour = randomImages(9, ['a'], 2, 8, 8, 3);
  const luma = conformImages(colour, 8, 8, 1);
  for (let i = 0; i < luma.pixels.length; i++) {
    const [r, g, b] = [0, 1, 2].map((ch) => colour.pixels[i * 3 + ch]!);
    assert.ok(Math.abs(luma.pixels[i]! - (0.299 * r! + 0.587 * g! + 0.114 * b!)) < 1e-6);
  }
  const bigger = conformImages(colour, 12, 10, 3);
  assert.deepEqual([bigger.height, bigger.width, bigger.channels, bigger.pixels.length], [12, 10, 3, 2 * 12 * 10 * 3]);
  assert.equal(conformImages(colour, 8, 8, 3), colour, 'the same shape is the same dataset');
});

test('openDatasetAsync reads a folder in slices, letting the event loop run, and gives what openDataset gives', async () => {
  const dir = tempDir();
  try {
    const written = randomImages(6, ['a', 'b'], 10, 12, 12, 3);
    saveImageFolder(written, join(dir.path, 'photos'));
    const opts = { dataRoots: [dir.path] };
    const ref = { uri: 'file:photos', split: 'train' as const };
    const atOnce = openDataset(ref, opts) as ImageDataset;
    // Every turn of the event loop during the read: with slices of 0 ms, at least one per file.
    const { result: sliced, turns } = await turnsDuring(
      async () => (await openDatasetAsync(ref, { ...opts, sliceMs: 0 })) as ImageDataset,
    );
    assert.ok(turns >= 10, `${turns} turns of the event loop while 10 files were read`);
    assert.deepEqual(sliced, atOnce);
    // Its refusals are openDataset's.
    await assert.rejects(openDatasetAsync({ uri: 'file:nothing-here' }, opts, 'spec.dataset'), /spec\.dataset\.uri/);
  } finally {
    dir.remove();
  }
});

test('an aborted signal stops sliced work at its next turn: the reason is thrown, the rest never runs', async () => {
  const dir = tempDir();
  try {
    saveImageFolder(randomImages(6, ['a', 'b'], 10, 12, 12, 3), join(dir.path, 'photos'));
    const controller = new AbortController();
    let steps = 0;
    let closed = false;
    const work = (function* () {
      try {
        for (; steps < 1000; steps++) {
          if (steps === 3) controller.abort(new Error('the caller went away'));
          yield;
        }
        return steps;
      } finally {
        closed = true;
      }
    })();
    await assert.rejects(finishYielding(work, { sliceMs: 0, signal: controller.signal }), /the caller went away/);
    assert.deepEqual([steps, closed], [3, true], 'stopped at the turn after the abort, its finally run');
    // A folder's reading stops the same way (here at its first turn: the signal is already aborted).
    await assert.rejects(
      openDatasetAsync({ uri: 'file:photos' }, { dataRoots: [dir.path], sliceMs: 0, signal: controller.signal }),
      /the caller went away/,
    );
  } finally {
    dir.remove();
  }
});

test('a split of many images is copied in slices, letting the event loop run, and equals selectSplit', async () => {
  // 200 images of 64×64×3: the training split is 160 × 12,288 values, several slices of copying.
  const many = randomImages(9, ['a', 'b', 'c'], 200, 64, 64, 3);
  const { result: sliced, turns } = await turnsDuring(() =>
    finishYielding(selectSplitSteps(many, 'train'), { sliceMs: 0 }),
  );
  assert.ok(turns >= 5, `${turns} turns of the event loop while 160 images were copied`);
  assert.deepEqual(sliced, selectSplit(many, 'train'));
  assert.equal(sliced.labels.length, splitIndices(many, 'train').length);
});
