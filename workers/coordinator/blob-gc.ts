/**
 * R2 garbage collection: slice objects no longer anyone's parents, champion or publication source
 * are listed in table `garbage` (in the same transaction that made them garbage) and deleted off the
 * critical path, a batch at a time.
 *
 * Orphans: an evaluator stores its slice before reporting it, so an object can land after the
 * coordinator has moved on (a late duplicate of a finished generation, a slice of the generation a
 * failure or cancel cut short whose message the queue then abandoned without a report). No report
 * names it, so a sweep (table `sweep`, due once, run by the coordinator's alarm) lists the run's
 * slice objects in R2 and lists every one the run no longer needs as garbage.
 */
import { populationSliceKey, populationSlicePrefix } from '../contracts/blob-keys';
import { all, intOrNull, text } from './rows';
import type { ChampionAddress } from './types';

/** R2 deletes take up to 1,000 keys per call. */
const DELETE_BATCH = 1000;

export class BlobGc {
  constructor(private readonly sql: SqlStorage) {
    sql.exec('CREATE TABLE IF NOT EXISTS garbage (key TEXT PRIMARY KEY)');
    sql.exec(
      'CREATE TABLE IF NOT EXISTS sweep (id INTEGER PRIMARY KEY CHECK (id = 0), due_at INTEGER NOT NULL)',
    );
  }

  /** Sweep for orphans at `at` (an earlier sweep already planned stays). */
  planSweep(at: number): void {
    this.sql.exec(
      'INSERT INTO sweep (id, due_at) VALUES (0, ?) ON CONFLICT (id) DO UPDATE SET due_at = MIN(due_at, excluded.due_at)',
      at,
    );
  }

  /** No sweep planned any more. */
  clearSweep(): void {
    this.sql.exec('DELETE FROM sweep');
  }

  /** When the planned sweep is due; null when none is planned. */
  sweepDue(): number | null {
    const [at] = all(this.sql, (r) => intOrNull(r, 'due_at'), 'SELECT due_at FROM sweep WHERE id = 0');
    return at ?? null;
  }

  /**
   * List run `runId`'s slice objects in R2 and list as garbage each that `needed(gen, slice)` does
   * not keep (or `pinned` holds); the planned sweep is then done. Deleting is `collect`'s.
   */
  async sweep(
    bucket: R2Bucket,
    runId: string,
    needed: (gen: number, slice: number) => boolean,
    pinned: readonly (ChampionAddress | null | undefined)[],
  ): Promise<number> {
    const prefix = populationSlicePrefix(runId);
    const orphans: [number, number][] = [];
    let cursor: string | undefined;
    do {
      const page = await bucket.list({ prefix, cursor });
      for (const o of page.objects) {
        const [gen, slice] = o.key.slice(prefix.length).split('/').map(Number);
        if (Number.isInteger(gen) && Number.isInteger(slice) && !needed(gen, slice))
          orphans.push([gen, slice]);
      }
      cursor = page.truncated ? page.cursor : undefined;
    } while (cursor);
    for (const [gen, slice] of orphans) this.discard(runId, gen, slice, pinned);
    this.sql.exec('DELETE FROM sweep');
    return orphans.length;
  }

  /**
   * List slice object (gen, slice) of run `runId` for deletion unless one of `pinned` (the champion,
   * the candidate, a pending publication's champion) lies in it.
   */
  discard(
    runId: string,
    gen: number,
    slice: number,
    pinned: readonly (ChampionAddress | null | undefined)[],
  ): void {
    if (pinned.some((k) => k && k.champion.generation === gen && k.location.slice === slice)) return;
    this.sql.exec('INSERT OR IGNORE INTO garbage (key) VALUES (?)', populationSliceKey(runId, gen, slice));
  }

  /** Delete a batch of the listed objects from R2 (and from the list). */
  async collect(bucket: R2Bucket): Promise<void> {
    const keys = all(this.sql, (r) => text(r, 'key'), 'SELECT key FROM garbage LIMIT ?', DELETE_BATCH);
    if (keys.length) {
      // Late duplicates of a finished generation find no parents and are dropped by the evaluator.
      await bucket.delete(keys);
      for (const key of keys) this.sql.exec('DELETE FROM garbage WHERE key = ?', key);
    }
  }
}
