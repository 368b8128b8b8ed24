/**
 * SearchCoordinator: one Durable Object per run. It handles numbers, never genomes: it ranks each
 * finished generation and selects every member's parent for the next (src/wann/generation.ts
 * `planGeneration`), sends small slice tasks through the queue, collects one report per slice
 * (objectives and where each member lies in R2), and records the generation. Evaluators breed,
 * evaluate and store the members; publishing is a queued task too. The object's memory is
 * bounded by the population's numbers (a few hundred bytes per member while completing a generation), not by
 * its genomes.
 *
 * Storage (SQLite-backed object, synchronous `ctx.storage.sql`):
 * - `meta`: one small JSON row (status, config, current generation, champion and its location).
 * - `slices`: the slices of the current generation (attempts, report) and of the last finished one
 *   (kept for where its members lie: the next generation's parents, forks).
 * - `plan`: each current-generation member's parent index (a BLOB of Int32).
 * - `objectives`: the last finished generation's objectives (a BLOB), what a fork plans from.
 * - `generation_log`: the GenerationRecord of every finished generation; the outbox for D1 (rows are
 *   marked synced once written) and the replay source for SSE subscribers.
 * - `rechecks`: the current generation's champion re-check, if it has one (its task, attempts and
 *   result: the per-shard fitness of both genomes and the winner's test accuracy).
 * - `publications`: versions, the champion each one publishes, and their tasks' progress.
 * - `garbage`: R2 slice objects no longer needed, deleted off the critical path.
 *
 * Every step is idempotent and driven from persisted state (`drive`), so the alarm can finish
 * whatever a crash or restart interrupted: re-send tasks, complete a generation, re-sync D1.
 */
import { DurableObject } from 'cloudflare:workers';
import { eq } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/d1';
import { generations, runs } from '../../schema/schema';
import type { RunStatus } from '../../src/api/vocabulary';
import {
  breedingParams,
  completeGeneration,
  generationShard,
  packObjectives,
  planGeneration,
  type RecheckReport,
  recheckMismatch,
  recheckReportSchema,
  recheckSpec,
  type SliceReport,
  sliceReportSchema,
  unpackObjectives,
} from '../../src/wann/generation';
import { type ChampionRecord, championWithDefaults, type GenerationRecord } from '../../src/wann/record';
import type { Env } from '../api/env';
import { populationSliceKey } from '../contracts/blob-keys';
import { toGenerationRow, toRunProgress } from '../contracts/generation-rows';
import type {
  GenomeLocation,
  PublishTask,
  QueueTask,
  RecheckTask,
  ReportOutcome,
  SliceTask,
} from '../contracts/queue-tasks';
import { type CoordinatorSettings, readSettings } from './settings';
import {
  type CancelOutcome,
  type ChampionAddress,
  type ForkSource,
  isTerminal,
  type PublicationOutcome,
  type PublicationRequest,
  type RunConfig,
  type RunSnapshot,
  type StoredSlice,
} from './types';

interface RunMeta {
  runId: string;
  status: RunStatus;
  config: RunConfig;
  error: string | null;
  startedAt: number;
  finishedAt: number | null;
  /** The generation being bred and evaluated (= generations finished). */
  gen: number;
  /** When the current generation's slices were first sent (duration of a generation). */
  genStartedAt: number;
  champion: ChampionAddress | null;
  /**
   * The best single-batch genome waiting for the next champion re-check (absent in state written
   * before re-checks existed: none).
   */
  candidate?: ChampionAddress | null;
  /** Last status written to D1; differs from `status` while that write is pending. */
  syncedStatus: RunStatus | null;
  /** Consecutive failed `drive` attempts (D1/R2/queue errors); bounded like slice retries. */
  driveFailures: number;
}

interface SliceRow extends Record<string, SqlStorageValue> {
  gen: number;
  slice_start: number;
  slice_end: number;
  attempts: number;
  sent_at: number | null;
  done: number;
}

interface RecheckRow extends Record<string, SqlStorageValue> {
  gen: number;
  /** The RecheckTask sent (JSON). */
  task: string;
  attempts: number;
  sent_at: number | null;
  done: number;
  /** Float64 per shard, NaN kept (JSON would turn it into null). */
  champion_fitness: ArrayBuffer | null;
  candidate_fitness: ArrayBuffer | null;
  test_accuracy: number | null;
}

interface PublicationRow extends Record<string, SqlStorageValue> {
  version: number;
  generation: number;
  champion: string;
  status: 'pending' | 'done' | 'failed';
  attempts: number;
  sent_at: number | null;
}

/** Automatic publications are sent this often (then recorded as failed; the run goes on). */
const PUBLISH_MAX_ATTEMPTS = 3;
/** A publication (10,000 test images × the weights, ONNX export) may take this many slice timeouts. */
const PUBLISH_TIMEOUT_FACTOR = 4;
/** Queue.sendBatch takes at most 100 messages and 256 KB; stay well inside both. */
const SEND_BATCH = 100;
const SEND_BATCH_BYTES = 192 * 1024;
/** R2 deletes take up to 1,000 keys per call. */
const DELETE_BATCH = 1000;
const encoder = new TextEncoder();
const HEARTBEAT = encoder.encode(': keep-alive\n\n');
const RETRY = encoder.encode('retry: 3000\n\n');
const READER_BEHIND = encoder.encode(
  `event: end\ndata: ${JSON.stringify({ code: 'reader_behind', message: 'this stream fell too far behind; reconnect with Last-Event-ID to resume' })}\n\n`,
);

/**
 * Open event streams per run (live or still replaying); the next `subscribe` is refused (the API
 * answers 429). Each live stream costs the object a queue entry per event, nothing more.
 */
export const MAX_SUBSCRIBERS_PER_RUN = 32;
/**
 * A `since` replay reads the generation log this many generations at a time (one chunk of about
 * 1 KB per generation), and reads the next page only when the reader has taken the previous one:
 * a replay of 100,000 generations never holds more than a page or two in the object's memory.
 */
