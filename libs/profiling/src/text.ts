// A streaming text profile: one pass over the documents, memory bounded by the alphabet, the hash sets of
// words and documents (one number each) and a fixed reservoir of document lengths.
import { finish, type Steps } from '@floe/data';
import { Rng } from '@floe/random';
import { entropyBits, quantileSorted, DEFAULT_QUANTILES } from './stats.js';

export interface Histogram {
  edges: number[];
  counts: number[];
}

export interface TextProfile {
  documents: number;
  bytes: number;
  byteCounts: number[];
  byteEntropyBits: number;
  charEntropyBits: number;
  distinctChars: number;
  lengthHistogram: Histogram;
  lengthQuantiles: number[];
  vocabularySize: number;
  /** Distinct byte bigrams seen ÷ 65,536. */
  bigramCoverage: number;
  /** Documents identical to an earlier one ÷ documents. */
  duplicateRate: number;
  /** Bytes in invalid UTF-8 sequences ÷ bytes. */
  invalidUtf8Rate: number;
}

const RESERVOIR = 100_000;
/** Bytes of one document scanned between two yields of `addSteps` (a few ms here). */
const BYTES_PER_STEP = 1 << 20;

/** Where a scan of one document stands: the next byte, the previous byte, the start of the open word. */
interface ScanState {
  next: number;
  prev: number;
  wordStart: number;
}
const isSpace = new Uint8Array(256);
for (const c of [9, 10, 11, 12, 13, 32]) isSpace[c] = 1;

/** Two 32-bit FNV-1a variants folded into one 53-bit number: collisions are negligible at these sizes. */
function hash53(bytes: Uint8Array, start: number, end: number): number {
  let h1 = 0x811c9dc5;
  let h2 = 0x01000193 ^ (end - start);
  for (let i = start; i < end; i++) {
    const b = bytes[i]!;
    h1 = Math.imul(h1 ^ b, 16777619);
    h2 = Math.imul(h2 ^ b, 2246822519);
  }
  return (h1 >>> 0) * 2097152 + ((h2 >>> 0) & 0x1fffff);
}

export class TextProfiler {
  private readonly byteCounts = new Float64Array(256);
  private readonly bmp = new Uint32Array(65536);
  private readonly astral = new Map<number, number>();
  private readonly bigrams = new Uint8Array(65536);
  private readonly words = new Set<number>();
  private readonly docs = new Set<number>();
  private readonly lengths: number[] = [];
  private readonly rng = new Rng(7);
  private documents = 0;
  private duplicates = 0;
  private invalid = 0;
  private bytes = 0;
  private minLength = Infinity;
  private maxLength = 0;
  private lengthCounts = new Map<number, number>();

  add(doc: Uint8Array): void {
    finish(this.addSteps(doc));
  }

  /** `add` in slices: it yields after every BYTES_PER_STEP bytes of the document (one file can be 500 MB). */
  *addSteps(doc: Uint8Array): Steps<void> {
    const n = doc.length;
    this.documents++;
    this.bytes += n;
    const h = hash53(doc, 0, n);
    if (this.docs.has(h)) this.duplicates++;
    else this.docs.add(h);
    // Lengths: a reservoir sample for the quantiles, exact min/max.
    if (this.lengths.length < RESERVOIR) this.lengths.push(n);
    else {
      const k = Math.floor(this.rng.next() * this.documents);
      if (k < RESERVOIR) this.lengths[k] = n;
    }
    this.minLength = Math.min(this.minLength, n);
    this.maxLength = Math.max(this.maxLength, n);
    this.lengthCounts.set(n, (this.lengthCounts.get(n) ?? 0) + 1);
    const at: ScanState = { next: 0, prev: -1, wordStart: -1 };
    for (;;) {
      this.scan(doc, Math.min(n, at.next + BYTES_PER_STEP), at);
      if (at.next >= n) break;
      yield;
    }
    if (at.wordStart >= 0) this.words.add(hash53(doc, at.wordStart, n));
  }

