import { describe, expect, it } from 'vitest';
import { LruCache } from '../../workers/storage/isolate-cache';

/** The plainest LRU there is (an array, most recent last), to compare against. */
class ReferenceLru {
  private entries: { key: string; value: number; size: number }[] = [];
  constructor(private readonly capacity: number) {}
  get(key: string): number | undefined {
    const i = this.entries.findIndex((e) => e.key === key);
    if (i < 0) return undefined;
    const [e] = this.entries.splice(i, 1);
    this.entries.push(e);
    return e.value;
  }
  set(key: string, value: number, size: number): void {
    const i = this.entries.findIndex((e) => e.key === key);
    if (i >= 0) this.entries.splice(i, 1);
    this.entries.push({ key, value, size });
    let total = this.entries.reduce((n, e) => n + e.size, 0);
    while (total > this.capacity && this.entries.length > 1)
      total -= (this.entries.shift() as { size: number }).size;
  }
  keys(): string[] {
    return this.entries.map((e) => e.key);
  }
}

describe('LruCache', () => {
  it('evicts the least recently used first, by total size; a hit makes a key recent', () => {
    const cache = new LruCache<string, number>(3);
    cache.set('a', 1);
    cache.set('b', 2);
    cache.set('c', 3);
    expect(cache.get('a')).toBe(1);
    cache.set('d', 4); // b is the least recently used now
    expect(cache.get('b')).toBeUndefined();
    expect([cache.get('a'), cache.get('c'), cache.get('d')]).toEqual([1, 3, 4]);
    cache.set('e', 5); // a, then c, were read before d: a goes
    expect(cache.get('a')).toBeUndefined();
    expect(cache.size).toBe(3);
  });

  it('keeps one entry larger than the whole capacity, alone', () => {
    const cache = new LruCache<string, Uint8Array>(10, (b) => b.byteLength);
    cache.set('small', new Uint8Array(4));
    cache.set('huge', new Uint8Array(64));
    expect(cache.get('small')).toBeUndefined();
    expect(cache.get('huge')?.byteLength).toBe(64);
    expect(cache.size).toBe(1);
  });

  it('agrees with a plain LRU over 20,000 mixed reads, writes and rewrites (the Map rehashes many times)', () => {
    const capacity = 60;
    const cache = new LruCache<string, { value: number; size: number }>(capacity, (v) => v.size);
    const reference = new ReferenceLru(capacity);
    let seed = 7;
    /** mulberry32: a fixed sequence in [0, 1). */
    const rng = () => {
      seed = (seed + 0x6d2b79f5) | 0;
      let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
    for (let op = 0; op < 20_000; op++) {
      const key = `k${Math.floor(rng() * 120)}`;
      if (rng() < 0.5) {
        expect(cache.get(key)?.value, `op ${op}: get ${key}`).toBe(reference.get(key));
      } else {
        const size = 1 + Math.floor(rng() * 5);
        cache.set(key, { value: op, size });
        reference.set(key, op, size);
      }
    }
    // Every key the reference holds is held with the same value, and nothing else is.
    expect(cache.size).toBe(reference.keys().length);
    for (const key of reference.keys()) expect(cache.get(key)?.value).toBe(reference.get(key));
  });
});