export const REPLAY_PAGE = 64;
/**
 * A live stream whose reader leaves this many events untaken is dropped (closed): a gone or stuck
 * reader (the object is not always told when a caller goes away) holds at most this many events.
 * A client that reconnects with `Last-Event-ID` resumes from the log.
 */
export const MAX_QUEUED_EVENTS = 32;

/**
 * What `subscribe` answers: the event stream and its id (for `unsubscribe`), or why there is none.
 */
export type Subscription =
  | { ok: true; stream: ReadableStream<Uint8Array>; id: number }
  | { ok: false; reason: 'too_many_subscribers'; limit: number };

type StreamController = ReadableStreamDefaultController<Uint8Array>;

export class SearchCoordinator extends DurableObject<Env> {
  private readonly sql: SqlStorage;
  private readonly settings: CoordinatorSettings;
  /** In-memory cache of the persisted meta row; storage stays the source of truth. */
  private metaCache: RunMeta | null = null;
  /** Serialises `drive` and `finish`: only one may await I/O at a time. */
  private tail: Promise<unknown> = Promise.resolve();
  /** Every open event stream (→ its id), live or replaying: what `MAX_SUBSCRIBERS_PER_RUN` counts. */
  private readonly streams = new Map<StreamController, number>();
  private lastStreamId = 0;
  /** The streams that caught up with the log: each new event is queued on them. */
  private readonly subscribers = new Set<StreamController>();
  private heartbeat: ReturnType<typeof setInterval> | null = null;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.settings = readSettings(env);
    this.sql.exec(`
      CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS slices (gen INTEGER NOT NULL, slice_start INTEGER NOT NULL,
        slice_end INTEGER NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, sent_at INTEGER,
        done INTEGER NOT NULL DEFAULT 0, report BLOB, offsets BLOB, PRIMARY KEY (gen, slice_start));
      CREATE TABLE IF NOT EXISTS plan (gen INTEGER PRIMARY KEY, elites INTEGER NOT NULL, parents BLOB NOT NULL);
      CREATE TABLE IF NOT EXISTS objectives (gen INTEGER PRIMARY KEY, packed BLOB NOT NULL);
      CREATE TABLE IF NOT EXISTS generation_log (gen INTEGER PRIMARY KEY, entry TEXT NOT NULL,
        synced INTEGER NOT NULL DEFAULT 0);
      CREATE TABLE IF NOT EXISTS publications (version INTEGER PRIMARY KEY, generation INTEGER NOT NULL
        UNIQUE, champion TEXT NOT NULL, status TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
        sent_at INTEGER, error TEXT);
      CREATE TABLE IF NOT EXISTS garbage (key TEXT PRIMARY KEY);
      CREATE TABLE IF NOT EXISTS rechecks (gen INTEGER PRIMARY KEY, task TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0, sent_at INTEGER, done INTEGER NOT NULL DEFAULT 0,
        champion_fitness BLOB, candidate_fitness BLOB, test_accuracy REAL);
    `);
  }

  // ------------------------------------------------------------------------------------------
  // RPC

  /**
   * Start the run (idempotent: a second call returns the current snapshot). `from` continues
   * another run's last finished generation (a fork; its R2 objects are already copied).
   */
  async start(runId: string, config: RunConfig, from?: ForkSource): Promise<RunSnapshot> {
    if (!this.meta()) {
      const now = Date.now();
      const gen = from?.generation ?? 0;
      const meta: RunMeta = {
        runId,
        status: 'running',
        config,
        error: null,
        startedAt: now,
        finishedAt: null,
        gen,
        genStartedAt: now,
        champion: from?.champion ?? null,
        candidate: from?.candidate ?? null,
        syncedStatus: null,
        driveFailures: 0,
      };
      this.ctx.storage.transactionSync(() => {
        if (from && gen > 0) {
          for (const s of from.slices) {
            this.sql.exec(
              'INSERT INTO slices (gen, slice_start, slice_end, done, offsets) VALUES (?, ?, ?, 1, ?)',
              gen - 1,
              s.start,
              s.end,
              Uint32Array.from(s.offsets).buffer,
            );
          }
          this.sql.exec(
            'INSERT INTO objectives (gen, packed) VALUES (?, ?)',
            gen - 1,
            Float64Array.from(from.objectives).buffer,
          );
        }
        this.putMeta(meta);
        if (gen < config.generations) this.preparePlan(gen, config);
      });
      this.broadcastStatus();
      await this.drive();
    }
    return this.snapshot()!;
  }

  /**
   * A slice's report from an evaluator. A malformed report is refused with the reason (and does not
   * count as an attempt); duplicates and other generations change nothing.
   */
  async report(runId: string, input: unknown): Promise<ReportOutcome> {
    const parsed = sliceReportSchema.safeParse(input);
    if (!parsed.success) {
      const reason = parsed.error.issues
        .slice(0, 3)
        .map((i) => `${i.path.join('.') || '(report)'}: ${i.message}`)
        .join('; ');
      console.error(`coordinator ${runId}: rejected a slice report: ${reason}`);
      return { rejected: reason };
    }
    const report = parsed.data;
    const meta = this.meta();
    if (!meta || meta.runId !== runId) return { rejected: `this coordinator does not hold run ${runId}` };
    if (meta.status !== 'running' || report.gen !== meta.gen) {
      // A slice of the generation a cancel or failure cut short, in flight then: the evaluator
      // stored its object before reporting, after `finishNow` discarded that generation's finished
      // slices. Nothing will read it (a fork starts from the generation before): drop it too.
      if (isTerminal(meta.status) && report.gen === meta.gen) {
        this.discard(report.gen, report.sliceStart, [meta.champion, meta.candidate]);
        await this.deleteGarbage();
      }
      return 'stale';
    }
    const row = this.sliceRow(report.gen, report.sliceStart);
    if (!row) return { rejected: `generation ${report.gen} has no slice starting at ${report.sliceStart}` };
    if (row.slice_end !== report.sliceEnd) {
      return {
        rejected: `slice ${report.sliceStart} ends at ${row.slice_end}, the report says ${report.sliceEnd}`,
      };
    }
    if (report.weights !== meta.config.weights.length) {
      return { rejected: `the run has ${meta.config.weights.length} weights, the report ${report.weights}` };
    }
    if (row.done) return 'duplicate';
    this.sql.exec(
      'UPDATE slices SET done = 1, report = ?, offsets = ? WHERE gen = ? AND slice_start = ?',
      packReport(report).buffer,
      Uint32Array.from(report.offsets).buffer,
      report.gen,
      report.sliceStart,
    );
    if (this.pendingWork(report.gen) === 0) await this.drive();
    return 'accepted';
  }

  /**
   * A champion re-check's report from an evaluator: kept once for its generation (duplicates,
   * other generations and reports after the end change nothing); one that does not answer the
   * generation's re-check task is refused with the reason.
   */
  async recheckReport(runId: string, input: unknown): Promise<ReportOutcome> {
    const parsed = recheckReportSchema.safeParse(input);
    if (!parsed.success) {
      const reason = parsed.error.issues
        .slice(0, 3)
        .map((i) => `${i.path.join('.') || '(report)'}: ${i.message}`)
        .join('; ');
      console.error(`coordinator ${runId}: rejected a re-check report: ${reason}`);
      return { rejected: reason };
    }
    const report = parsed.data;
    const meta = this.meta();
    if (!meta || meta.runId !== runId) return { rejected: `this coordinator does not hold run ${runId}` };
    if (meta.status !== 'running' || report.gen !== meta.gen) return 'stale';
    const row = this.recheckRow(report.gen);
    if (!row) return { rejected: `generation ${report.gen} has no champion re-check` };
    const mismatch = recheckMismatch(specOf(JSON.parse(row.task) as RecheckTask), report);
    if (mismatch) return { rejected: `the re-check ${mismatch}` };
    if (row.done) return 'duplicate';
    this.sql.exec(
      `UPDATE rechecks SET done = 1, champion_fitness = ?, candidate_fitness = ?, test_accuracy = ?
       WHERE gen = ?`,
      Float64Array.from(report.championFitness).buffer,
      Float64Array.from(report.candidateFitness).buffer,
      report.testAccuracy,
      report.gen,
    );
    if (this.pendingWork(report.gen) === 0) await this.drive();
    return 'accepted';
  }

  /** An evaluator hit a permanent problem (e.g. a shard missing from R2): fail with its message. */
  async reportError(gen: number, message: string): Promise<'accepted' | 'stale'> {
    const meta = this.meta();
    if (meta?.status !== 'running' || gen !== meta.gen) return 'stale';
    await this.finish('failed', `evaluator: ${message.slice(0, 500)}`);
    return 'accepted';
  }

  async cancel(): Promise<CancelOutcome> {
    const meta = this.meta();
    if (!meta || isTerminal(meta.status)) return { ok: false, status: meta?.status ?? null };
    await this.finish('cancelled', null);
    return { ok: true, snapshot: this.snapshot()! };
  }

  snapshot(): RunSnapshot | null {
    const meta = this.meta();
    if (!meta) return null;
    return {
      runId: meta.runId,
      status: meta.status,
      generation: meta.gen,
      generations: meta.config.generations,
      bestEverFitness: meta.champion?.champion.fitness ?? null,
      champion: meta.champion?.champion ?? null,
      error: meta.error,
    };
  }

  /** The champion's address; the caller reads the genome from R2. */
  champion(): ChampionAddress | null {
    return this.meta()?.champion ?? null;
  }

  /** What a fork continues from: the last finished generation, as numbers and R2 locations. */
  forkSource(): ForkSource | null {
    const meta = this.meta();
    if (!meta || meta.gen === 0) return null;
    const last = meta.gen - 1;
    const packed = this.sql
      .exec<{ packed: ArrayBuffer }>('SELECT packed FROM objectives WHERE gen = ?', last)
      .toArray()[0];
    if (!packed) return null;
    return {
      generation: meta.gen,
      slices: this.storedSlices(last),
      objectives: new Float64Array(packed.packed),
      champion: meta.champion,
      candidate: meta.candidate ?? null,
    };
  }

  /**
   * The publication of the current champion: its version (created if new) and the task that builds
   * it. The caller runs the task (off this object's thread) and calls `publicationDone`.
   */
  requestPublication(): PublicationRequest {
    const meta = this.meta();
    if (!meta) return { ok: false, reason: 'no_run' };
    if (!meta.champion) return { ok: false, reason: 'no_champion' };
    const existing = this.publicationAt(meta.gen);
    const p = existing ?? this.ensurePublication(meta.gen, meta.champion);
    return { ok: true, created: !existing, status: p.status, task: this.publishTask(meta, p) };
  }

  /** A publication task finished (or failed for good). Idempotent. */
  async publicationDone(version: number, outcome: PublicationOutcome): Promise<void> {
    const p = this.sql
      .exec<PublicationRow>('SELECT * FROM publications WHERE version = ?', version)
      .toArray()[0];
    if (!p || p.status === 'done') return;
    if (outcome.ok) {
      this.sql.exec("UPDATE publications SET status = 'done', error = NULL WHERE version = ?", version);
    } else {
      this.sql.exec(
        "UPDATE publications SET status = 'failed', error = ? WHERE version = ?",
        outcome.error,
        version,
      );
      console.error(`coordinator: publishing v${version} failed: ${outcome.error}`);
    }
    this.releaseChampionObject(JSON.parse(p.champion) as ChampionAddress);
    await this.drive();
  }

  /**
   * The model version number of the trained variant of version `from` (workers/evaluator/
   * train-task.ts), from the same sequence as publications so the two never collide, and at least
   * `atLeast` (above every version already in D1). Idempotent: the same `from` always gets the same
   * number. Recorded as a finished publication without a champion (generation −from).
   */
  reserveTrainedVersion(from: number, atLeast: number): number {
    this.sql.exec(
      `INSERT OR IGNORE INTO publications (version, generation, champion, status)
       VALUES (MAX((SELECT COALESCE(MAX(version), 0) + 1 FROM publications), ?), ?, 'null', 'done')`,
      atLeast,
      -from,
    );
    return this.sql
      .exec<{ version: number }>('SELECT version FROM publications WHERE generation = ?', -from)
      .one().version;
  }

  /**
   * Server-Sent Events: the `generation` events after `since` (replayed from the log, page by page
   * as the reader takes them), then a `status` event, then one event per finished generation and
   * per status change. The stream ends after a terminal status. Every `generation` event's data is
   * a GenerationRecord. Refused when the run already has `MAX_SUBSCRIBERS_PER_RUN` open streams.
   */
  subscribe(since?: number): Subscription {
    if (this.streams.size >= MAX_SUBSCRIBERS_PER_RUN) {
      return { ok: false, reason: 'too_many_subscribers', limit: MAX_SUBSCRIBERS_PER_RUN };
    }
    const id = ++this.lastStreamId;
    let self: StreamController | null = null;
    /** The last generation replayed; null once the stream is live (or without `since`). */
    let replayedTo: number | null = since ?? null;
    const goLive = (controller: StreamController) => {
      replayedTo = null;
      controller.enqueue(this.statusEvent());
      const meta = this.meta();
      if (!meta || isTerminal(meta.status)) {
        this.dropStream(controller);
        controller.close();
      } else {
        // Synchronously after the last page: no generation can be finished in between.
        this.subscribers.add(controller);
        this.startHeartbeat();
      }
    };
    const stream = new ReadableStream<Uint8Array>({
      start: (controller) => {
        self = controller;
        this.streams.set(controller, id);
        controller.enqueue(RETRY);
        if (replayedTo === null || !this.meta()) goLive(controller);
      },
      // Called only when the reader has taken what is queued: one page of the log per call.
      pull: (controller) => {
        if (replayedTo === null || !this.streams.has(controller)) return;
        const rows = this.sql
          .exec<{ gen: number; entry: string }>(
            'SELECT gen, entry FROM generation_log WHERE gen > ? ORDER BY gen LIMIT ?',
            replayedTo,
            REPLAY_PAGE,
          )
          .toArray();
        if (rows.length > 0) {
          controller.enqueue(encoder.encode(rows.map((r) => generationEventText(r.gen, r.entry)).join('')));
          replayedTo = rows[rows.length - 1].gen;
        }
        if (rows.length < REPLAY_PAGE) goLive(controller);
      },
      cancel: () => {
        if (self) this.dropStream(self);
      },
    });
    return { ok: true, stream, id };
  }

  /**
   * The API is done with stream `id` (its client left, or its credential ended): close it here.
   * Cancelling a stream on the caller's side does not always reach this object, so the API says so.
   */
  unsubscribe(id: number): void {
    for (const [c, streamId] of this.streams) {
      if (streamId !== id) continue;
      this.dropStream(c);
      try {
        c.close();
      } catch {
        // already closed or errored
      }
    }
  }

  /** Open event streams on this run (live or replaying); for tests and diagnostics. */
  subscriberCount(): number {
    return this.streams.size;
  }

  override async alarm(): Promise<void> {
    await this.drive();
  }

  // ------------------------------------------------------------------------------------------
  // The driver: advance the run as far as persisted state allows.

  private drive(): Promise<void> {
    return this.serial(async () => {
      try {
        await this.driveOnce();
        this.updateMeta({ driveFailures: 0 });
      } catch (e) {
        const meta = this.meta();
        const message = e instanceof Error ? e.message : String(e);
        console.error(`coordinator ${meta?.runId}: ${message}`);
        if (!meta) return;
        const failures = meta.driveFailures + 1;
        this.updateMeta({ driveFailures: failures });
        if (failures >= this.settings.sliceMaxAttempts && !isTerminal(meta.status)) {
          await this.finishNow('failed', message).catch(() => {});
        } else {
          // Transient (D1, R2 or queue unavailable): retry from the alarm.
          await this.ctx.storage.setAlarm(Date.now() + Math.min(this.settings.sliceTimeoutMs, 5_000));
        }
      }
    });
  }

  private async driveOnce(): Promise<void> {
    for (;;) {
      const meta = this.meta();
      if (!meta) return;
      if (meta.status !== 'running') {
        await this.flushOutbox();
        await this.syncStatus();
        return;
      }
      const gen = meta.gen;
      if (gen >= meta.config.generations) {
        await this.flushOutbox();
        // Published before the run reads as completed, so a finished run always has its model.
        const waiting = meta.champion ? this.ensurePublication(gen, meta.champion) : null;
        if (waiting?.status === 'pending') {
          await this.sendDue(meta);
          return;
        }
        await this.finishNow('completed', null);
        return;
      }
      const every = meta.config.publishEvery ?? 0;
      if (every > 0 && gen > 0 && gen % every === 0 && meta.champion)
        this.ensurePublication(gen, meta.champion);
      if (meta.syncedStatus !== 'running') await this.syncStatus();
      if (this.pendingWork(gen) === 0) {
        this.completeCurrentGeneration();
        continue;
      }
      await this.sendDue(meta);
      // D1 rows of finished generations and R2 garbage: written while the evaluators work, so
      // they are not on the path from one generation to the next.
      await this.flushOutbox();
      return;
    }
  }

  /**
   * Plan generation `gen` (parents from gen − 1's objectives) and create its slice rows, and its
   * champion re-check (of the champion and candidate in the meta row, already those after gen − 1).
   */
  private preparePlan(gen: number, config: RunConfig): void {
    let previous = null;
    if (gen > 0) {
      const row = this.sql
        .exec<{ packed: ArrayBuffer }>('SELECT packed FROM objectives WHERE gen = ?', gen - 1)
        .toArray()[0];
      if (!row) throw new Error(`generation ${gen - 1}'s objectives are missing`);
      previous = unpackObjectives(new Float64Array(row.packed));
    }
    const plan = planGeneration(config, gen, previous);
    this.sql.exec(
      'INSERT OR REPLACE INTO plan (gen, elites, parents) VALUES (?, ?, ?)',
      gen,
      plan.elites,
      plan.parents.buffer,
    );
    for (let start = 0; start < config.population; start += config.sliceSize) {
      const end = Math.min(config.population, start + config.sliceSize);
      this.sql.exec(
        'INSERT OR IGNORE INTO slices (gen, slice_start, slice_end) VALUES (?, ?, ?)',
        gen,
        start,
        end,
      );
    }
    const meta = this.meta()!;
    const champion = meta.champion;
    const candidate = meta.candidate ?? null;
    const spec = recheckSpec(config, gen, champion?.champion ?? null, candidate?.champion ?? null);
    if (spec && champion) {
      const task: RecheckTask = {
        kind: 'recheck',
        runId: meta.runId,
        gen,
        shards: spec.shards,
        weights: config.weights,
        champion: { generation: champion.champion.generation, location: champion.location },
        candidate: candidate
          ? { generation: candidate.champion.generation, location: candidate.location }
          : null,
      };
      this.sql.exec('INSERT OR IGNORE INTO rechecks (gen, task) VALUES (?, ?)', gen, JSON.stringify(task));
    }
  }

  /** Send never-sent slices and publications, re-send timed-out ones; fail after bounded attempts. */
  private async sendDue(meta: RunMeta): Promise<void> {
    const now = Date.now();
    const { sliceTimeoutMs, sliceMaxAttempts } = this.settings;
    const gen = meta.gen;
    const due = this.sql
      .exec<SliceRow>(
        `SELECT gen, slice_start, slice_end, attempts, sent_at, done FROM slices
         WHERE gen = ? AND done = 0 AND (sent_at IS NULL OR sent_at + ? <= ?) ORDER BY slice_start`,
        gen,
        sliceTimeoutMs,
        now,
      )
      .toArray();
    const exhausted = due.find((s) => s.attempts >= sliceMaxAttempts);
    if (exhausted) {
      await this.finishNow(
        'failed',
        `generation ${gen}: slice [${exhausted.slice_start}, ${exhausted.slice_end}) got no result after ${exhausted.attempts} attempts`,
      );
      return;
    }
    const recheck = this.sql
      .exec<RecheckRow>(
        'SELECT * FROM rechecks WHERE gen = ? AND done = 0 AND (sent_at IS NULL OR sent_at + ? <= ?)',
        gen,
        sliceTimeoutMs,
        now,
      )
      .toArray()[0];
    if (recheck && recheck.attempts >= sliceMaxAttempts) {
      await this.finishNow(
        'failed',
        `generation ${gen}: the champion re-check got no result after ${recheck.attempts} attempts`,
      );
      return;
    }
    if (due.length > 0 && due.every((s) => s.sent_at === null)) this.updateMeta({ genStartedAt: now });
    // The re-check first: it is one unit as long as a few slices, so the slices fill around it.
    const tasks: QueueTask[] = recheck ? [JSON.parse(recheck.task) as RecheckTask] : [];
    if (due.length) tasks.push(...this.sliceTasks(meta, due));

    const publishTimeout = sliceTimeoutMs * PUBLISH_TIMEOUT_FACTOR;
    const publications = this.sql
      .exec<PublicationRow>(
        `SELECT * FROM publications WHERE status = 'pending' AND (sent_at IS NULL OR sent_at + ? <= ?)`,
        publishTimeout,
        now,
      )
      .toArray();
    for (const p of publications) {
      if (p.attempts >= PUBLISH_MAX_ATTEMPTS) {
        this.sql.exec(
          "UPDATE publications SET status = 'failed', error = ? WHERE version = ?",
          `no answer after ${p.attempts} attempts`,
          p.version,
        );
        this.releaseChampionObject(JSON.parse(p.champion) as ChampionAddress);
        continue;
      }
      tasks.push(this.publishTask(meta, p));
    }

    for (const part of sendBatches(tasks)) {
      await this.env.EVAL_QUEUE.sendBatch(part.map((body) => ({ body, contentType: 'json' as const })));
      const sentAt = Date.now();
      this.ctx.storage.transactionSync(() => {
        for (const t of part) {
          if (t.kind === 'slice') {
            this.sql.exec(
              'UPDATE slices SET attempts = attempts + 1, sent_at = ? WHERE gen = ? AND slice_start = ?',
              sentAt,
              t.gen,
              t.sliceStart,
            );
          } else if (t.kind === 'recheck') {
            this.sql.exec(
              'UPDATE rechecks SET attempts = attempts + 1, sent_at = ? WHERE gen = ?',
              sentAt,
              t.gen,
            );
          } else {
            this.sql.exec(
              'UPDATE publications SET attempts = attempts + 1, sent_at = ? WHERE version = ?',
              sentAt,
              t.version,
            );
          }
        }
      });
    }
    const nextSlice = this.sql
      .exec<{ t: number | null }>(
        `SELECT MIN(t) AS t FROM (SELECT MIN(sent_at) AS t FROM slices WHERE gen = ? AND done = 0
         UNION ALL SELECT MIN(sent_at) AS t FROM rechecks WHERE gen = ? AND done = 0)`,
        gen,
        gen,
      )
      .one().t;
    const nextPublication = this.sql
      .exec<{ t: number | null }>("SELECT MIN(sent_at) AS t FROM publications WHERE status = 'pending'")
      .one().t;
    const wake = Math.min(
      nextSlice === null ? Number.POSITIVE_INFINITY : nextSlice + sliceTimeoutMs,
      nextPublication === null ? Number.POSITIVE_INFINITY : nextPublication + publishTimeout,
    );
    if (Number.isFinite(wake)) await this.ctx.storage.setAlarm(wake);
  }

  /** The queue messages for `due` slices: parent indices and where each distinct parent lies. */
  private sliceTasks(meta: RunMeta, due: SliceRow[]): SliceTask[] {
    const gen = meta.gen;
    const plan = this.sql
      .exec<{ elites: number; parents: ArrayBuffer }>('SELECT elites, parents FROM plan WHERE gen = ?', gen)
      .toArray()[0];
    if (!plan) throw new Error(`generation ${gen} has no plan`);
    const parents = new Int32Array(plan.parents);
    const previous = gen > 0 ? this.storedSlices(gen - 1) : [];
    const shard = generationShard(meta.config, gen);
    const breeding = breedingParams(meta.config);
    return due.map((s) => {
      const own = gen > 0 ? Array.from(parents.subarray(s.slice_start, s.slice_end)) : [];
      const distinct = [...new Set(own)].sort((a, b) => a - b);
      return {
        kind: 'slice',
        runId: meta.runId,
        gen,
        sliceStart: s.slice_start,
        sliceEnd: s.slice_end,
        shard,
        weights: meta.config.weights,
        breeding,
        elites: plan.elites,
        parents: own,
        sources: distinct.map((index) => locate(previous, index)),
      };
    });
  }

  /** All slices are in: the record and champion, the next generation's plan, garbage. */
  private completeCurrentGeneration(): void {
    const meta = this.meta()!;
    const gen = meta.gen;
    const config = meta.config;
    const rows = this.sql
      .exec<{ slice_start: number; slice_end: number; report: ArrayBuffer | null }>(
        'SELECT slice_start, slice_end, report FROM slices WHERE gen = ? ORDER BY slice_start',
        gen,
      )
      .toArray();
    const w = config.weights.length;
    const reports = rows.map((r) => {
      if (!r.report) throw new Error(`generation ${gen}: the report of slice ${r.slice_start} is missing`);
      return unpackReport(gen, r.slice_start, r.slice_end, w, new Float64Array(r.report));
    });
    const previousChampion = meta.champion ? championWithDefaults(meta.champion.champion) : null;
    const previousCandidate = meta.candidate ?? null;
    const done = completeGeneration(
      gen,
      config,
      config.population,
      reports,
      previousChampion,
      Date.now() - meta.genStartedAt,
      { candidate: previousCandidate?.champion ?? null, report: this.storedRecheck(gen) },
    );
    const stored = this.storedSlices(gen);
    /** Where a champion or candidate lies: in this generation's slices, or where it lay before. */
    const addressOf = (c: ChampionRecord | null): ChampionAddress | null => {
      if (!c) return null;
      if (c.generation === gen) return { champion: c, location: locate(stored, c.index) };
      const before = [meta.champion, previousCandidate].find(
        (a) => a && a.champion.generation === c.generation && a.location.index === c.index,
      );
      if (!before) throw new Error(`generation ${c.generation} member ${c.index} has no known location`);
      return { champion: c, location: before.location };
    };
    const champion = addressOf(done.champion);
    const candidate = addressOf(done.candidate);
    const keep = [champion, candidate];
    this.ctx.storage.transactionSync(() => {
      this.sql.exec(
        'INSERT OR REPLACE INTO generation_log (gen, entry, synced) VALUES (?, ?, 0)',
        gen,
        JSON.stringify(done.record),
      );
      this.sql.exec(
        'INSERT OR REPLACE INTO objectives (gen, packed) VALUES (?, ?)',
        gen,
        packObjectives(done.objectives).buffer,
      );
      this.sql.exec('DELETE FROM objectives WHERE gen < ?', gen);
      // The reports are folded into the record and objectives; offsets stay for the next parents.
      this.sql.exec('UPDATE slices SET report = NULL WHERE gen = ?', gen);
      // Generation gen − 1's members are no longer anyone's parents.
      for (const s of this.storedSlices(gen - 1)) this.discard(gen - 1, s.start, keep);
      this.sql.exec('DELETE FROM slices WHERE gen < ?', gen);
      this.sql.exec('DELETE FROM plan WHERE gen <= ?', gen);
      this.sql.exec('DELETE FROM rechecks WHERE gen <= ?', gen);
      // A replaced champion, or a candidate replaced or decided, from before gen − 1.
      for (const old of [meta.champion, previousCandidate]) {
        if (old && old.champion.generation < gen - 1)
          this.discard(old.champion.generation, old.location.slice, keep);
      }
      this.updateMeta({ gen: gen + 1, champion, candidate });
      if (gen + 1 < config.generations) this.preparePlan(gen + 1, config);
    });
    this.broadcast(generationEvent(gen, JSON.stringify(done.record)));
  }

  /**
   * Queue slice object (gen, slice) for deletion unless one of `keep` (the champion, the candidate)
   * or a pending publication needs it.
   */
  private discard(gen: number, slice: number, keep: readonly (ChampionAddress | null | undefined)[]): void {
    if (keep.some((k) => k && k.champion.generation === gen && k.location.slice === slice)) return;
    const pinned = this.sql
      .exec<{ champion: string }>("SELECT champion FROM publications WHERE status = 'pending'")
      .toArray()
      .some((p) => {
        const c = JSON.parse(p.champion) as ChampionAddress;
        return c.champion.generation === gen && c.location.slice === slice;
      });
    if (!pinned) {
      this.sql.exec(
        'INSERT OR IGNORE INTO garbage (key) VALUES (?)',
        populationSliceKey(this.meta()!.runId, gen, slice),
      );
    }
  }

  /** A finished publication no longer pins its champion's object: drop it if nothing else needs it. */
  private releaseChampionObject(c: ChampionAddress): void {
    const meta = this.meta();
    if (!meta) return;
    // The last finished generation's objects are the next parents (and what a fork copies).
    if (c.champion.generation >= meta.gen - 1) return;
    this.discard(c.champion.generation, c.location.slice, [meta.champion, meta.candidate]);
  }

  /** Write finished generations to D1 (one batch each: record row + run row), then delete garbage. */
  private async flushOutbox(): Promise<void> {
    const meta = this.meta();
    if (!meta) return;
    const pending = this.sql
      .exec<{ gen: number; entry: string }>(
        'SELECT gen, entry FROM generation_log WHERE synced = 0 ORDER BY gen',
      )
      .toArray();
    const db = drizzle(this.env.DB);
    for (const { gen, entry } of pending) {
      const record = JSON.parse(entry) as GenerationRecord;
      const now = Date.now();
      await db.batch([
        db
          .insert(generations)
          .values(toGenerationRow(meta.runId, record, now))
          .onConflictDoNothing(),
        db.update(runs).set(toRunProgress(record, now)).where(eq(runs.id, meta.runId)),
      ]);
      this.sql.exec('UPDATE generation_log SET synced = 1 WHERE gen = ?', gen);
    }
    await this.deleteGarbage();
  }

  /** Delete a batch of the objects listed as garbage from R2 (and from the list). */
  private async deleteGarbage(): Promise<void> {
    const keys = this.sql
      .exec<{ key: string }>('SELECT key FROM garbage LIMIT ?', DELETE_BATCH)
      .toArray()
      .map((r) => r.key);
    if (keys.length) {
      // Late duplicates of a finished generation find no parents and are dropped by the evaluator.
      await this.env.BLOBS.delete(keys);
      for (const key of keys) this.sql.exec('DELETE FROM garbage WHERE key = ?', key);
    }
  }

  /** Bring the D1 run row's status (and error, timings) in line with the object's. */
  private async syncStatus(): Promise<void> {
    const meta = this.meta();
    if (!meta || meta.syncedStatus === meta.status) return;
    const now = Date.now();
    await drizzle(this.env.DB)
      .update(runs)
      .set({
        status: meta.status,
        error: meta.error,
        startedAt: meta.startedAt,
        finishedAt: meta.finishedAt,
        updatedAt: now,
      })
      .where(eq(runs.id, meta.runId));
    this.updateMeta({ syncedStatus: meta.status });
  }

  private finish(status: RunStatus, error: string | null): Promise<void> {
    return this.serial(() => this.finishNow(status, error));
  }

  /**
   * Enter a terminal status: persist, tell subscribers, end their streams, sync D1. The last
   * finished generation's objects stay in R2 (a fork continues from them), and so does the
   * champion's.
   */
  private async finishNow(status: RunStatus, error: string | null): Promise<void> {
    const meta = this.meta();
    if (!meta || isTerminal(meta.status)) return;
    this.ctx.storage.transactionSync(() => {
      this.updateMeta({ status, error, finishedAt: Date.now() });
      for (const s of this.sql
        .exec<SliceRow>('SELECT * FROM slices WHERE gen = ? AND done = 1', meta.gen)
        .toArray()) {
        this.discard(meta.gen, s.slice_start, [meta.champion, meta.candidate]);
      }
      this.sql.exec('DELETE FROM slices WHERE gen = ?', meta.gen);
      this.sql.exec('DELETE FROM plan');
      this.sql.exec('DELETE FROM rechecks');
    });
    this.broadcastStatus();
    this.endLiveStreams();
    await this.ctx.storage.deleteAlarm();
    try {
      await this.flushOutbox();
      await this.syncStatus();
    } catch (e) {
      // D1/R2 briefly unavailable: the alarm finishes the sync.
      console.error(`coordinator ${meta.runId}: sync after ${status} failed: ${String(e)}`);
      await this.ctx.storage.setAlarm(Date.now() + 5_000);
    }
  }

  // ------------------------------------------------------------------------------------------
  // Publications (the work is a queued task: workers/models/publish.ts run by an evaluator)

  /** The publication of the champion after `gen` generations: the existing one, or a new version. */
  private ensurePublication(gen: number, champion: ChampionAddress): PublicationRow {
    const existing = this.publicationAt(gen);
    if (existing) return existing;
    this.sql.exec(
      `INSERT INTO publications (version, generation, champion, status)
       VALUES ((SELECT COALESCE(MAX(version), 0) + 1 FROM publications), ?, ?, 'pending')`,
      gen,
      JSON.stringify(champion),
    );
    return this.publicationAt(gen)!;
  }

  private publicationAt(gen: number): PublicationRow | undefined {
    return this.sql.exec<PublicationRow>('SELECT * FROM publications WHERE generation = ?', gen).toArray()[0];
  }

  private publishTask(meta: RunMeta, p: PublicationRow): PublishTask {
    const c = JSON.parse(p.champion) as ChampionAddress;
    return {
      kind: 'publish',
      runId: meta.runId,
      version: p.version,
      generation: p.generation,
      champion: { generation: c.champion.generation, location: c.location },
      weights: meta.config.weights,
      trainShards: meta.config.trainShards,
    };
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.tail.then(fn, fn);
    this.tail = run.catch(() => {});
    return run;
  }

  // ------------------------------------------------------------------------------------------
  // Live subscribers

  private statusEvent(): Uint8Array {
    const snapshot = this.snapshot();
    return encoder.encode(`event: status\ndata: ${JSON.stringify(snapshot)}\n\n`);
  }

  /** A comment line now and then keeps idle proxies from closing streams between generations. */
  private startHeartbeat(): void {
    if (this.heartbeat) return;
    this.heartbeat = setInterval(() => {
      if (this.subscribers.size === 0 && this.heartbeat) {
        clearInterval(this.heartbeat);
        this.heartbeat = null;
      } else {
        this.broadcast(HEARTBEAT);
      }
    }, 25_000);
  }

  private broadcastStatus(): void {
    this.broadcast(this.statusEvent());
  }

  private broadcast(bytes: Uint8Array): void {
    for (const c of this.subscribers) {
      if ((c.desiredSize ?? 0) <= -MAX_QUEUED_EVENTS) {
        // Its reader has stopped taking events: end it rather than queue without bound.
        this.dropStream(c);
        try {
          c.enqueue(READER_BEHIND);
          c.close();
        } catch {
          // already closed or errored
        }
        continue;
      }
      try {
        c.enqueue(bytes);
      } catch {
        this.dropStream(c);
      }
    }
  }

  /** End every live stream (a terminal status). Streams still replaying end when they catch up. */
  private endLiveStreams(): void {
    for (const c of this.subscribers) {
      this.dropStream(c);
      try {
        c.close();
      } catch {
        // the reader is already gone
      }
    }
  }

  private dropStream(c: StreamController): void {
    this.streams.delete(c);
    this.subscribers.delete(c);
  }

  // ------------------------------------------------------------------------------------------
  // Storage helpers

  private meta(): RunMeta | null {
    if (!this.metaCache) {
      const row = this.sql.exec<{ value: string }>("SELECT value FROM meta WHERE key = 'run'").toArray()[0];
      this.metaCache = row ? (JSON.parse(row.value) as RunMeta) : null;
    }
    return this.metaCache;
  }

  private putMeta(meta: RunMeta): void {
    this.sql.exec("INSERT OR REPLACE INTO meta (key, value) VALUES ('run', ?)", JSON.stringify(meta));
    this.metaCache = meta;
  }

  private updateMeta(patch: Partial<RunMeta>): void {
    const meta = this.meta();
    if (meta) this.putMeta({ ...meta, ...patch });
  }

  /** Finished slices of `gen` with where their members lie. */
  private storedSlices(gen: number): StoredSlice[] {
    return this.sql
      .exec<{ slice_start: number; slice_end: number; offsets: ArrayBuffer | null }>(
        'SELECT slice_start, slice_end, offsets FROM slices WHERE gen = ? AND done = 1 ORDER BY slice_start',
        gen,
      )
      .toArray()
      .map((r) => {
        if (!r.offsets) throw new Error(`generation ${gen}: slice ${r.slice_start} has no offsets`);
        return { start: r.slice_start, end: r.slice_end, offsets: Array.from(new Uint32Array(r.offsets)) };
      });
  }

  private sliceRow(gen: number, sliceStart: number): SliceRow | undefined {
    return this.sql
      .exec<SliceRow>(
        'SELECT gen, slice_start, slice_end, attempts, sent_at, done FROM slices WHERE gen = ? AND slice_start = ?',
        gen,
        sliceStart,
      )
      .toArray()[0];
  }

  /** Slices and re-check of generation `gen` not reported yet: the generation completes at 0. */
  private pendingWork(gen: number): number {
    return this.sql
      .exec<{ n: number }>(
        `SELECT (SELECT COUNT(*) FROM slices WHERE gen = ? AND done = 0)
              + (SELECT COUNT(*) FROM rechecks WHERE gen = ? AND done = 0) AS n`,
        gen,
        gen,
      )
      .one().n;
  }

  private recheckRow(gen: number): RecheckRow | undefined {
    return this.sql.exec<RecheckRow>('SELECT * FROM rechecks WHERE gen = ?', gen).toArray()[0];
  }

  /** Generation `gen`'s re-check result as `completeGeneration` takes it (null if it has none). */
  private storedRecheck(gen: number): RecheckReport | null {
    const row = this.recheckRow(gen);
    if (!row) return null;
    if (!row.done || !row.champion_fitness || !row.candidate_fitness || row.test_accuracy === null)
      throw new Error(`generation ${gen}: the re-check's result is missing`);
    const spec = specOf(JSON.parse(row.task) as RecheckTask);
    return {
      ...spec,
      championFitness: Array.from(new Float64Array(row.champion_fitness)),
      candidateFitness: Array.from(new Float64Array(row.candidate_fitness)),
      testAccuracy: row.test_accuracy,
    };
  }
}

