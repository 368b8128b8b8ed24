/**
 * Caches that live as long as an isolate: what a Worker read from R2 and may need again (parent
 * genomes, shards). An isolate has 128 MB, so every cache is bounded by a total size.
 */

/**
 * A small insertion-ordered LRU bounded by a total size (the isolate has 128 MB).
 *
 * The least recently used key is the Map's first in insertion order (a hit moves its key to the
 * end). It is read through one iterator kept across evictions, not a fresh `keys().next()` each
 * time: a Map keeps deleted entries as holes until it rehashes, and a fresh iterator walks over
 * every hole from the start. With a hit or an eviction deleting an entry each time, that walk made
 * each eviction cost the number of holes: in the consumer's parent cache (thousands of genomes, a
 * population-960 generation's members remembered and evicted each generation) it was ~17 % of the
 * local platform's main process (`perf`, README "A search over HTTP"). A kept iterator passes each
 * hole once. It stays right because it has yielded only keys that were then evicted: every key
 * still in the Map lies ahead of it, the least recently used first.
 */
export class LruCache<K, V> {
  private readonly map = new Map<K, V>();
  private total = 0;
  /**
   * Positioned at the least recently used key; a Map's iterators stay live as it changes. After the
   * Map rehashes, it holds the previous table until its next eviction moves it on. Values leave the
   * Map only by eviction (which moves it on first) or by a `set` that replaces a key's value, so
   * that table holds no bytes the Map does not, but for values replaced in between: at most one
   * table's worth, and rare here (parent-cache keys name one generation's member each).
   */
  private oldest: Iterator<K> | null = null;
  constructor(
    private readonly capacity: number,
    private readonly sizeOf: (v: V) => number = () => 1,
  ) {}
  get size(): number {
    return this.map.size;
  }
  get(key: K): V | undefined {
    const v = this.map.get(key);
    if (v !== undefined) {
      this.map.delete(key);
      this.map.set(key, v);
    }
    return v;
  }
  set(key: K, value: V): void {
    const old = this.map.get(key);
    if (old !== undefined) {
      this.total -= this.sizeOf(old);
      this.map.delete(key);
    }
    this.map.set(key, value);
    this.total += this.sizeOf(value);
    while (this.total > this.capacity && this.map.size > 1) {
      const first = this.leastRecent();
      this.total -= this.sizeOf(this.map.get(first) as V);
      this.map.delete(first);
    }
  }
  /** The Map's first key in insertion order (the Map is not empty). */
  private leastRecent(): K {
    let next = this.oldest?.next();
    if (!next || next.done) {
      // Only before the first eviction: an iterator that has ended stays ended.
      this.oldest = this.map.keys();
      next = this.oldest.next();
    }
    return next.value as K;
  }
}
