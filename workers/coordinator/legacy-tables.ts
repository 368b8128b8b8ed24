/**
 * An object whose storage was written by the coordinator before the task ledger (a local
 * `wrangler dev` state, a run in flight during a deploy) has tables `slices`, `rechecks` and
 * `publications`. Their rows move, once, into `tasks` and `stored_slices`, and the old tables go:
 * the run goes on where it was (same attempts, same reports, same version numbers).
 */
import { all, blobOrNull, int, intOrNull, realOrNull, text } from './rows';
import { packRecheck } from './task-ledger';

function hasTable(sql: SqlStorage, name: string): boolean {
  return (
    sql.exec("SELECT name FROM sqlite_master WHERE type = 'table' AND name = ?", name).toArray().length > 0
  );
}

/** Move the old tables' rows into the ledger's and the population index's tables (both created). */
export function migrateLegacyTables(sql: SqlStorage): void {
  if (hasTable(sql, 'slices')) {
    // Reported slices (of the current and the last finished generation) are stored objects.
    sql.exec(`INSERT OR IGNORE INTO stored_slices (gen, slice_start, slice_end, offsets)
      SELECT gen, slice_start, slice_end, offsets FROM slices WHERE done = 1 AND offsets IS NOT NULL`);
    // The current generation's slices are tasks: those not reported, and those whose report is not
    // folded into a finished generation yet (a finished generation's slices keep no report).
    sql.exec(`INSERT OR IGNORE INTO tasks (kind, gen, slice_start, slice_end, status, attempts, sent_at, result)
      SELECT 'slice', gen, slice_start, slice_end, CASE done WHEN 1 THEN 'done' ELSE 'pending' END,
        attempts, sent_at, report FROM slices WHERE done = 0 OR report IS NOT NULL`);
    sql.exec('DROP TABLE slices');
  }
  if (hasTable(sql, 'rechecks')) {
    const rows = all(
      sql,
      (r) => ({
        gen: int(r, 'gen'),
        task: text(r, 'task'),
        attempts: int(r, 'attempts'),
        sentAt: intOrNull(r, 'sent_at'),
        done: int(r, 'done') === 1,
        championFitness: blobOrNull(r, 'champion_fitness'),
        candidateFitness: blobOrNull(r, 'candidate_fitness'),
        testAccuracy: realOrNull(r, 'test_accuracy'),
      }),
      'SELECT * FROM rechecks',
    );
    for (const r of rows) {
      const result =
        r.done && r.championFitness && r.candidateFitness && r.testAccuracy !== null
          ? packRecheck({
              championFitness: Array.from(new Float64Array(r.championFitness)),
              candidateFitness: Array.from(new Float64Array(r.candidateFitness)),
              testAccuracy: r.testAccuracy,
            }).buffer
          : null;
      sql.exec(
        `INSERT OR IGNORE INTO tasks (kind, gen, status, attempts, sent_at, body, result)
         VALUES ('recheck', ?, ?, ?, ?, ?, ?)`,
        r.gen,
        r.done ? 'done' : 'pending',
        r.attempts,
        r.sentAt,
        r.task,
        result,
      );
    }
    sql.exec('DROP TABLE rechecks');
  }
  if (hasTable(sql, 'publications')) {
    // A trained version was recorded as a finished publication of generation −from, champion 'null'.
    sql.exec(`INSERT OR IGNORE INTO tasks (kind, version, source, status)
      SELECT 'train', version, -generation, 'done' FROM publications WHERE generation < 0`);
    sql.exec(`INSERT OR IGNORE INTO tasks (kind, gen, version, status, attempts, sent_at, body, error)
      SELECT 'publish', generation, version, status, attempts, sent_at, champion, error
      FROM publications WHERE generation >= 0`);
    sql.exec('DROP TABLE publications');
  }
}
