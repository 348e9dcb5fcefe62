// Seeded random numbers of our own: mulberry32 for uniforms, Box–Muller for normals, and one derived
// seed per name (FNV-1a), so any tensor can be regenerated from (seed, parameter name) anywhere.

/** FNV-1a 32-bit hash of a string. */
export function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** A seed for `name` derived from a base seed; different names give independent streams. */
export function deriveSeed(seed: number | bigint, name: string): number {
  const base = Number(BigInt.asUintN(32, BigInt(seed)));
  return hashString(`${base}:${name}`);
}

export class Rng {
  private state: number;
  // NaN when no Box–Muller value is kept: a field that is always a number stays an unboxed double.
  private spare = NaN;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** The generator's whole state, for checkpoints. */
  getState(): { state: number; spare: number | null } {
    return { state: this.state, spare: Number.isNaN(this.spare) ? null : this.spare };
  }

  setState(s: { state: number; spare: number | null }): void {
    this.state = s.state >>> 0;
    this.spare = s.spare ?? NaN;
  }

  /** Uniform in [0, 1) with 32 bits (mulberry32). */
  next(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }

  /** Standard normal (Box–Muller; the second value is kept for the next call). */
  normal(): number {
    if (!Number.isNaN(this.spare)) {
      const s = this.spare;
      this.spare = NaN;
      return s;
    }
    let u = 0;
    while (u === 0) u = this.next();
    const v = this.next();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  /** Fisher–Yates shuffle in place. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      [items[i], items[j]] = [items[j]!, items[i]!];
    }
    return items;
  }
}

/** The generator for `name` under `seed`. */
export function rngFor(seed: number | bigint, name: string): Rng {
  return new Rng(deriveSeed(seed, name));
}
