/**
 * The generation log and the D1 outbox. Table `generation_log` holds the GenerationRecord of every
 * finished generation: the replay source for event streams (its JSON text is sent as written), and
 * the outbox for D1 (a row is marked synced once its record and the run's progress are in D1).
 * The run row's status is brought in line here too: everything this object writes to D1.
 */
import { eq } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/d1';
import { generations, runs } from '../../schema/schema';
import { type GenerationRecord, generationRecordSchema } from '../../src/wann/record';
import { toGenerationRow, toRunProgress } from '../contracts/generation-rows';
import { all, int, json, text } from './rows';
import type { RunMeta } from './run-state';

/** One finished generation as logged: its number and its record's JSON text. */
export interface LogEntry {
  gen: number;
  entry: string;
}

const logEntry = (r: Record<string, SqlStorageValue>): LogEntry => ({
  gen: int(r, 'gen'),
  entry: text(r, 'entry'),
});

export class GenerationLog {
  constructor(private readonly sql: SqlStorage) {
    sql.exec(`CREATE TABLE IF NOT EXISTS generation_log (gen INTEGER PRIMARY KEY, entry TEXT NOT NULL,
      synced INTEGER NOT NULL DEFAULT 0)`);
  }

  /** Log generation `gen`'s record (not yet in D1); answers the entry as the streams send it. */
  append(gen: number, record: GenerationRecord): LogEntry {
    const entry = { gen, entry: JSON.stringify(record) };
    this.sql.exec(
      'INSERT OR REPLACE INTO generation_log (gen, entry, synced) VALUES (?, ?, 0)',
      entry.gen,
      entry.entry,
    );
    return entry;
  }

  /** Up to `limit` entries after generation `after`, in order. */
  page(after: number, limit: number): LogEntry[] {
    return all(
      this.sql,
      logEntry,
      'SELECT gen, entry FROM generation_log WHERE gen > ? ORDER BY gen LIMIT ?',
      after,
      limit,
    );
  }

  /**
   * Write the finished generations not yet in D1 (one batch each: record row + run row); answers
   * how many were written.
   */
  async flush(db: D1Database, runId: string): Promise<number> {
    const pending = all(
      this.sql,
      (r) => ({ gen: int(r, 'gen'), record: json(r, 'entry', generationRecordSchema) }),
      'SELECT gen, entry FROM generation_log WHERE synced = 0 ORDER BY gen',
    );
    const d1 = drizzle(db);
    for (const { gen, record } of pending) {
      const now = Date.now();
      await d1.batch([
        d1
          .insert(generations)
          .values(toGenerationRow(runId, record, now))
          .onConflictDoNothing(),
        d1.update(runs).set(toRunProgress(record, now)).where(eq(runs.id, runId)),
      ]);
      this.sql.exec('UPDATE generation_log SET synced = 1 WHERE gen = ?', gen);
    }
    return pending.length;
  }
}

/** Bring the D1 run row's status (and error, timings) in line with the object's. */
export async function syncRunStatus(db: D1Database, meta: RunMeta): Promise<void> {
  await drizzle(db)
    .update(runs)
    .set({
      status: meta.status,
      error: meta.error,
      startedAt: meta.startedAt,
      finishedAt: meta.finishedAt,
      updatedAt: Date.now(),
    })
    .where(eq(runs.id, meta.runId));
}
