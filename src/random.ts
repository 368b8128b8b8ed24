/**
 * Seeded, fast pseudo-random numbers with stream derivation.
 *
 * Every random draw of a run comes from a stream derived from (seed, generation, purpose, index), so
 * any single draw can be reproduced on its own, whatever order genomes are bred or evaluated in and
 * however the population is sliced. The generator is sfc32 (small, fast, passes PractRand to 2^40+);
 * streams are seeded through a murmur3-style mixer so nearby keys give unrelated streams.
 */

/** Named purposes; any string works, these are the ones the search uses. */
export type Purpose =
  | 'init'
  | 'objectives'
  | 'select'
  | 'mutate'
  | 'shard'
  | 'batch'
  | 'bench'
  | 'test'
  | (string & {});

function mix32(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** FNV-1a over the UTF-16 code units of a string, as an unsigned 32-bit integer. */
export function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** Seeds must be integers in [0, 2^32); anything else is rejected rather than silently truncated. */
export function assertSeed(seed: number): void {
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
    throw new RangeError(`seed must be an integer in [0, 4294967295], got ${seed}`);
  }
}

export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(a: number, b: number, c: number, d: number) {
    this.a = a >>> 0;
    this.b = b >>> 0;
    this.c = c >>> 0;
    this.d = d >>> 0 || 1;
    // Discard the first outputs: sfc32 needs a few rounds to decorrelate from its seed words.
    for (let i = 0; i < 12; i++) this.nextUint32();
  }

  /** Uniform unsigned 32-bit integer. */
  nextUint32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** Uniform float in [0, 1) with 32 bits of randomness. */
  float(): number {
    return this.nextUint32() / 4294967296;
  }

  /** Uniform integer in [0, n); n must be a positive integer ≤ 2^32. Unbiased (rejection). */
  int(n: number): number {
    if (!(n > 0) || n > 4294967296 || !Number.isInteger(n))
      throw new RangeError(`int(n) needs 1 ≤ n ≤ 2^32, got ${n}`);
    const limit = 4294967296 - (4294967296 % n);
    let x = this.nextUint32();
    while (x >= limit) x = this.nextUint32();
    return x % n;
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return this.float() < p;
  }

  /** A uniformly chosen element of a non-empty array-like. */
  pick<T>(items: ArrayLike<T>): T {
    if (items.length === 0) throw new RangeError('pick() from an empty list');
    return items[this.int(items.length)];
  }

  /** In-place Fisher–Yates shuffle. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = items[i];
      items[i] = items[j];
      items[j] = t;
    }
    return items;
  }
}

/**
 * The stream for (seed, generation, purpose, index). Two calls with the same key return generators
 * producing identical sequences; different keys give independent-looking sequences.
 */
export function stream(seed: number, generation: number, purpose: Purpose, index = 0): Rng {
  assertSeed(seed);
  const p = hashString(purpose);
  const k0 = mix32(seed ^ 0x9e3779b9);
  const k1 = mix32((generation >>> 0) ^ mix32(k0 + 0x632be5ab));
  const k2 = mix32(p ^ mix32(k1 + 0x85157af5));
  const k3 = mix32((index >>> 0) ^ mix32(k2 + 0x2545f491) ^ Math.floor(generation / 4294967296));
  return new Rng(k0 ^ k3, k1 ^ k2, k2 ^ k0, k3 ^ k1);
}
