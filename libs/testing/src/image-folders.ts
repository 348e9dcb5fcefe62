// Folders of real images for tests: MNIST digits written as PNG or JPEG files in a folder per class, the
// layout a user's own image dataset has (file:DIR).
import { loadBuiltin, resizeImage, saveImageFolder, type ImageDataset } from '@floe/data';

export interface DigitFolderOptions {
  /** The digits to write, each a class folder. */
  digits: number[];
  perClass: number;
  /** Which of each digit's MNIST examples come first (to write disjoint folders). */
  start?: number;
  /** Side of the written images (resampled from 28). */
  size?: number;
  /** RGB images: the digit's strokes in `color` (0–255 each) on a dark blue ground; else grey. */
  color?: [number, number, number];
  format?: 'png' | 'jpeg';
  /** A class folder's name (default the digit). */
  className?: (digit: number) => string;
  /** Dark strokes on a light ground (a shift of domain): each grey value v written as 1 − v. */
  invert?: boolean;
}

let mnist: ImageDataset | undefined;

/** Writes MNIST digits into `dir/<class>/<n>.<format>`; returns the pixels written per class, in [0, 1]. */
export function writeDigitFolder(dir: string, opts: DigitFolderOptions): Map<string, Float32Array[]> {
  mnist ??= loadBuiltin('mnist') as ImageDataset;
  const size = opts.size ?? 28;
  const channels = opts.color ? 3 : 1;
  const ground = [10, 20, 90];
  const images: Float32Array[] = [];
  const labels: number[] = [];
  const classes = opts.digits.map((d) => opts.className?.(d) ?? String(d));
  opts.digits.forEach((digit, c) => {
    const indices = [...mnist!.labels.keys()].filter((i) => mnist!.labels[i] === digit);
    for (const i of indices.slice(opts.start ?? 0, (opts.start ?? 0) + opts.perClass)) {
      const grey = resizeImage(mnist!.pixels.subarray(i * 784, (i + 1) * 784), 28, 28, 1, size, size);
      const image = new Float32Array(size * size * channels);
      for (let p = 0; p < size * size; p++) {
        // 8-bit values, as the file holds them, so that what is returned is exactly what a reader gets.
        const ink = Math.round(Math.min(1, Math.max(0, grey[p]!)) * 255);
        const v = opts.invert ? 255 - ink : ink;
        if (!opts.color) image[p] = v / 255;
        else
          for (let ch = 0; ch < 3; ch++)
            image[p * 3 + ch] = Math.round((v * opts.color[ch]! + (255 - v) * ground[ch]!) / 255) / 255;
      }
      images.push(image);
      labels.push(c);
    }
  });
  const pixels = new Float32Array(images.length * size * size * channels);
  images.forEach((image, n) => pixels.set(image, n * image.length));
  saveImageFolder(
    {
      kind: 'image',
      name: 'digits',
      height: size,
      width: size,
      channels,
      pixels,
      labels: Int32Array.from(labels),
      classes,
    },
    dir,
    { format: opts.format },
  );
  const written = new Map<string, Float32Array[]>(classes.map((c) => [c, []]));
  images.forEach((image, n) => written.get(classes[labels[n]!]!)!.push(image));
  return written;
}
