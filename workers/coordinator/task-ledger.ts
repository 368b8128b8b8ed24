/**
 * The task ledger: every unit of work the run hands out, and every model version it numbers, in one
 * table `tasks` with one retry policy (sent; not answered within its timeout: due again; due after
 * its last attempt: exhausted, which fails the run or only the task, as the kind's policy says).
 *
 * Kinds, and what their columns mean:
 * - `slice`: breed and evaluate members [slice_start, slice_end) of generation `gen`; its result is
 *   the packed report (`packReport`).
 * - `recheck`: the champion re-check of generation `gen`; `body` is the RecheckTask sent, its result
 *   the packed per-shard fitness and test accuracy (`packRecheck`).
 * - `publish`: model `version` of the champion after `gen` generations; `body` is that champion's
 *   address (JSON), `error` why it failed.
 * - `train`: model `version`, trained from version `source` by the API's training (its progress is
 *   the D1 `trainings` row): the ledger only numbers it, so it is written done. Publications and
 *   trained versions share one sequence of version numbers, so the two never collide.
 */
import type { RecheckReport } from '../../src/wann/generation';
import { type RecheckTask, recheckTaskSchema } from '../contracts/queue-tasks';
import { all, blobOrNull, first, int, intOrNull, json, oneOf, type Row } from './rows';
import { championAddressSchema } from './run-state';
import type { CoordinatorSettings } from './settings';
import type { ChampionAddress } from './types';

export const TASK_KINDS = ['slice', 'recheck', 'publish', 'train'] as const;
export type TaskKind = (typeof TASK_KINDS)[number];
/** The kinds that are sent through the queue (and so retried). */
export type SentKind = Exclude<TaskKind, 'train'>;
export const TASK_STATUSES = ['pending', 'done', 'failed'] as const;
export type TaskStatus = (typeof TASK_STATUSES)[number];

/** How long a sent task may go unanswered, how often it is sent, and what its exhaustion fails. */
export interface RetryPolicy {
  timeoutMs: number;
  maxAttempts: number;
  /** 'run': the run fails with a recorded error; 'task': the task is recorded failed, the run goes on. */
  exhaustionFails: 'run' | 'task';
}

/** Automatic publications are sent this often (then recorded as failed; the run goes on). */
const PUBLISH_MAX_ATTEMPTS = 3;
/** A publication (10,000 test images × the weights, ONNX export) may take this many slice timeouts. */
const PUBLISH_TIMEOUT_FACTOR = 4;

export function retryPolicies(settings: CoordinatorSettings): Record<SentKind, RetryPolicy> {
  const generationWork: RetryPolicy = {
    timeoutMs: settings.sliceTimeoutMs,
    maxAttempts: settings.sliceMaxAttempts,
    exhaustionFails: 'run',
  };
  return {
    slice: generationWork,
    recheck: generationWork,
    publish: {
      timeoutMs: settings.sliceTimeoutMs * PUBLISH_TIMEOUT_FACTOR,
      maxAttempts: PUBLISH_MAX_ATTEMPTS,
      exhaustionFails: 'task',
    },
  };
}

/** What every sent task has, whatever its kind: what the retry policy reads. */
interface LedgerEntry {
  id: number;
  attempts: number;
  sentAt: number | null;
}

export interface SliceEntry extends LedgerEntry {
  kind: 'slice';
  gen: number;
  start: number;
  end: number;
  done: boolean;
}

export interface RecheckEntry extends LedgerEntry {
  kind: 'recheck';
  gen: number;
  task: RecheckTask;
  done: boolean;
}

export interface PublicationEntry extends LedgerEntry {
  kind: 'publish';
  version: number;
  /** Generations finished when its champion was published. */
  generation: number;
  champion: ChampionAddress;
  status: TaskStatus;
}

export type SentEntry = SliceEntry | RecheckEntry | PublicationEntry;

/** A slice's stored result: its bounds and packed report (null until reported). */
export interface SliceResult {
  start: number;
  end: number;
  report: ArrayBuffer | null;
}

