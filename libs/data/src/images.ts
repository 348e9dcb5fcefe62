// A folder of images, one subfolder per class (the layout of torchvision's ImageFolder and Keras'
// image_dataset_from_directory): PNG and JPEG, decoded in JavaScript, brought to one size and channel count.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { extname, join, relative, sep } from 'node:path';
import { PNG } from 'pngjs';
import jpeg from 'jpeg-js';
import { FloeError, resourceExhausted } from '@floe/errors';
import { contentKey } from './split-keys.js';
import { orderClasses, type ImageDataset } from './types.js';
import type { Steps } from './steps.js';

export const IMAGE_EXTENSIONS = new Set(['.png', '.jpg', '.jpeg']);

interface Decoded {
  width: number;
  height: number;
  /** RGBA, 8 bits a sample. */
  rgba: Uint8Array;
  /** From the file's bytes (split-keys.ts). */
  splitKey: number;
}

function decode(path: string, shown: string, maxBytes: number): Decoded {
  const bytes = readFileSync(path);
  const splitKey = contentKey(bytes);
  const ext = extname(path).toLowerCase();
  try {
    if (ext === '.png') {
      // 16-bit samples are rescaled to 8 bits and palettes expanded: the output is always RGBA.
      const png = PNG.sync.read(bytes);
      return { width: png.width, height: png.height, rgba: png.data, splitKey };
    }
    const image = jpeg.decode(bytes, {
      useTArray: true,
      formatAsRGBA: true,
      maxMemoryUsageInMB: Math.max(64, Math.ceil(maxBytes / 2 ** 20)),
    });
    return { width: image.width, height: image.height, rgba: image.data, splitKey };
  } catch (err) {
    const what = ext === '.png' ? 'PNG' : 'JPEG';
    throw new FloeError('invalid_argument', `${shown} cannot be read as a ${what} image: ${(err as Error).message}`);
  }
}

/**
 * Weights of a separable resampling filter from `from` samples to `to`: a triangle (bilinear) kernel on pixel
 * centres, widened by the scale when shrinking so that every source pixel counts (an area average, without
 * the aliasing of plain bilinear sampling). Each output sample's weights sum to 1.
 */
function resampleWeights(from: number, to: number): { start: number; weights: Float64Array }[] {
  const scale = from / to;
  const support = Math.max(1, scale);
  return Array.from({ length: to }, (_, o) => {
    const centre = (o + 0.5) * scale - 0.5;
    const start = Math.max(0, Math.ceil(centre - support));
    const end = Math.min(from - 1, Math.floor(centre + support));
    const weights = new Float64Array(end - start + 1);
    let sum = 0;
    for (let i = start; i <= end; i++) sum += weights[i - start] = Math.max(0, 1 - Math.abs(i - centre) / support);
    if (sum === 0) {
      // Upscaling past the last centre: the nearest pixel.
      weights.fill(0);
      weights[Math.min(end, Math.max(start, Math.round(centre))) - start] = 1;
      sum = 1;
    }
    for (let i = 0; i < weights.length; i++) weights[i]! /= sum;
    return { start, weights };
  });
}

/** `src` (h × w × c) resampled to `height` × `width` (separable: rows, then columns). */
export function resizeImage(
  src: Float32Array,
  h: number,
  w: number,
  c: number,
  height: number,
  width: number,
): Float32Array {
  if (h === height && w === width) return src;
  const across = resampleWeights(w, width);
  const mid = new Float32Array(h * width * c);
  for (let y = 0; y < h; y++)
    across.forEach(({ start, weights }, x) => {
      for (let ch = 0; ch < c; ch++) {
        let v = 0;
        for (let k = 0; k < weights.length; k++) v += weights[k]! * src[(y * w + start + k) * c + ch]!;
        mid[(y * width + x) * c + ch] = v;
      }
    });
  const down = resampleWeights(h, height);
  const out = new Float32Array(height * width * c);
  down.forEach(({ start, weights }, y) => {
    for (let x = 0; x < width; x++)
      for (let ch = 0; ch < c; ch++) {
        let v = 0;
        for (let k = 0; k < weights.length; k++) v += weights[k]! * mid[((start + k) * width + x) * c + ch]!;
        out[(y * width + x) * c + ch] = v;
      }
  });
  return out;
}

/**
 * Loads `dir` as images: each first-level folder is a class (ordered as a table's classes are), every PNG or
 * JPEG under it an example. Images whose every pixel is grey (R = G = B) in every file make 1 channel, else
 * 3 (alpha is dropped, as PIL's convert('RGB') does); pixels are in [0, 1]. Images of another size than the
 * most common one are resized to it (`resizedImages` counts them). An image outside any class folder, or one
 * that does not decode, is refused naming it. `featuresOnly`: images to predict, at any depth, no classes; each
 * image's path in the folder is kept (`files`).
 */