  /**
   * Counts bytes, bigrams, characters and words from `at.next` until `to` (a character that starts before `to`
   * is read whole); `at` carries the previous byte and the open word into the next slice.
   */
  private scan(doc: Uint8Array, to: number, at: ScanState): void {
    const n = doc.length;
    const bytes = this.byteCounts;
    const bigrams = this.bigrams;
    const bmp = this.bmp;
    let { prev, wordStart } = at;
    let i = at.next;
    while (i < to) {
      const b = doc[i]!;
      if (b < 0x80) {
        // ASCII fast path: byte, bigram, character and word boundaries in one step.
        bytes[b]!++;
        if (prev >= 0) bigrams[(prev << 8) | b] = 1;
        prev = b;
        bmp[b]!++;
        if (isSpace[b]) {
          if (wordStart >= 0) this.words.add(hash53(doc, wordStart, i));
          wordStart = -1;
        } else if (wordStart < 0) wordStart = i;
        i++;
        continue;
      }
      const len = b >= 0xf0 && b < 0xf5 ? 4 : b >= 0xe0 ? 3 : b >= 0xc2 && b < 0xe0 ? 2 : 0;
      let cp = len === 2 ? b & 0x1f : len === 3 ? b & 0x0f : b & 0x07;
      let ok = len > 0 && i + len <= n;
      for (let k = 1; ok && k < len; k++) {
        const c = doc[i + k]!;
        if ((c & 0xc0) !== 0x80) ok = false;
        else cp = (cp << 6) | (c & 0x3f);
      }
      // Overlong 3-byte forms, surrogates and values past U+10FFFF are invalid too.
      if (
        ok &&
        ((len === 3 && (cp < 0x800 || (cp >= 0xd800 && cp < 0xe000))) || (len === 4 && (cp < 0x10000 || cp > 0x10ffff)))
      )
        ok = false;
      const width = ok ? len : 1;
      for (let k = 0; k < width; k++) {
        const c = doc[i + k]!;
        bytes[c]!++;
        if (prev >= 0) bigrams[(prev << 8) | c] = 1;
        prev = c;
      }
      if (ok) {
        if (cp < 65536) bmp[cp]!++;
        else this.astral.set(cp, (this.astral.get(cp) ?? 0) + 1);
      } else this.invalid++;
      if (wordStart < 0) wordStart = i;
      i += width;
    }
    at.next = i;
    at.prev = prev;
    at.wordStart = wordStart;
  }

  finish(bins = 20): TextProfile {
    let seenBigrams = 0;
    for (let i = 0; i < 65536; i++) seenBigrams += this.bigrams[i]!;
    let distinct = this.astral.size;
    for (let i = 0; i < 65536; i++) if (this.bmp[i]) distinct++;
    const chars = new Float64Array(distinct);
    let k = 0;
    for (let i = 0; i < 65536; i++) if (this.bmp[i]) chars[k++] = this.bmp[i]!;
    for (const c of this.astral.values()) chars[k++] = c;
    const sorted = Float64Array.from(this.lengths).sort();
    const lo = Number.isFinite(this.minLength) ? this.minLength : 0;
    const hi = Math.max(lo + 1, this.maxLength);
    const width = (hi - lo) / bins;
    const counts = new Array<number>(bins).fill(0);
    for (const [len, c] of this.lengthCounts) counts[Math.min(bins - 1, Math.floor((len - lo) / width))]! += c;
    return {
      documents: this.documents,
      bytes: this.bytes,
      byteCounts: Array.from(this.byteCounts),
      byteEntropyBits: entropyBits(this.byteCounts),
      charEntropyBits: entropyBits(chars),
      distinctChars: distinct,
      lengthHistogram: { edges: Array.from({ length: bins + 1 }, (_, i) => lo + i * width), counts },
      lengthQuantiles: DEFAULT_QUANTILES.map((q) => quantileSorted(sorted, q)),
      vocabularySize: this.words.size,
      bigramCoverage: seenBigrams / 65536,
      duplicateRate: this.documents ? this.duplicates / this.documents : 0,
      invalidUtf8Rate: this.bytes ? this.invalid / this.bytes : 0,
    };
  }
}