const COLUMNS = 'id, kind, gen, slice_start, slice_end, version, attempts, sent_at, status, body';

function decodeEntry(r: Row): SentEntry {
  const base = { id: int(r, 'id'), attempts: int(r, 'attempts'), sentAt: intOrNull(r, 'sent_at') };
  const status = oneOf(r, 'status', TASK_STATUSES);
  const kind = oneOf(r, 'kind', TASK_KINDS);
  switch (kind) {
    case 'slice':
      return {
        ...base,
        kind,
        gen: int(r, 'gen'),
        start: int(r, 'slice_start'),
        end: int(r, 'slice_end'),
        done: status === 'done',
      };
    case 'recheck':
      return {
        ...base,
        kind,
        gen: int(r, 'gen'),
        task: json(r, 'body', recheckTaskSchema),
        done: status === 'done',
      };
    case 'publish':
      return {
        ...base,
        kind,
        version: int(r, 'version'),
        generation: int(r, 'gen'),
        champion: json(r, 'body', championAddressSchema),
        status,
      };
    case 'train':
      throw new Error(`coordinator storage: task ${base.id} is a trained version, not sent work`);
  }
}

function decodeSlice(r: Row): SliceEntry {
  const e = decodeEntry(r);
  if (e.kind !== 'slice') throw new Error(`coordinator storage: task ${e.id} is not a slice`);
  return e;
}

function decodeRecheck(r: Row): RecheckEntry {
  const e = decodeEntry(r);
  if (e.kind !== 'recheck') throw new Error(`coordinator storage: task ${e.id} is not a re-check`);
  return e;
}

function decodePublication(r: Row): PublicationEntry {
  const e = decodeEntry(r);
  if (e.kind !== 'publish') throw new Error(`coordinator storage: task ${e.id} is not a publication`);
  return e;
}

/** Sending order among due tasks of one generation: by kind (as listed), then position. */
const DUE_ORDER = "CASE kind WHEN 'slice' THEN 0 WHEN 'recheck' THEN 1 ELSE 2 END, slice_start, version";

export class TaskLedger {
  constructor(
    private readonly sql: SqlStorage,
    private readonly policies: Record<SentKind, RetryPolicy>,
  ) {
    sql.exec(`
      CREATE TABLE IF NOT EXISTS tasks (id INTEGER PRIMARY KEY, kind TEXT NOT NULL,
        gen INTEGER, slice_start INTEGER NOT NULL DEFAULT 0, slice_end INTEGER,
        version INTEGER UNIQUE, source INTEGER UNIQUE,
        status TEXT NOT NULL DEFAULT 'pending', attempts INTEGER NOT NULL DEFAULT 0, sent_at INTEGER,
        body TEXT, result BLOB, error TEXT, UNIQUE (kind, gen, slice_start));
    `);
  }

  // ------------------------------------------------------------------------------------------
  // One policy for every kind

  /**
   * The tasks to send now: never sent, or unanswered past their timeout (pending slices and re-check
   * of `gen`, every pending publication), in sending order (slices, re-check, publications), and of
   * those the ones already sent as often as their policy allows.
   */
  due(gen: number, now: number): { due: SentEntry[]; exhausted: SentEntry[] } {
    const due = this.pendingWork(gen).filter((t) => {
      const { timeoutMs } = this.policies[t.kind];
      return t.sentAt === null || t.sentAt + timeoutMs <= now;
    });
    const exhausted = due.filter((t) => t.attempts >= this.policies[t.kind].maxAttempts);
    return { due: due.filter((t) => !exhausted.includes(t)), exhausted };
  }

  policy(kind: SentKind): RetryPolicy {
    return this.policies[kind];
  }

  /** Task `id` is given up (exhausted, its policy failing only itself), with the reason. */
  fail(id: number, error: string): void {
    this.sql.exec("UPDATE tasks SET status = 'failed', error = ? WHERE id = ?", error, id);
  }

