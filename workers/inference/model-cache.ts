/**
 * Sessions per model version, kept in the isolate: the least recently used is dropped beyond
 * `limit`. onnxruntime keeps a session's wasm memory until `release()`, so a dropped session is
 * released, but only once no request is using it: each `use` holds the session for as long as its
 * work runs (a count per entry), and the last one out releases an evicted session. Without this a
 * view-only link could cycle `/ready` over many versions and grow the isolate without bound.
 */

/** What the cache holds: anything with memory to give back (LoadedModel; a stand-in in tests). */
export interface ReleasableModel {
  release(): Promise<void>;
}

interface Entry<M> {
  model: Promise<M>;
  /** Requests running on this session now. */
  users: number;
  /** Out of the cache: released when `users` drops to 0. */
  evicted: boolean;
  released: boolean;
}

export class ModelCache<M extends ReleasableModel> {
  private readonly entries = new Map<string, Entry<M>>();

  constructor(
    /** Bytes → a model (LoadedModel.load). */
    private readonly open: (bytes: Uint8Array) => Promise<M>,
    private readonly limit = 8,
  ) {}

  /**
   * Run `work` on the model cached under `key` (loaded with `load` on a miss), holding it so that
   * it is not released underneath. A failed load is not cached: the next request tries again.
   */
  async use<T>(key: string, load: () => Promise<Uint8Array>, work: (model: M) => Promise<T> | T): Promise<T> {
    let entry = this.entries.get(key);
    if (entry) {
      this.entries.delete(key); // re-insert: most recently used last
    } else {
      const model = load().then((bytes) => this.open(bytes));
      const created: Entry<M> = { model, users: 0, evicted: false, released: false };
      model.catch(() => {
        if (this.entries.get(key) === created) this.entries.delete(key);
      });
      entry = created;
    }
    entry.users++;
    this.entries.set(key, entry);
    // Free the dropped sessions' memory before this request's session is loaded or run.
    await Promise.all(this.evictBeyondLimit().map((dropped) => this.release(dropped)));
    try {
      return await work(await entry.model);
    } finally {
      entry.users--;
      if (entry.evicted && entry.users === 0) await this.release(entry);
    }
  }

  has(key: string): boolean {
    return this.entries.has(key);
  }

  /** Drop the least recently used beyond `limit`; the ones no request holds, to release now. */
  private evictBeyondLimit(): Entry<M>[] {
    const idle: Entry<M>[] = [];
    while (this.entries.size > this.limit) {
      const [oldest, entry] = this.entries.entries().next().value as [string, Entry<M>];
      this.entries.delete(oldest);
      entry.evicted = true;
      if (entry.users === 0) idle.push(entry);
    }
    return idle;
  }

  /** Release once; a model that never loaded has nothing to release, and a failed release fails no request. */
  private async release(entry: Entry<M>): Promise<void> {
    if (entry.released) return;
    entry.released = true;
    let model: M;
    try {
      model = await entry.model;
    } catch {
      return;
    }
    try {
      await model.release();
    } catch (e) {
      console.error(`inference: releasing an evicted session failed: ${String(e)}`);
    }
  }
}
