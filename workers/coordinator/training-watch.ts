/**
 * The trainings of this run's model versions that the coordinator watches for stalls (table
 * `watched_trainings`). A training's progress is its D1 `trainings` row (workers/models/train.ts);
 * each chunk moves its step and time. A row that has not moved for `stallMs` lost its chunk (a
 * message dropped or abandoned, an evaluator that was down): the coordinator's alarm sends the chunk
 * at the row's step again, and again each `stallMs` while nothing moves. A duplicate chunk changes
 * nothing (compare-and-set on the step), so a re-send is always safe.
 */
import { and, eq, inArray } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/d1';
import { trainings } from '../../schema/schema';
import { all, int, intOrNull, type Row, text } from './rows';

/** One watched training: what the alarm last saw of it. */
export interface WatchedTraining {
  runId: string;
  version: number;
  /** The row's step when last seen moving. */
  step: number;
  /** Chunks re-sent since it last moved. */
  resends: number;
  /** When the chunk was last re-sent (0: never). */
  resentAt: number;
  /** When to look at it again. */
  checkAt: number;
}

function decodeWatched(r: Row): WatchedTraining {
  return {
    runId: text(r, 'run_id'),
    version: int(r, 'version'),
    step: int(r, 'step'),
    resends: int(r, 'resends'),
    resentAt: int(r, 'resent_at'),
    checkAt: int(r, 'check_at'),
  };
}

/** What the alarm found of one training: its D1 row's progress, or null once it is done or failed. */
export interface TrainingProgress {
  step: number;
  updatedAt: number;
}

/** The progress of a training still queued or running (null: done, failed, or never started). */
export async function readTrainingProgress(
  db: D1Database,
  runId: string,
  version: number,
): Promise<TrainingProgress | null> {
  const row = await drizzle(db)
    .select({ step: trainings.step, updatedAt: trainings.updatedAt })
    .from(trainings)
    .where(
      and(
        eq(trainings.runId, runId),
        eq(trainings.version, version),
        inArray(trainings.status, ['queued', 'running']),
      ),
    )
    .get();
  return row ?? null;
}

/**
 * Say on a stalled training's row what happened (its `error` while it runs, shown with its
 * progress); the next chunk that moves it clears it.
 */
export async function noteStalledTraining(
  db: D1Database,
  runId: string,
  version: number,
  note: string,
): Promise<void> {
  await drizzle(db)
    .update(trainings)
    .set({ error: note })
    .where(
      and(
        eq(trainings.runId, runId),
        eq(trainings.version, version),
        inArray(trainings.status, ['queued', 'running']),
      ),
    );
}

/** What to do about a watched training now. */
export type StallVerdict = { kind: 'finished' } | { kind: 'moving' } | { kind: 'stalled'; idleMs: number };

export class TrainingWatch {
  constructor(
    private readonly sql: SqlStorage,
    private readonly stallMs: number,
  ) {
    sql.exec(`CREATE TABLE IF NOT EXISTS watched_trainings (
      version INTEGER PRIMARY KEY, run_id TEXT NOT NULL, step INTEGER NOT NULL,
      resends INTEGER NOT NULL, resent_at INTEGER NOT NULL, check_at INTEGER NOT NULL)`);
  }

  /** Watch the training of `version` (again: a restart starts a new watch from its current step). */
  watch(runId: string, version: number, now: number): void {
    this.sql.exec(
      `INSERT INTO watched_trainings (version, run_id, step, resends, resent_at, check_at)
       VALUES (?, ?, -1, 0, 0, ?)
       ON CONFLICT (version) DO UPDATE SET check_at = MIN(check_at, excluded.check_at)`,
      version,
      runId,
      now + this.stallMs,
    );
  }

  /** The watched trainings due a look at `now`. */
  due(now: number): WatchedTraining[] {
    return all(this.sql, decodeWatched, 'SELECT * FROM watched_trainings WHERE check_at <= ?', now);
  }

  /** When the next watched training is due a look; null when none is watched. */
  nextCheck(): number | null {
    const [next] = all(
      this.sql,
      (r) => intOrNull(r, 'at'),
      'SELECT MIN(check_at) AS at FROM watched_trainings',
    );
    return next ?? null;
  }

  /**
   * Judge `w` by its row's progress (null: done, failed or gone) and record what was seen: the
   * training is finished (no longer watched), moving (looked at again `stallMs` after its last move),
   * or stalled (its chunk is to be re-sent now: `resent` records that).
   */
  judge(w: WatchedTraining, progress: TrainingProgress | null, now: number): StallVerdict {
    if (!progress) {
      this.sql.exec('DELETE FROM watched_trainings WHERE version = ?', w.version);
      return { kind: 'finished' };
    }
    const moved = progress.step !== w.step;
    const since = Math.max(progress.updatedAt, moved ? 0 : w.resentAt);
    if (now - since < this.stallMs) {
      this.sql.exec(
        'UPDATE watched_trainings SET step = ?, resends = ?, check_at = ? WHERE version = ?',
        progress.step,
        moved ? 0 : w.resends,
        since + this.stallMs,
        w.version,
      );
      return { kind: 'moving' };
    }
    return { kind: 'stalled', idleMs: now - progress.updatedAt };
  }

  /** The chunk of `w` at `step` was re-sent at `now`. */
  resent(w: WatchedTraining, step: number, now: number): number {
    const resends = (step === w.step ? w.resends : 0) + 1;
    this.sql.exec(
      'UPDATE watched_trainings SET step = ?, resends = ?, resent_at = ?, check_at = ? WHERE version = ?',
      step,
      resends,
      now,
      now + this.stallMs,
      w.version,
    );
    return resends;
  }
}