  /** `ids` were sent at `sentAt`: one more attempt each. */
  markSent(ids: readonly number[], sentAt: number): void {
    for (const id of ids)
      this.sql.exec('UPDATE tasks SET attempts = attempts + 1, sent_at = ? WHERE id = ?', sentAt, id);
  }

  /** When the next sent task of `gen` (or publication) times out; null when none is waiting. */
  nextTimeout(gen: number): number | null {
    let wake = Number.POSITIVE_INFINITY;
    for (const t of this.pendingWork(gen)) {
      if (t.sentAt !== null) wake = Math.min(wake, t.sentAt + this.policies[t.kind].timeoutMs);
    }
    return Number.isFinite(wake) ? wake : null;
  }

  /** Slices and re-check of generation `gen` not reported yet: the generation completes at 0. */
  pending(gen: number): number {
    return int(
      this.sql
        .exec(
          "SELECT COUNT(*) AS n FROM tasks WHERE kind IN ('slice', 'recheck') AND gen = ? AND status = 'pending'",
          gen,
        )
        .one(),
      'n',
    );
  }

  private pendingWork(gen: number): SentEntry[] {
    return all(
      this.sql,
      decodeEntry,
      `SELECT ${COLUMNS} FROM tasks WHERE status = 'pending'
       AND ((kind IN ('slice', 'recheck') AND gen = ?) OR kind = 'publish') ORDER BY ${DUE_ORDER}`,
      gen,
    );
  }

  /** Forget the slices and re-checks of generations up to `gen` (all of them when omitted). */
  dropGenerationWork(gen = Number.MAX_SAFE_INTEGER): void {
    this.sql.exec("DELETE FROM tasks WHERE kind IN ('slice', 'recheck') AND gen <= ?", gen);
  }

  // ------------------------------------------------------------------------------------------
  // Slices

  /**
   * The slice tasks of generation `gen` (members [start, end) each), unless it has some already:
   * tasks cut another way (the local setting changed across a restart) would overlap them.
   */
  addSlices(gen: number, bounds: readonly (readonly [number, number])[]): void {
    if (this.sql.exec("SELECT 1 FROM tasks WHERE kind = 'slice' AND gen = ? LIMIT 1", gen).toArray().length)
      return;
    for (const [start, end] of bounds) {
      this.sql.exec(
        "INSERT OR IGNORE INTO tasks (kind, gen, slice_start, slice_end) VALUES ('slice', ?, ?, ?)",
        gen,
        start,
        end,
      );
    }
  }

  slice(gen: number, start: number): SliceEntry | undefined {
    return first(
      this.sql,
      decodeSlice,
      `SELECT ${COLUMNS} FROM tasks WHERE kind = 'slice' AND gen = ? AND slice_start = ?`,
      gen,
      start,
    );
  }

  /** Slice task `id` is answered with its packed report. */
  completeSlice(id: number, packed: Float64Array): void {
    this.sql.exec("UPDATE tasks SET status = 'done', result = ? WHERE id = ?", packed.buffer, id);
  }

  /** Every slice of `gen` with its packed report, by start. */
  sliceResults(gen: number): SliceResult[] {
    return all(
      this.sql,
      (r) => ({ start: int(r, 'slice_start'), end: int(r, 'slice_end'), report: blobOrNull(r, 'result') }),
      "SELECT slice_start, slice_end, result FROM tasks WHERE kind = 'slice' AND gen = ? ORDER BY slice_start",
      gen,
    );
  }

  // ------------------------------------------------------------------------------------------
  // Champion re-checks

  addRecheck(task: RecheckTask): void {
    this.sql.exec(
      "INSERT OR IGNORE INTO tasks (kind, gen, body) VALUES ('recheck', ?, ?)",
      task.gen,
      JSON.stringify(task),
    );
  }

  recheck(gen: number): RecheckEntry | undefined {
    return first(
      this.sql,
      decodeRecheck,
      `SELECT ${COLUMNS} FROM tasks WHERE kind = 'recheck' AND gen = ?`,
      gen,
    );
  }

