/**
 * SearchCoordinator: one Durable Object per run. It owns the run's strategy state, cuts each
 * generation into slices for the evaluation queue, collects one result per slice, and calls the
 * pure `tell` when a generation is complete. It does no evaluation itself.
 *
 * Storage (SQLite-backed object, synchronous `ctx.storage.sql`):
 * - `meta`: one small JSON row (status, config, timings).
 * - `chunks`: large text values split into ≤ 500,000-character parts, because a stored value or
 *   row is limited to 2 MB and a grown population (inside the strategy state) is larger. The
 *   strategy state lives under `state`, slice results under `result:{gen}:{sliceStart}`.
 * - `slices`: the current generation's slices, with send attempts and whether a result is in.
 * - `generation_log`: metrics of every finished generation; it is the outbox for D1 (rows are
 *   marked synced once written) and the replay source for SSE subscribers.
 * R2 holds only what evaluators read: the population blob of the generation being evaluated.
 *
 * Every step is idempotent and driven from persisted state (`drive`), so the alarm can finish
 * whatever a crash or restart interrupted: re-send slices, re-run `tell`, re-sync D1.
 */
import { DurableObject } from 'cloudflare:workers';
import { eq } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/d1';
import { generations, type RunStatus, runs } from '../../schema/schema';
import { stream } from '../../src/random';
import { base64ToBytes, type GenomeJson, genomeToJson, populationFromBase64 } from '../../src/wann/genome';
import {
  championGenome,
  type GenerationMetrics,
  init,
  type StrategyState,
  tell,
} from '../../src/wann/strategy';
import type { GenomeResult } from '../../src/wann/types';
import type { Env } from '../api/env';
import { populationKey, type ReportOutcome, type SliceTask } from '../shared/contracts';
import { publishModel } from './publish';
import { type CoordinatorSettings, readSettings } from './settings';
import {
  type CancelOutcome,
  type ChampionSummary,
  isTerminal,
  type PublishOutcome,
  type RunConfig,
  type RunSnapshot,
} from './types';

interface RunMeta {
  runId: string;
  status: RunStatus;
  config: RunConfig;
  error: string | null;
  startedAt: number;
  finishedAt: number | null;
  /** When the current generation's slices were first sent (duration of a generation). */
  genStartedAt: number;
  /** Generation whose population blob is known to be in R2. */
  blobGen: number;
  /** Last status written to D1; differs from `status` while that write is pending. */
  syncedStatus: RunStatus | null;
  /** Consecutive failed `drive` attempts (D1/R2/queue errors); bounded like slice retries. */
  driveFailures: number;
}

interface LogEntry {
  metrics: GenerationMetrics;
  champion: ChampionSummary | null;
  durationMs: number;
}

interface SliceRow extends Record<string, SqlStorageValue> {
  slice_start: number;
  slice_end: number;
  attempts: number;
  sent_at: number | null;
  done: number;
}

interface PublicationRow extends Record<string, SqlStorageValue> {
  version: number;
  generation: number;
  genome: string;
  status: 'pending' | 'done' | 'failed';
  attempts: number;
}

const CHUNK_CHARS = 500_000;
/** Automatic publications retried this often (then recorded as failed; the run goes on). */
const PUBLISH_MAX_ATTEMPTS = 3;
const SEND_BATCH = 100; // Queue.sendBatch accepts at most 100 messages
const encoder = new TextEncoder();
const HEARTBEAT = encoder.encode(': keep-alive\n\n');