/** The algorithm's view of a re-check task: numbers and addresses. */
function specOf(task: RecheckTask) {
  return {
    gen: task.gen,
    shards: task.shards,
    champion: { generation: task.champion.generation, index: task.champion.location.index },
    candidate: task.candidate
      ? { generation: task.candidate.generation, index: task.candidate.location.index }
      : null,
  };
}

/** Where member `index` lies among a generation's stored slices (sorted by start). */
function locate(slices: readonly StoredSlice[], index: number): GenomeLocation {
  let lo = 0;
  let hi = slices.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const s = slices[mid];
    if (index < s.start) hi = mid - 1;
    else if (index >= s.end) lo = mid + 1;
    else {
      const i = index - s.start;
      return { index, slice: s.start, offset: s.offsets[i], length: s.offsets[i + 1] - s.offsets[i] };
    }
  }
  throw new Error(`member ${index} is in no stored slice`);
}

/** A slice report as stored: [fitness (n·w), accuracy (n·w), connections (n), nodes (n)]. */
function packReport(r: SliceReport): Float64Array {
  const n = r.sliceEnd - r.sliceStart;
  const w = r.weights;
  const out = new Float64Array(2 * n * w + 2 * n);
  out.set(r.fitness, 0);
  out.set(r.accuracy, n * w);
  out.set(r.connections, 2 * n * w);
  out.set(r.nodes, 2 * n * w + n);
  return out;
}