  completeRecheck(id: number, report: RecheckReport): void {
    this.sql.exec(
      "UPDATE tasks SET status = 'done', result = ? WHERE id = ?",
      packRecheck(report).buffer,
      id,
    );
  }

  /** The per-shard fitness (NaN kept, which JSON would turn into null) and test accuracy reported. */
  recheckResult(
    id: number,
  ): Pick<RecheckReport, 'championFitness' | 'candidateFitness' | 'testAccuracy'> | null {
    const packed = first(
      this.sql,
      (r) => blobOrNull(r, 'result'),
      'SELECT result FROM tasks WHERE id = ?',
      id,
    );
    return packed ? unpackRecheck(new Float64Array(packed)) : null;
  }

  // ------------------------------------------------------------------------------------------
  // Publications and trained versions

  /** The publication of the champion after `gen` generations: the existing one, or a new version. */
  ensurePublication(gen: number, champion: ChampionAddress): PublicationEntry {
    const existing = this.publicationAt(gen);
    if (existing) return existing;
    this.sql.exec(
      `INSERT INTO tasks (kind, gen, version, body)
       VALUES ('publish', ?, (SELECT COALESCE(MAX(version), 0) + 1 FROM tasks), ?)`,
      gen,
      JSON.stringify(champion),
    );
    const created = this.publicationAt(gen);
    if (!created) throw new Error(`the publication of generation ${gen} was not recorded`);
    return created;
  }

  publicationAt(gen: number): PublicationEntry | undefined {
    return first(
      this.sql,
      decodePublication,
      `SELECT ${COLUMNS} FROM tasks WHERE kind = 'publish' AND gen = ?`,
      gen,
    );
  }

  publication(version: number): PublicationEntry | undefined {
    return first(
      this.sql,
      decodePublication,
      `SELECT ${COLUMNS} FROM tasks WHERE kind = 'publish' AND version = ?`,
      version,
    );
  }

  /** Publication `version` is done, or failed with `error`. */
  settlePublication(version: number, error: string | null): void {
    this.sql.exec(
      "UPDATE tasks SET status = ?, error = ? WHERE kind = 'publish' AND version = ?",
      error === null ? 'done' : 'failed',
      error,
      version,
    );
  }

  /** The champions of publications still pending: their objects stay in R2 until they are done. */
  pendingChampions(): ChampionAddress[] {
    return all(
      this.sql,
      (r) => json(r, 'body', championAddressSchema),
      "SELECT body FROM tasks WHERE kind = 'publish' AND status = 'pending'",
    );
  }

  /**
   * The version number of the trained variant of version `from`, from the publications' sequence and
   * at least `atLeast`. Idempotent: the same `from` always gets the same number.
   */
  reserveTrainedVersion(from: number, atLeast: number): number {
    this.sql.exec(
      `INSERT OR IGNORE INTO tasks (kind, version, source, status)
       VALUES ('train', MAX((SELECT COALESCE(MAX(version), 0) + 1 FROM tasks), ?), ?, 'done')`,
      atLeast,
      from,
    );
    return int(
      this.sql.exec("SELECT version FROM tasks WHERE kind = 'train' AND source = ?", from).one(),
      'version',
    );
  }
}

/**
 * A re-check result as stored: [testAccuracy, n, championFitness (n), candidateFitness (0 or n)]
 * (a re-check without a candidate reports no candidate fitness).
 */
export function packRecheck(
  r: Pick<RecheckReport, 'championFitness' | 'candidateFitness' | 'testAccuracy'>,
): Float64Array {
  return Float64Array.from([
    r.testAccuracy,
    r.championFitness.length,
    ...r.championFitness,
    ...r.candidateFitness,
  ]);
}

function unpackRecheck(p: Float64Array) {
  const n = p[1];
  return {
    testAccuracy: p[0],
    championFitness: Array.from(p.subarray(2, 2 + n)),
    candidateFitness: Array.from(p.subarray(2 + n)),
  };
}