export class SearchCoordinator extends DurableObject<Env> {
  private readonly sql: SqlStorage;
  private readonly settings: CoordinatorSettings;
  /** In-memory caches of persisted values; storage stays the source of truth. */
  private metaCache: RunMeta | null = null;
  private stateCache: StrategyState | null = null;
  /** Serialises `drive` and `finish`: only one may await I/O at a time. */
  private tail: Promise<unknown> = Promise.resolve();
  private readonly subscribers = new Set<ReadableStreamDefaultController<Uint8Array>>();
  private heartbeat: ReturnType<typeof setInterval> | null = null;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.settings = readSettings(env);
    this.sql.exec(`
      CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS chunks (name TEXT NOT NULL, part INTEGER NOT NULL, data TEXT NOT NULL,
        PRIMARY KEY (name, part));
      CREATE TABLE IF NOT EXISTS slices (gen INTEGER NOT NULL, slice_start INTEGER NOT NULL,
        slice_end INTEGER NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, sent_at INTEGER,
        done INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (gen, slice_start));
      CREATE TABLE IF NOT EXISTS generation_log (gen INTEGER PRIMARY KEY, entry TEXT NOT NULL,
        synced INTEGER NOT NULL DEFAULT 0);
      CREATE TABLE IF NOT EXISTS publications (version INTEGER PRIMARY KEY, generation INTEGER NOT NULL
        UNIQUE, genome TEXT NOT NULL, status TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
        error TEXT);
    `);
  }

  // ------------------------------------------------------------------------------------------
  // RPC

  /**
   * Start the run (idempotent: a second call returns the current snapshot). `from` continues an
   * existing strategy state (a fork); otherwise the strategy initialises from the config.
   */
  async start(runId: string, config: RunConfig, from?: StrategyState): Promise<RunSnapshot> {
    if (!this.meta()) {
      const now = Date.now();
      const state = from ?? init(config);
      const meta: RunMeta = {
        runId,
        status: 'running',
        config,
        error: null,
        startedAt: now,
        finishedAt: null,
        genStartedAt: now,
        blobGen: -1,
        syncedStatus: null,
        driveFailures: 0,
      };
      this.ctx.storage.transactionSync(() => {
        this.putState(state);
        this.putMeta(meta);
      });
      this.broadcastStatus();
      await this.drive();
    }
    return this.snapshot()!;
  }

  /** A slice's results from an evaluator. Duplicates and other generations change nothing. */
  async report(gen: number, sliceStart: number, results: GenomeResult[]): Promise<ReportOutcome> {
    const meta = this.meta();
    if (meta?.status !== 'running') return 'stale';
    if (gen !== this.state().generation) return 'stale';
    const row = this.sliceRow(gen, sliceStart);
    if (!row) return 'rejected';
    if (row.done) return 'duplicate';
    if (!Array.isArray(results) || results.length !== row.slice_end - row.slice_start) return 'rejected';
    this.ctx.storage.transactionSync(() => {
      this.putText(`result:${gen}:${sliceStart}`, JSON.stringify(results, keepNonFinite));
      this.sql.exec('UPDATE slices SET done = 1 WHERE gen = ? AND slice_start = ?', gen, sliceStart);
    });
    if (this.pendingSlices(gen) === 0) await this.drive();
    return 'accepted';
  }

  /** An evaluator hit a permanent problem (e.g. a shard missing from R2): fail with its message. */
  async reportError(gen: number, message: string): Promise<ReportOutcome> {
    const meta = this.meta();
    if (meta?.status !== 'running' || gen !== this.state().generation) return 'stale';
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
    const state = this.state();
    return {
      runId: meta.runId,
      status: meta.status,
      generation: state.generation,
      generations: meta.config.generations,
      bestEverFitness: state.champion ? state.bestEverFitness : null,
      champion: championSummary(state),
      error: meta.error,
    };
  }

  /** The latest strategy state (after the last finished generation): what a fork continues. */
  strategyState(): StrategyState | null {
    return this.meta() ? this.state() : null;
  }

  champion(): GenomeJson | null {
    if (!this.meta()) return null;
    const genome = championGenome(this.state());
    return genome ? genomeToJson(genome) : null;
  }

  /**
   * Publish the current champion (test-set report, ONNX, R2 blobs, D1 `models` row). Idempotent:
   * the champion of a given generation gets one version, so a repeated call returns it
   * (`created: false`). Errors (e.g. test shards missing from R2) propagate to the caller.
   */
  async publish(): Promise<PublishOutcome> {
    return this.serial(async () => {
      const meta = this.meta();
      if (!meta) return { ok: false, reason: 'no_run' } as const;
      const state = this.state();
      if (!state.champion) return { ok: false, reason: 'no_champion' } as const;
      const publication = this.ensurePublication(state.generation, state.champion.genome);
      const created = publication.status !== 'done';
      const model = await this.processPublication(meta, publication);
      return { ok: true, created, model } as const;
    });
  }

  /**
   * Server-Sent Events: a `status` event now, the `generation` events after `since` (replayed from
   * the log), then one per finished generation and one per status change. The stream ends after a
   * terminal status.
   */
  subscribe(since?: number): ReadableStream<Uint8Array> {
    let self: ReadableStreamDefaultController<Uint8Array> | null = null;
    return new ReadableStream<Uint8Array>({
      start: (controller) => {
        self = controller;
        controller.enqueue(encoder.encode('retry: 3000\n\n'));
        const meta = this.meta();
        if (since !== undefined && meta) {
          const rows = this.sql
            .exec<{ gen: number; entry: string }>(
              'SELECT gen, entry FROM generation_log WHERE gen > ? ORDER BY gen',
              since,
            )
            .toArray();
          for (const row of rows) controller.enqueue(generationEvent(row.gen, JSON.parse(row.entry)));
        }
        controller.enqueue(this.statusEvent());
        if (!meta || isTerminal(meta.status)) controller.close();
        else {
          this.subscribers.add(controller);
          this.startHeartbeat();
        }
      },
      cancel: () => {
        if (self) this.subscribers.delete(self);
      },
    });
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
        await this.flushLog();
        await this.syncStatus();
        return;
      }
      const state = this.state();
      const gen = state.generation;
      if (gen >= meta.config.generations) {
        await this.flushLog();
        // Published before the run reads as completed, so a finished run always has its model.
        await this.autoPublish(meta, state);
        await this.finishNow('completed', null);
        return;
      }
      const every = meta.config.publishEvery ?? 0;
      if (every > 0 && gen > 0 && gen % every === 0) await this.autoPublish(meta, state);
      if (meta.syncedStatus !== 'running') await this.syncStatus();
      this.ensureSlices(gen, meta.config);
      if (meta.blobGen !== gen) {
        // Evaluators read the population from R2; write it before any message names it.
        // The state keeps the population in the same codec (base64): no decoding and re-encoding.
        await this.env.BLOBS.put(populationKey(meta.runId, gen), base64ToBytes(state.population));
        this.updateMeta({ blobGen: gen });
      }
      if (this.pendingSlices(gen) === 0) {
        this.completeGeneration();
        continue;
      }
      await this.sendDueSlices(meta, gen);
      // D1 rows of finished generations (and old blobs): written while the evaluators work, so
      // they are not on the path from one generation to the next.
      await this.flushLog();
      return;
    }
  }

  /** Rows for every slice of `gen` (once per generation; survives restarts). */
  private ensureSlices(gen: number, config: RunConfig): void {
    const exists = this.sql.exec('SELECT 1 FROM slices WHERE gen = ? LIMIT 1', gen).toArray().length > 0;
    if (exists) return;
    this.ctx.storage.transactionSync(() => {
      for (let start = 0; start < config.population; start += config.sliceSize) {
        const end = Math.min(config.population, start + config.sliceSize);
        this.sql.exec('INSERT INTO slices (gen, slice_start, slice_end) VALUES (?, ?, ?)', gen, start, end);
      }
      this.updateMeta({ genStartedAt: Date.now() });
    });
  }

  /** Send never-sent slices and re-send timed-out ones; fail after the bounded attempts. */
  private async sendDueSlices(meta: RunMeta, gen: number): Promise<void> {
    const now = Date.now();
    const { sliceTimeoutMs, sliceMaxAttempts, trainShards } = this.settings;
    const due = this.sql
      .exec<SliceRow>(
        `SELECT slice_start, slice_end, attempts, sent_at, done FROM slices
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
    // The generation's evaluation batch: one training shard drawn from the run's seeded stream.
    const shard = stream(meta.config.seed, gen, 'shard').int(trainShards);
    const tasks: SliceTask[] = due.map((s) => ({
      runId: meta.runId,
      gen,
      sliceStart: s.slice_start,
      sliceEnd: s.slice_end,
      shard,
      weights: meta.config.weights,
    }));
    for (let i = 0; i < tasks.length; i += SEND_BATCH) {
      const part = tasks.slice(i, i + SEND_BATCH);
      await this.env.EVAL_QUEUE.sendBatch(part.map((body) => ({ body, contentType: 'json' as const })));
      const sentAt = Date.now();
      this.ctx.storage.transactionSync(() => {
        for (const t of part) {
          this.sql.exec(
            'UPDATE slices SET attempts = attempts + 1, sent_at = ? WHERE gen = ? AND slice_start = ?',
            sentAt,
            gen,
            t.sliceStart,
          );
        }
      });
    }
    const next = this.sql
      .exec<{ t: number | null }>('SELECT MIN(sent_at) AS t FROM slices WHERE gen = ? AND done = 0', gen)
      .one().t;
    if (next !== null) await this.ctx.storage.setAlarm(next + sliceTimeoutMs);
  }

  /** All slices are in: rank and breed (pure), then persist the next state and the log entry. */
  private completeGeneration(): void {
    const meta = this.meta()!;
    const state = this.state();
    const gen = state.generation;
    const rows = this.sql
      .exec<SliceRow>(
        'SELECT slice_start, slice_end, attempts, sent_at, done FROM slices WHERE gen = ? ORDER BY slice_start',
        gen,
      )
      .toArray();
    const results: GenomeResult[] = [];
    for (const row of rows) {
      const text = this.getText(`result:${gen}:${row.slice_start}`);
      if (text === null) throw new Error(`generation ${gen}: result of slice ${row.slice_start} is missing`);
      for (const r of JSON.parse(text, restoreNonFinite) as GenomeResult[]) results.push(r);
    }
    if (results.length !== meta.config.population) {
      throw new Error(`generation ${gen}: ${results.length} results for ${meta.config.population} genomes`);
    }
    const { state: next, metrics } = tell(state, meta.config, results);
    const entry: LogEntry = {
      metrics,
      champion: championSummary(next),
      durationMs: Date.now() - meta.genStartedAt,
    };
    this.ctx.storage.transactionSync(() => {
      this.putState(next);
      this.sql.exec(
        'INSERT OR REPLACE INTO generation_log (gen, entry, synced) VALUES (?, ?, 0)',
        gen,
        JSON.stringify(entry),
      );
      this.sql.exec('DELETE FROM slices WHERE gen = ?', gen);
      this.sql.exec("DELETE FROM chunks WHERE name LIKE 'result:%'");
    });
    this.broadcast(generationEvent(gen, entry));
  }

  /** Write finished generations to D1, one batch each (stats row + run row), then drop old blobs. */
  private async flushLog(): Promise<void> {
    const meta = this.meta();
    if (!meta) return;
    const pending = this.sql
      .exec<{ gen: number; entry: string }>(
        'SELECT gen, entry FROM generation_log WHERE synced = 0 ORDER BY gen',
      )
      .toArray();
    const db = drizzle(this.env.DB);
    for (const { gen, entry: text } of pending) {
      const entry = JSON.parse(text) as LogEntry;
      const m = entry.metrics;
      const champion = entry.champion;
      const now = Date.now();
      await db.batch([
        db
          .insert(generations)
          .values({
            runId: meta.runId,
            gen,
            objectives: m.objectives,
            fitnessMean: finiteOrNull(m.fitnessMean),
            fitnessMedian: finiteOrNull(m.fitnessMedian),
            fitnessMax: finiteOrNull(m.fitnessMax),
            bestEverFitness: finiteOrNull(m.bestEverFitness),
            championAccuracy: finiteOrNull(m.championAccuracy),
            championConnections: finiteOrNull(m.championConnections),
            meanConnections: m.meanConnections,
            meanNodes: m.meanNodes,
            evaluations: m.evaluations,
            durationMs: entry.durationMs,
            createdAt: now,
          })
          .onConflictDoNothing(),
        db
          .update(runs)
          .set({
            generation: gen + 1,
            bestFitness: finiteOrNull(m.bestEverFitness),
            championFitness: champion?.fitness ?? null,
            championGeneration: champion?.generation ?? null,
            championConnections: champion?.connections ?? null,
            championAccuracy: champion?.accuracy ?? null,
            updatedAt: now,
          })
          .where(eq(runs.id, meta.runId)),
      ]);
      this.sql.exec('UPDATE generation_log SET synced = 1 WHERE gen = ?', gen);
      // Late duplicates of this generation find no blob and are dropped by the evaluator.
      await this.env.BLOBS.delete(populationKey(meta.runId, gen));
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

  /** Enter a terminal status: persist, tell subscribers, end their streams, sync D1. */
  private async finishNow(status: RunStatus, error: string | null): Promise<void> {
    const meta = this.meta();
    if (!meta || isTerminal(meta.status)) return;
    this.ctx.storage.transactionSync(() => {
      this.updateMeta({ status, error, finishedAt: Date.now() });
      this.sql.exec('DELETE FROM slices');
      this.sql.exec("DELETE FROM chunks WHERE name LIKE 'result:%'");
    });
    this.broadcastStatus();
    for (const c of this.subscribers) {
      try {
        c.close();
      } catch {
        // the reader is already gone
      }
    }
    this.subscribers.clear();
    await this.ctx.storage.deleteAlarm();
    try {
      await this.flushLog();
      await this.syncStatus();
      if (meta.blobGen >= 0) await this.env.BLOBS.delete(populationKey(meta.runId, meta.blobGen));
    } catch (e) {
      // D1/R2 briefly unavailable: the alarm finishes the sync.
      console.error(`coordinator ${meta.runId}: sync after ${status} failed: ${String(e)}`);
      await this.ctx.storage.setAlarm(Date.now() + 5_000);
    }
  }

  // ------------------------------------------------------------------------------------------
  // Publishing (workers/coordinator/publish.ts does the work; this keeps versions and retries)

  /** The publication of generation `gen`'s champion: the existing one, or a new pending version. */
  private ensurePublication(gen: number, genome: string): PublicationRow {
    const existing = this.publicationAt(gen);
    if (existing) return existing;
    this.sql.exec(
      `INSERT INTO publications (version, generation, genome, status)
       VALUES ((SELECT COALESCE(MAX(version), 0) + 1 FROM publications), ?, ?, 'pending')`,
      gen,
      genome,
    );
    return this.publicationAt(gen)!;
  }

  private publicationAt(gen: number): PublicationRow | undefined {
    return this.sql
      .exec<PublicationRow>(
        'SELECT version, generation, genome, status, attempts FROM publications WHERE generation = ?',
        gen,
      )
      .toArray()[0];
  }

  /** Run (or re-run) a publication's idempotent steps; marks it done. */
  private async processPublication(meta: RunMeta, p: PublicationRow) {
    const model = await publishModel(this.env, {
      runId: meta.runId,
      version: p.version,
      generation: p.generation,
      genome: populationFromBase64(p.genome)[0],
      weights: meta.config.weights,
      trainShards: this.settings.trainShards,
    });
    if (p.status !== 'done') {
      this.sql.exec("UPDATE publications SET status = 'done', error = NULL WHERE version = ?", p.version);
    }
    return model;
  }

  /**
   * Scheduled publication (every `publishEvery` generations, and at the end). A failure is retried
   * from the alarm a few times, then recorded and skipped: a search is not lost to publishing.
   */
  private async autoPublish(meta: RunMeta, state: StrategyState): Promise<void> {
    if (!state.champion) return;
    const p = this.ensurePublication(state.generation, state.champion.genome);
    if (p.status !== 'pending') return;
    try {
      await this.processPublication(meta, p);
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      const attempts = p.attempts + 1;
      const failed = attempts >= PUBLISH_MAX_ATTEMPTS;
      this.sql.exec(
        'UPDATE publications SET attempts = ?, error = ?, status = ? WHERE version = ?',
        attempts,
        message,
        failed ? 'failed' : 'pending',
        p.version,
      );
      console.error(`coordinator ${meta.runId}: publishing v${p.version} failed (${attempts}): ${message}`);
      if (!failed) throw e;
    }
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
      try {
        c.enqueue(bytes);
      } catch {
        this.subscribers.delete(c);
      }
    }
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

  private state(): StrategyState {
    if (!this.stateCache) {
      const text = this.getText('state');
      if (text === null) throw new Error('strategy state is missing');
      this.stateCache = JSON.parse(text) as StrategyState;
    }
    return this.stateCache;
  }

  private putState(state: StrategyState): void {
    this.putText('state', JSON.stringify(state));
    this.stateCache = state;
  }

  private putText(name: string, text: string): void {
    this.sql.exec('DELETE FROM chunks WHERE name = ?', name);
    let part = 0;
    for (let i = 0; i < text.length || part === 0; i += CHUNK_CHARS, part++) {
      this.sql.exec(
        'INSERT INTO chunks (name, part, data) VALUES (?, ?, ?)',
        name,
        part,
        text.slice(i, i + CHUNK_CHARS),
      );
    }
  }

  private getText(name: string): string | null {
    const parts = this.sql
      .exec<{ data: string }>('SELECT data FROM chunks WHERE name = ? ORDER BY part', name)
      .toArray();
    return parts.length ? parts.map((p) => p.data).join('') : null;
  }

  private sliceRow(gen: number, sliceStart: number): SliceRow | undefined {
    return this.sql
      .exec<SliceRow>(
        'SELECT slice_start, slice_end, attempts, sent_at, done FROM slices WHERE gen = ? AND slice_start = ?',
        gen,
        sliceStart,
      )
      .toArray()[0];
  }

  private pendingSlices(gen: number): number {
    return this.sql
      .exec<{ n: number }>('SELECT COUNT(*) AS n FROM slices WHERE gen = ? AND done = 0', gen)
      .one().n;
  }
}

function championSummary(state: StrategyState): ChampionSummary | null {
  const c = state.champion;
  return c
    ? { fitness: c.fitness, generation: c.generation, accuracy: c.accuracy, connections: c.connections }
    : null;
}

// A failed evaluation is a NaN fitness, which `tell` ranks last; plain JSON would turn it into null.
const NON_FINITE: Record<string, number> = {
  NaN: Number.NaN,
  Infinity: Number.POSITIVE_INFINITY,
  '-Infinity': Number.NEGATIVE_INFINITY,
};
function keepNonFinite(_key: string, value: unknown): unknown {
  return typeof value === 'number' && !Number.isFinite(value) ? String(value) : value;
}
function restoreNonFinite(_key: string, value: unknown): unknown {
  return typeof value === 'string' && value in NON_FINITE ? NON_FINITE[value] : value;
}

/** NaN and ±Infinity do not survive JSON or D1: they become null. */
function finiteOrNull(v: number | null | undefined): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

function generationEvent(gen: number, entry: LogEntry): Uint8Array {
  const data = { ...entry.metrics, champion: entry.champion, durationMs: entry.durationMs };
  return encoder.encode(`event: generation\nid: ${gen}\ndata: ${JSON.stringify(data)}\n\n`);
}
