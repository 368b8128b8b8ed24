/**
 * Caches that live as long as an isolate: what a Worker read from R2 and may need again (parent
 * genomes, shards). An isolate has 128 MB, so every cache is bounded by a total size.
 */

/** A small insertion-ordered LRU bounded by a total size (the isolate has 128 MB). */
export class LruCache<K, V> {
  private readonly map = new Map<K, V>();
  private total = 0;
  constructor(
    private readonly capacity: number,
    private readonly sizeOf: (v: V) => number = () => 1,
  ) {}
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
      const first = this.map.keys().next().value as K;
      this.total -= this.sizeOf(this.map.get(first) as V);
      this.map.delete(first);
    }
  }
}
