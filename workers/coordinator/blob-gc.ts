/**
 * R2 garbage collection: slice objects no longer anyone's parents, champion or publication source
 * are listed in table `garbage` (in the same transaction that made them garbage) and deleted off the
 * critical path, a batch at a time.
 */
import { populationSliceKey } from '../contracts/blob-keys';
import { all, text } from './rows';
import type { ChampionAddress } from './types';

/** R2 deletes take up to 1,000 keys per call. */
const DELETE_BATCH = 1000;

export class BlobGc {
  constructor(private readonly sql: SqlStorage) {
    sql.exec('CREATE TABLE IF NOT EXISTS garbage (key TEXT PRIMARY KEY)');
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