function unpackReport(
  gen: number,
  sliceStart: number,
  sliceEnd: number,
  w: number,
  p: Float64Array,
): SliceReport {
  const n = sliceEnd - sliceStart;
  return {
    gen,
    sliceStart,
    sliceEnd,
    weights: w,
    fitness: Array.from(p.subarray(0, n * w)),
    accuracy: Array.from(p.subarray(n * w, 2 * n * w)),
    connections: Array.from(p.subarray(2 * n * w, 2 * n * w + n)),
    nodes: Array.from(p.subarray(2 * n * w + n, 2 * n * w + 2 * n)),
    offsets: [],
  };
}

/** Split tasks into sendBatch calls within the queue's count and size limits. */
function sendBatches(tasks: QueueTask[]): QueueTask[][] {
  const out: QueueTask[][] = [];
  let part: QueueTask[] = [];
  let bytes = 0;
  for (const t of tasks) {
    const size = JSON.stringify(t).length + 64;
    if (part.length && (part.length >= SEND_BATCH || bytes + size > SEND_BATCH_BYTES)) {
      out.push(part);
      part = [];
      bytes = 0;
    }
    part.push(t);
    bytes += size;
  }
  if (part.length) out.push(part);
  return out;
}

function generationEventText(gen: number, record: string): string {
  return `event: generation\nid: ${gen}\ndata: ${record}\n\n`;
}

function generationEvent(gen: number, record: string): Uint8Array {
  return encoder.encode(generationEventText(gen, record));
}
