// An example's split follows its content, not its position in the file: a number in [0, 1) from a hash of
// the example decides it (below 0.8 train, below 0.9 validation, else test). Rows appended to a file, files
// added to a folder, a file renamed or its rows reordered leave every other example in its split — so a model
// evaluated on the test split of a file that grew has not trained on any of it — and identical examples share
// a split (a duplicate cannot sit in train and test at once).
import { createHash } from 'node:crypto';

/** The split key of an example's content: uniform in [0, 1), the same for the same content. */
export function contentKey(content: string | Uint8Array): number {
  return createHash('sha1').update(content).digest().readUIntBE(0, 6) / 2 ** 48;
}

export const SPLIT_FRACTIONS = { train: 0.8, validation: 0.1, test: 0.1 } as const;

/** Where each split's keys end: train [0, 0.8), validation [0.8, 0.9), test [0.9, 1). */
const BOUNDS = [SPLIT_FRACTIONS.train, SPLIT_FRACTIONS.train + SPLIT_FRACTIONS.validation] as const;

/**
 * The examples of each split (train, validation, test), each in the order of the examples' keys. In a file of
 * at least three examples no split is left empty: an empty one takes the example nearest to it in key order
 * from the largest split (only tiny files need it; once a split has an example of its own, none moves).
 */
export function keyedSplits(keys: Float64Array): { order: number[]; parts: [number[], number[], number[]] } {
  const order = [...keys.keys()].sort((a, b) => keys[a]! - keys[b]! || a - b);
  const parts: [number[], number[], number[]] = [[], [], []];
  for (const i of order) parts[keys[i]! < BOUNDS[0] ? 0 : keys[i]! < BOUNDS[1] ? 1 : 2].push(i);
  if (order.length >= 3)
    for (const s of [2, 1, 0]) {
      if (parts[s]!.length > 0) continue;
      const donor = [0, 1, 2].reduce((a, b) => (parts[b]!.length > parts[a]!.length ? b : a));
      parts[s]!.push(donor < s ? parts[donor]!.pop()! : parts[donor]!.shift()!);
    }
  return { order, parts };
}