export function* imageFolderSteps(
  dir: string,
  name: string,
  files: string[],
  maxBytes: number,
  read: { featuresOnly?: boolean } = {},
): Steps<ImageDataset> {
  const shown = (p: string) => relative(dir, p).split(sep).join('/');
  const classOf = (p: string) => {
    // Images to predict need no class folders: where they lie is not read.
    if (read.featuresOnly) return '';
    const parts = relative(dir, p).split(sep);
    if (parts.length < 2)
      throw new FloeError(
        'invalid_argument',
        `${name}: ${shown(p)} is not inside a class folder (a folder of images holds one folder per class, e.g. ${name}/cat/1.png)`,
      );
    return parts[0]!;
  };
  const classNames = files.map(classOf);
  const decoded: Decoded[] = [];
  for (const f of files) {
    decoded.push(decode(f, `${name}/${shown(f)}`, maxBytes));
    yield;
  }
  let grey = true;
  for (const d of decoded) {
    for (let i = 0; grey && i < d.rgba.length; i += 4)
      grey = d.rgba[i] === d.rgba[i + 1] && d.rgba[i] === d.rgba[i + 2];
    if (!grey) break;
  }
  const channels = grey ? 1 : 3;
  // The most common size; ties go to the larger image (no detail is thrown away for a tie).
  const sizes = new Map<string, { height: number; width: number; count: number }>();
  for (const d of decoded) {
    const key = `${d.height}x${d.width}`;
    const s = sizes.get(key) ?? { height: d.height, width: d.width, count: 0 };
    s.count++;
    sizes.set(key, s);
  }
  const { height, width } = [...sizes.values()].sort(
    (a, b) => b.count - a.count || b.height * b.width - a.height * a.width,
  )[0]!;
  const px = height * width * channels;
  if (decoded.length * px * 4 > maxBytes)
    throw resourceExhausted(
      `${name}: ${decoded.length} images of ${height}×${width}×${channels} take ${decoded.length * px * 4} bytes as pixels, over the limit of ${maxBytes} (FLOE_MAX_DATASET_BYTES)`,
    );
  const pixels = new Float32Array(decoded.length * px);
  let resizedImages = 0;
  for (const [n, d] of decoded.entries()) {
    const own = new Float32Array(d.height * d.width * channels);
    for (let i = 0; i < d.height * d.width; i++)
      for (let ch = 0; ch < channels; ch++) own[i * channels + ch] = d.rgba[i * 4 + ch]! / 255;
    if (d.height !== height || d.width !== width) resizedImages++;
    pixels.set(resizeImage(own, d.height, d.width, channels, height, width), n * px);
    yield;
  }
  const classes = read.featuresOnly ? [] : orderClasses(classNames);
  const index = new Map(classes.map((c, i) => [c, i]));
  return {
    ...(read.featuresOnly && { files: files.map(shown) }),
    kind: 'image',
    name,
    height,
    width,
    channels,
    pixels,
    labels: Int32Array.from(classNames, (c) => index.get(c) ?? 0),
    classes,
    splitKeys: Float64Array.from(decoded, (d) => d.splitKey),
    ...(resizedImages > 0 ? { resizedImages } : {}),
  };
}

/**
 * Writes images as a folder per class (`dir/<class>/<n>.png`), the layout loadImageFolder reads: one channel as
 * grey, three as RGB, each value rounded to 8 bits. PNG round-trips those values exactly; JPEG (lossy) at
 * `quality` 1–100.
 */
export function saveImageFolder(
  d: ImageDataset,
  dir: string,
  options: { format?: 'png' | 'jpeg'; quality?: number } = {},
): void {
  const format = options.format ?? 'png';
  const px = d.height * d.width * d.channels;
  const counts = new Map<string, number>();
  d.labels.forEach((label, n) => {
    const cls = d.classes[label]!;
    const index = counts.get(cls) ?? 0;
    counts.set(cls, index + 1);
    mkdirSync(join(dir, cls), { recursive: true });
    const rgba = Buffer.alloc(d.height * d.width * 4, 255);
    for (let p = 0; p < d.height * d.width; p++)
      for (let ch = 0; ch < 3; ch++) {
        const v = d.pixels[n * px + p * d.channels + (d.channels === 1 ? 0 : ch)]!;
        rgba[p * 4 + ch] = Math.round(Math.min(1, Math.max(0, v)) * 255);
      }
    const file = join(dir, cls, `${index}.${format === 'png' ? 'png' : 'jpg'}`);
    const image = { width: d.width, height: d.height, data: rgba };
    writeFileSync(
      file,
      format === 'png'
        ? PNG.sync.write(Object.assign(new PNG({ width: d.width, height: d.height }), { data: rgba }), {
            colorType: d.channels === 1 ? 0 : 2,
          })
        : jpeg.encode(image, options.quality ?? 95).data,
    );
  });
}

/**
 * Images brought to the shape a model reads: resized (resizeImage) and converted between grey and colour —
 * a grey value fills every channel; colour becomes grey by luma (0.299 R + 0.587 G + 0.114 B, as PIL's
 * convert('L')). Unchanged when the shape already matches.
 */
export function conformImages(d: ImageDataset, height: number, width: number, channels: number): ImageDataset {
  if (d.height === height && d.width === width && d.channels === channels) return d;
  const count = d.labels.length;
  const from = d.height * d.width * d.channels;
  const px = height * width * channels;
  const pixels = new Float32Array(count * px);
  const LUMA = [0.299, 0.587, 0.114];
  for (let n = 0; n < count; n++) {
    const resized = resizeImage(
      d.pixels.subarray(n * from, (n + 1) * from),
      d.height,
      d.width,
      d.channels,
      height,
      width,
    );
    for (let p = 0; p < height * width; p++)
      for (let ch = 0; ch < channels; ch++)
        pixels[n * px + p * channels + ch] =
          d.channels === channels
            ? resized[p * channels + ch]!
            : d.channels === 1
              ? resized[p]!
              : LUMA.reduce((s, w, k) => s + w * resized[p * d.channels + k]!, 0);
  }
  return { ...d, height, width, channels, pixels };
}
