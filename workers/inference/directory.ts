/**
 * Which published model answers a request: D1 `models` rows cached in isolate memory.
 *
 * Why: under `wrangler dev` the D1 lookup of the newest version was ~2.5–3 ms of a ~7.7 ms warm
 * 1-image request, the largest piece the Workers control (ORT's 6 runs are ~0.6 ms). Rows are
 * insert-only (publishing never rewrites a version), so caching them is safe; only "which version
 * is the newest" changes, and that answer is bounded in staleness:
 * - newest version of a run: cached for `NEWEST_TTL_MS` (2 s). A version recorded in D1 at time t
 *   is served by every request that arrives after t + 2 s, in every isolate. Publishing through the
 *   coordinator also calls `modelPublished` on this Worker (RPC), which drops the entry at once, so
 *   locally (one isolate) a new version is served immediately.
 * - an explicit version: the row never changes; cached for `VERSION_TTL_MS` only to bound memory
 *   churn and to notice a removal should one ever exist.
 * Misses (no model yet, unknown version) are never cached: the first request after a publish must
 * not get a stale 404. Concurrent requests for the same key share one D1 query.
 */
import type { ModelRow } from '../../schema/schema';

export const NEWEST_TTL_MS = 2_000;
export const VERSION_TTL_MS = 60_000;

interface Entry {
  row: Promise<ModelRow | undefined>;
  expires: number;
}

export class ModelDirectory {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly limit = 256,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * The row for (run, version), or the newest row of the run when `version` is undefined;
   * `lookup` queries D1 on a miss or after expiry. Resolves undefined when there is no such row.
   */
  get(
    runId: string,
    version: number | undefined,
    lookup: () => Promise<ModelRow | undefined>,
  ): Promise<ModelRow | undefined> {
    const key = version === undefined ? `${runId}/newest` : `${runId}/${version}`;
    const now = this.now();
    const hit = this.entries.get(key);
    if (hit && hit.expires > now) return hit.row;
    // The TTL counts from the start of the query: the row is at most TTL older than the request.
    const entry: Entry = {
      row: lookup(),
      expires: now + (version === undefined ? NEWEST_TTL_MS : VERSION_TTL_MS),
    };
    this.entries.delete(key); // re-insert last: the oldest insertions are dropped first
    this.entries.set(key, entry);
    const forget = () => {
      // Only our own entry: an invalidation or a newer lookup may have replaced it meanwhile.
      if (this.entries.get(key) === entry) this.entries.delete(key);
    };
    entry.row.then((row) => {
      if (!row) forget();
    }, forget);
    while (this.entries.size > this.limit) {
      this.entries.delete(this.entries.keys().next().value as string);
    }
    return entry.row;
  }

  /** A version of `runId` was just published: the next request asks D1 for the newest again. */
  invalidate(runId: string): void {
    this.entries.delete(`${runId}/newest`);
  }
}
