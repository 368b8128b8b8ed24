/**
 * SearchCoordinator: one Durable Object per run. It handles numbers, never genomes: it ranks each
 * finished generation and selects every member's parent for the next (src/wann/generation.ts
 * `planGeneration`), sends small slice tasks through the queue, collects one report per slice
 * (objectives and where each member lies in R2), and records the generation. Evaluators breed,
 * evaluate and store the members; publishing is a queued task too. The object's memory is
 * bounded by the population's numbers (a few hundred bytes per member while completing a
 * generation), not by its genomes.
 *
 * This class is the shell: the RPC methods, the alarm, and the driver that advances the run from
 * persisted state. Each collaborator owns its tables (SQLite-backed object, `ctx.storage.sql`):
 * - RunState (run-state.ts): `meta`, the run's status, config, generation, champion and candidate.
 * - TaskLedger (task-ledger.ts): `tasks`, the slices, re-checks, publications and trained versions,
 *   with one retry policy.
 * - PopulationIndex (population-index.ts): `stored_slices`, `objectives`, `plan`.
 * - GenerationLog (generation-log.ts): `generation_log`, the records and the D1 outbox.
 * - BlobGc (blob-gc.ts): `garbage`, R2 objects no longer needed, and `sweep`, the search for orphans.
 * - TrainingWatch (training-watch.ts): `watched_trainings`, trainings of this run's versions that
 *   the alarm re-sends a chunk of when they stall.
 * - EventHub (event-hub.ts): the SSE streams (no table).
 *
 * Every step is idempotent and driven from persisted state (`drive`), so the alarm can finish
 * whatever a crash or restart interrupted: re-send tasks, complete a generation, re-sync D1.
 */
import { DurableObject } from 'cloudflare:workers';
import type { z } from 'zod';
import type { ModelEvent } from '../../src/api/stream-events';
import type { RunStatus } from '../../src/api/vocabulary';
import { builtinDataset, genomeShape } from '../../src/data/dataset';
import { configDataset } from '../../src/wann/config';
import {
  packObjectives,
  planGeneration,
  type RecheckReport,
  recheckMismatch,
  recheckReportSchema,
  recheckSpec,
  sliceReportSchema,
  unpackObjectives,
} from '../../src/wann/generation';
import { patienceStop } from '../../src/wann/patience';
import { championWithDefaults } from '../../src/wann/record';
import { tell } from '../../src/wann/tell';
import type { Env } from '../api/env';
import {
  type GenomeLocation,
  type QueueTask,
  type ReportOutcome,
  recheckSpecOf,
} from '../contracts/queue-tasks';
import { runDatasetManifest } from '../datasets/uploaded';
import { tellRunsFeed } from '../runs-feed/runs-feed';
import { BlobGc } from './blob-gc';
import { locate, publishTask, recheckTask, sendBatches, sliceTasks } from './dispatch';
import { EventHub, type SubscribeOptions, type Subscriber, type Subscription } from './event-hub';
import { GenerationLog, syncRunStatus } from './generation-log';
import { migrateLegacyTables } from './legacy-tables';
import { PopulationIndex } from './population-index';
import { type RunMeta, RunState } from './run-state';
import { type CoordinatorSettings, readSettings, sliceTaskBounds } from './settings';
import { packReport, unpackReport } from './slice-report';
import { retryPolicies, type SentEntry, TaskLedger } from './task-ledger';
import { noteStalledTraining, readTrainingProgress, TrainingWatch } from './training-watch';
import {
  type CancelOutcome,
  type ChampionAddress,
  type ForkSource,
  isTerminal,
  type PublicationOutcome,
  type PublicationRequest,
  type RunConfig,
  type RunSnapshot,
} from './types';

export {
  MAX_QUEUED_EVENTS,
  MAX_SHARE_LINK_STREAMS_PER_RUN,
  MAX_STREAMS_PER_SHARE_LINK,
  MAX_SUBSCRIBERS_PER_RUN,
  REPLAY_PAGE,
  type Subscriber,
  type Subscription,
} from './event-hub';

/**
 * The runs list hears a running run's progress at most this often (each is an RPC to the feed
 * object; a status change is told at once).
 */
const RUNS_LIST_PROGRESS_MS = 2_000;

/** A training whose row has not moved for this many slice timeouts has lost its chunk. */
const TRAINING_STALL_TIMEOUTS = 4;
/**
 * A finished run is swept for orphaned slice objects this many slice timeouts after it ended (the
 * deliveries in flight then have been retried or abandoned by then); a running one every
 * `RUNNING_SWEEP_MS`.
 */
const ORPHAN_SWEEP_TIMEOUTS = 2;
const RUNNING_SWEEP_MS = 10 * 60_000;
/** What to check when a run fails for want of answers (deployed, the queue consumer is a Worker). */
const EVALUATOR_HINT =
  'is an evaluator running? (locally `npm start` runs it; deployed, the wann-evaluator Worker consumes the queue)';

export class SearchCoordinator extends DurableObject<Env> {
  private readonly settings: CoordinatorSettings;
  private readonly run: RunState;
  private readonly ledger: TaskLedger;
  private readonly population: PopulationIndex;
  private readonly log: GenerationLog;
  private readonly gc: BlobGc;
  private readonly trainings: TrainingWatch;
  private readonly events: EventHub;
  /** Serialises `drive` and `finish`: only one may await I/O at a time. */
  private tail: Promise<unknown> = Promise.resolve();

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.settings = readSettings(env);
    const sql = ctx.storage.sql;
    this.run = new RunState(sql);
    this.ledger = new TaskLedger(sql, retryPolicies(this.settings));
    this.population = new PopulationIndex(sql);
    this.log = new GenerationLog(sql);
    this.gc = new BlobGc(sql);
    this.trainings = new TrainingWatch(sql, this.settings.sliceTimeoutMs * TRAINING_STALL_TIMEOUTS);
    ctx.storage.transactionSync(() => migrateLegacyTables(sql));
    this.events = new EventHub({
      page: (after, limit) => this.log.page(after, limit),
      snapshot: () => this.snapshot(),
    });
  }

  // ------------------------------------------------------------------------------------------
  // RPC

  /**
   * Start the run (idempotent: a second call returns the current snapshot). `from` continues
   * another run's last finished generation (a fork; its R2 objects are already copied).
   */
  async start(runId: string, config: RunConfig, from?: ForkSource): Promise<RunSnapshot> {
    if (!this.meta()) {
      // An upload's shape is in its D1 row: read here, once, and kept with the run (dispatch.ts).
      const uploaded = builtinDataset(configDataset(config))
        ? undefined
        : genomeShape(await runDatasetManifest(this.env.DB, config.dataset));
      if (this.meta()) return this.snapshot()!;
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
        ...(from?.championSince === undefined ? {} : { championSince: from.championSince }),
        syncedStatus: null,
        driveFailures: 0,
        ...(uploaded ? { shape: uploaded } : {}),
      };
      this.ctx.storage.transactionSync(() => {
        if (from && gen > 0) {
          for (const s of from.slices) this.population.storeSlice(gen - 1, s.start, s.end, s.offsets);
          this.population.putObjectives(gen - 1, Float64Array.from(from.objectives));
        }
        this.run.put(meta);
        // A fork of a run that patience stopped, with the same patience, stops where it starts.
        if (gen < config.generations && !stoppedEarly(meta)) this.preparePlan(gen, config);
      });
      this.events.status();
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
      return rejected(runId, 'slice', parsed.error);
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
        await this.gc.collect(this.env.BLOBS);
      }
      return 'stale';
    }
    const task = this.ledger.slice(report.gen, report.sliceStart);
    if (!task) return { rejected: `generation ${report.gen} has no slice starting at ${report.sliceStart}` };
    if (task.end !== report.sliceEnd) {
      return {
        rejected: `slice ${report.sliceStart} ends at ${task.end}, the report says ${report.sliceEnd}`,
      };
    }
    if (report.weights !== meta.config.weights.length) {
      return { rejected: `the run has ${meta.config.weights.length} weights, the report ${report.weights}` };
    }
    if (task.done) return 'duplicate';
    this.ledger.completeSlice(task.id, packReport(report));
    this.population.storeSlice(report.gen, report.sliceStart, report.sliceEnd, report.offsets);
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
      return rejected(runId, 're-check', parsed.error);
    }
    const report = parsed.data;
    const meta = this.meta();
    if (!meta || meta.runId !== runId) return { rejected: `this coordinator does not hold run ${runId}` };
    if (meta.status !== 'running' || report.gen !== meta.gen) return 'stale';
    const task = this.ledger.recheck(report.gen);
    if (!task) return { rejected: `generation ${report.gen} has no champion re-check` };
    const mismatch = recheckMismatch(recheckSpecOf(task.task), report);
    if (mismatch) return { rejected: `the re-check ${mismatch}` };
    if (task.done) return 'duplicate';
    this.ledger.completeRecheck(task.id, report);
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
    const objectives = this.population.objectives(last);
    if (!objectives) return null;
    return {
      generation: meta.gen,
      slices: this.population.slices(last),
      objectives,
      champion: meta.champion,
      candidate: meta.candidate ?? null,
      ...(meta.championSince === undefined ? {} : { championSince: meta.championSince }),
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
    const existing = this.ledger.publicationAt(meta.gen);
    const p = existing ?? this.ledger.ensurePublication(meta.gen, meta.champion);
    return { ok: true, created: !existing, status: p.status, task: publishTask(meta, p) };
  }

  /** A publication task finished (or failed for good). Idempotent. */
  async publicationDone(version: number, outcome: PublicationOutcome): Promise<void> {
    const p = this.ledger.publication(version);
    if (!p || p.status === 'done') return;
    this.ledger.settlePublication(version, outcome.ok ? null : outcome.error);
    if (!outcome.ok) console.error(`coordinator: publishing v${version} failed: ${outcome.error}`);
    this.events.model({ kind: 'published', version, error: outcome.ok ? null : outcome.error });
    this.releaseChampionObject(p.champion);
    await this.drive();
  }

  /**
   * The model version number of the trained variant of version `from` (workers/models/train.ts),
   * from the same sequence as publications so the two never collide, and at least `atLeast` (above
   * every version already in D1). Idempotent: the same `from` always gets the same number.
   */
  reserveTrainedVersion(from: number, atLeast: number): number {
    return this.ledger.reserveTrainedVersion(from, atLeast);
  }

  /**
   * Watch the training of version `version` (workers/models/train.ts): when its D1 row has not moved
   * for a few slice timeouts, the alarm sends its chunk again, and again while it stays stalled.
   */
  async watchTraining(runId: string, version: number): Promise<void> {
    this.trainings.watch(runId, version, Date.now());
    await this.wakeBy(this.trainings.nextCheck());
  }

  /**
   * Server-Sent Events: the `generation` events after `since` (replayed from the log, page by page
   * as the reader takes them), then a `status` event, then one event per finished generation and
   * per status change. The stream ends after a terminal status. Every `generation` event's data is
   * a GenerationRecord. Refused when the run already has `MAX_SUBSCRIBERS_PER_RUN` open streams,
   * or when a share link's `subscriber` would pass `MAX_STREAMS_PER_SHARE_LINK` (that link) or
   * `MAX_SHARE_LINK_STREAMS_PER_RUN` (all links: the rest is kept for the owner).
   */
  subscribe(since?: number, subscriber?: Subscriber, options?: SubscribeOptions): Subscription {
    return this.events.subscribe(since, subscriber, options);
  }

  /**
   * A training of this run's version `event.version` moved, finished or failed (the evaluator's
   * train task, workers/models/train.ts, after its D1 row changed): told to the run's streams.
   */
  trainingMoved(event: Extract<ModelEvent, { kind: 'training' }>): void {
    this.events.model(event);
  }

  /**
   * The API is done with stream `id` (its client left, or its credential ended): close it here.
   * Cancelling a stream on the caller's side does not always reach this object, so the API says so.
   */
  unsubscribe(id: number): void {
    this.events.unsubscribe(id);
  }

  /** Open event streams on this run (live or replaying); for tests and diagnostics. */
  subscriberCount(): number {
    return this.events.count();
  }

  override async alarm(): Promise<void> {
    await this.drive();
    await this.housekeeping();
  }

  /**
   * What the alarm does besides driving the run: re-send the chunk of a stalled training, sweep for
   * orphaned slice objects when a sweep is due; then wake for the next of either.
   */
  private async housekeeping(): Promise<void> {
    const now = Date.now();
    try {
      await this.checkTrainings(now);
      const sweepAt = this.gc.sweepDue();
      if (sweepAt !== null && sweepAt <= now) await this.serial(() => this.sweepOrphans());
    } catch (e) {
      // D1, R2 or the queue briefly unavailable: look again soon.
      console.error(`coordinator ${this.meta()?.runId}: housekeeping: ${String(e)}`);
      await this.wakeBy(Date.now() + 5_000);
      return;
    }
    await this.wakeBy(this.housekeepingDue());
  }

  /** Each watched training due a look: finished (forgotten), moving, or stalled (its chunk re-sent). */
  private async checkTrainings(now: number): Promise<void> {
    for (const w of this.trainings.due(now)) {
      const progress = await readTrainingProgress(this.env.DB, w.runId, w.version);
      const verdict = this.trainings.judge(w, progress, now);
      if (verdict.kind !== 'stalled' || !progress) continue;
      await this.env.TRAIN_QUEUE.send(
        { kind: 'train', runId: w.runId, version: w.version, step: progress.step },
        { contentType: 'json' },
      );
      const resends = this.trainings.resent(w, progress.step, now);
      const note = `no evaluator has moved this training past step ${progress.step} for ${duration(verdict.idleMs)}; its next chunk was sent again (${resends}×): ${EVALUATOR_HINT}`;
      console.warn(`coordinator ${w.runId}: training of v${w.version}: ${note}`);
      await noteStalledTraining(this.env.DB, w.runId, w.version, note);
    }
  }

  /**
   * Slice objects of this run in R2 that nothing needs (see blob-gc.ts "Orphans"): running, the
   * current generation's and the last finished one's are needed; finished, only the last finished
   * one's (a fork continues from them); the champion's, the candidate's and a pending
   * publication's, always.
   */
  private async sweepOrphans(): Promise<void> {
    const meta = this.meta();
    if (!meta) return this.gc.clearSweep();
    const lastDone = meta.gen - 1;
    const running = meta.status === 'running';
    const parents = new Set(this.population.slices(lastDone).map((s) => s.start));
    const found = await this.gc.sweep(
      this.env.BLOBS,
      meta.runId,
      (gen, slice) => (gen === lastDone ? parents.has(slice) : running && gen > lastDone),
      [meta.champion, meta.candidate, ...this.ledger.pendingChampions()],
    );
    if (found > 0)
      console.warn(`coordinator ${meta.runId}: ${found} orphaned slice object(s) listed for deletion`);
    if (running) this.gc.planSweep(Date.now() + RUNNING_SWEEP_MS);
    await this.gc.collect(this.env.BLOBS);
  }

  /** The earliest of a watched training's next look and the planned sweep (null: neither). */
  private housekeepingDue(): number | null {
    return earliest(this.trainings.nextCheck(), this.gc.sweepDue());
  }

  /** Have the alarm fire by `at` (an alarm set earlier stays: an early alarm only drives again). */
  private async wakeBy(at: number | null): Promise<void> {
    if (at === null) return;
    const current = await this.ctx.storage.getAlarm();
    if (current === null || current > at) await this.ctx.storage.setAlarm(at);
  }

  // ------------------------------------------------------------------------------------------
  // The driver: advance the run as far as persisted state allows.

  private drive(): Promise<void> {
    return this.serial(async () => {
      try {
        await this.driveOnce();
        this.run.update({ driveFailures: 0 });
      } catch (e) {
        const meta = this.meta();
        const message = e instanceof Error ? e.message : String(e);
        console.error(`coordinator ${meta?.runId}: ${message}`);
        if (!meta) return;
        const failures = meta.driveFailures + 1;
        this.run.update({ driveFailures: failures });
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
      if (gen >= meta.config.generations || stoppedEarly(meta)) {
        await this.flushOutbox();
        // Published before the run reads as completed, so a finished run always has its model.
        const waiting = meta.champion ? this.ledger.ensurePublication(gen, meta.champion) : null;
        if (waiting?.status === 'pending') {
          await this.sendDue(meta);
          return;
        }
        await this.finishNow('completed', null);
        return;
      }
      const every = meta.config.publishEvery ?? 0;
      if (every > 0 && gen > 0 && gen % every === 0 && meta.champion)
        this.ledger.ensurePublication(gen, meta.champion);
      if (meta.syncedStatus !== 'running') await this.syncStatus();
      if (this.pendingWork(gen) === 0) {
        this.completeCurrentGeneration();
        continue;
      }
      await this.sendDue(meta);
      // D1 rows of finished generations and R2 garbage: written while the evaluators work, after
      // this returns. Awaited here, they held the report that completed the generation, and so
      // the queue delivery that carried it: the local queue delivers the next generation's batch
      // only once the last one's consumer has returned (README, "A search over HTTP").
      this.flushLater();
      return;
    }
  }

  /**
   * Plan generation `gen` (parents from gen − 1's objectives) and create its slice tasks, and its
   * champion re-check (of the champion and candidate in the meta row, already those after gen − 1).
   */
  private preparePlan(gen: number, config: RunConfig): void {
    let previous = null;
    if (gen > 0) {
      const packed = this.population.objectives(gen - 1);
      if (!packed) throw new Error(`generation ${gen - 1}'s objectives are missing`);
      previous = unpackObjectives(packed);
    }
    const plan = planGeneration(config, gen, previous);
    this.population.putPlan(gen, plan.elites, plan.parents);
    this.ledger.addSlices(gen, sliceTaskBounds(config, this.settings));
    const meta = this.meta()!;
    const spec = recheckSpec(config, gen, meta.champion?.champion ?? null, meta.candidate?.champion ?? null);
    if (spec && meta.champion) this.ledger.addRecheck(recheckTask(meta, gen, spec.shards));
  }

  /**
   * Send the ledger's due tasks (never sent, or timed out), and set the alarm for the next timeout.
   * A task sent as often as its policy allows fails the run (slices, re-checks: with the reason) or
   * only itself (publications: recorded failed, the run goes on).
   */
  private async sendDue(meta: RunMeta): Promise<void> {
    const now = Date.now();
    const gen = meta.gen;
    const { due, exhausted } = this.ledger.due(gen, now);
    const failsRun = exhausted.filter((t) => this.ledger.policy(t.kind).exhaustionFails === 'run');
    if (failsRun.length > 0) {
      await this.finishNow('failed', this.noAnswer(meta, failsRun, now));
      return;
    }
    for (const t of exhausted) {
      this.ledger.fail(t.id, `no answer after ${t.attempts} attempts`);
      // A failed publication no longer pins its champion's object.
      if (t.kind === 'publish') this.releaseChampionObject(t.champion);
    }
    const slices = due.filter((t) => t.kind === 'slice');
    if (slices.length > 0 && slices.every((s) => s.sentAt === null)) this.run.update({ genStartedAt: now });
    // The re-check first: it is one unit as long as a few slices, so the slices fill around it.
    const messages: { id: number; task: QueueTask }[] = [];
    for (const t of due) if (t.kind === 'recheck') messages.push({ id: t.id, task: t.task });
    if (slices.length) {
      const plan = this.population.plan(gen);
      if (!plan) throw new Error(`generation ${gen} has no plan`);
      const previous = gen > 0 ? this.population.slices(gen - 1) : [];
      const tasks = sliceTasks(meta, plan, previous, slices);
      for (const [i, s] of slices.entries()) messages.push({ id: s.id, task: tasks[i] });
    }
    for (const t of due) if (t.kind === 'publish') messages.push({ id: t.id, task: publishTask(meta, t) });

    for (const part of sendBatches(messages)) {
      await this.env.EVAL_QUEUE.sendBatch(part.map((m) => ({ body: m.task, contentType: 'json' as const })));
      const sentAt = Date.now();
      this.ctx.storage.transactionSync(() =>
        this.ledger.markSent(
          part.map((m) => m.id),
          sentAt,
        ),
      );
    }
    const wake = earliest(this.ledger.nextTimeout(gen), this.housekeepingDue());
    if (wake !== null) await this.ctx.storage.setAlarm(wake);
  }

  /**
   * Why the run fails when generation work got no answer, in words for whoever started it: how much
   * of the generation went unanswered, for how long, and what to check.
   */
  private noAnswer(meta: RunMeta, unanswered: readonly SentEntry[], now: number): string {
    const slices = unanswered.filter((t) => t.kind === 'slice').length;
    const total = this.ledger.sliceResults(meta.gen).length;
    const what = [
      slices > 0 ? `${slices} of ${total} slice${total === 1 ? '' : 's'}` : null,
      unanswered.some((t) => t.kind === 'recheck') ? 'the champion re-check' : null,
    ]
      .filter(Boolean)
      .join(' and ');
    const tries = Math.max(...unanswered.map((t) => t.attempts));
    return `generation ${meta.gen}: ${what} got no answer from any evaluator after ${tries} tries over ${duration(now - meta.genStartedAt)}: ${EVALUATOR_HINT}`;
  }

  /** All slices are in: the record and champion, the next generation's plan, garbage. */
  private completeCurrentGeneration(): void {
    const meta = this.meta()!;
    const gen = meta.gen;
    const config = meta.config;
    const rows = this.ledger.sliceResults(gen);
    const w = config.weights.length;
    const reports = rows.map((r) => {
      if (!r.report) throw new Error(`generation ${gen}: the report of slice ${r.start} is missing`);
      return unpackReport(gen, r.start, r.end, w, new Float64Array(r.report));
    });
    const stored = this.population.slices(gen);
    const previousCandidate = meta.candidate ?? null;
    const told = tell<GenomeLocation>(
      {
        generation: gen,
        champion: meta.champion
          ? { champion: championWithDefaults(meta.champion.champion), location: meta.champion.location }
          : null,
        candidate: previousCandidate,
        ...(meta.championSince === undefined ? {} : { championSince: meta.championSince }),
      },
      {
        slices: reports,
        recheck: this.storedRecheck(gen),
        locate: (index) => locate(stored, index),
        durationMs: Date.now() - meta.genStartedAt,
      },
      config,
    );
    const { champion, candidate, championSince } = told.state;
    // Patience (src/wann/patience.ts) decides from the state just told: nothing is planned after a
    // stop, and the driver, reading the same persisted state, publishes and completes the run.
    const stop = patienceStop(config, told.state);
    const keep = [champion, candidate];
    const logged = this.ctx.storage.transactionSync(() => {
      const entry = this.log.append(gen, told.record);
      this.population.putObjectives(gen, packObjectives(told.objectives));
      // The reports are folded into the record and objectives; the stored slices stay for the
      // next parents.
      this.ledger.dropGenerationWork(gen);
      // Generation gen − 1's members are no longer anyone's parents.
      for (const s of this.population.slices(gen - 1)) this.discard(gen - 1, s.start, keep);
      this.population.dropSlicesBefore(gen);
      this.population.dropPlans(gen);
      // A replaced champion, or a candidate replaced or decided, from before gen − 1.
      for (const old of [meta.champion, previousCandidate]) {
        if (old && old.champion.generation < gen - 1)
          this.discard(old.champion.generation, old.location.slice, keep);
      }
      this.run.update({
        gen: told.state.generation,
        champion,
        candidate,
        ...(championSince === undefined ? {} : { championSince }),
      });
      if (gen + 1 < config.generations && !stop) this.preparePlan(gen + 1, config);
      if (this.gc.sweepDue() === null) this.gc.planSweep(Date.now() + RUNNING_SWEEP_MS);
      return entry;
    });
    this.events.generation(logged);
  }

  /**
   * List slice object (gen, slice) for deletion unless one of `keep` (the champion, the candidate)
   * or a pending publication's champion lies in it.
   */
  private discard(gen: number, slice: number, keep: readonly (ChampionAddress | null | undefined)[]): void {
    this.gc.discard(this.meta()!.runId, gen, slice, [...keep, ...this.ledger.pendingChampions()]);
  }

  /** A finished publication no longer pins its champion's object: drop it if nothing else needs it. */
  private releaseChampionObject(c: ChampionAddress): void {
    const meta = this.meta();
    if (!meta) return;
    // The last finished generation's objects are the next parents (and what a fork copies).
    if (c.champion.generation >= meta.gen - 1) return;
    this.discard(c.champion.generation, c.location.slice, [meta.champion, meta.candidate]);
  }

  /**
   * flushOutbox once the driver's current turn is done, off the caller's path. A failure is
   * retried by the alarm (the outbox keeps what was not written; every later drive flushes too).
   */
  private flushLater(): void {
    this.ctx.waitUntil(
      this.serial(async () => {
        try {
          await this.flushOutbox();
        } catch (e) {
          console.error(
            `coordinator ${this.meta()?.runId}: writing finished generations failed: ${String(e)}`,
          );
          await this.wakeBy(Date.now() + Math.min(this.settings.sliceTimeoutMs, 5_000));
        }
      }),
    );
  }

  /** Write finished generations to D1, then delete a batch of garbage from R2. */
  private async flushOutbox(): Promise<void> {
    const meta = this.meta();
    if (!meta) return;
    const flushed = await this.log.flush(this.env.DB, meta.runId);
    await this.gc.collect(this.env.BLOBS);
    if (flushed > 0 && meta.status === 'running') await this.tellRunsList(meta, true);
  }

  /** Bring the D1 run row's status (and error, timings) in line with the object's. */
  private async syncStatus(): Promise<void> {
    const meta = this.meta();
    if (!meta || meta.syncedStatus === meta.status) return;
    await syncRunStatus(this.env.DB, meta);
    this.run.update({ syncedStatus: meta.status });
    // After D1: a page that reads the list on this event finds the new status there.
    await this.tellRunsList(meta);
  }

  /** When the runs list's streams were last told this run moved on (ms; in memory only). */
  private listToldAt = 0;

  /**
   * The runs list's streams told where this run is (after its D1 row was written): on every status
   * change, and as generations finish at most every `RUNS_LIST_PROGRESS_MS`.
   */
  private async tellRunsList(meta: RunMeta, progressOnly = false): Promise<void> {
    const now = Date.now();
    if (progressOnly && now - this.listToldAt < RUNS_LIST_PROGRESS_MS) return;
    this.listToldAt = now;
    await tellRunsFeed(this.env, {
      id: meta.runId,
      status: meta.status,
      generation: meta.gen,
      generations: meta.config.generations,
    });
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
      this.run.update({ status, error, finishedAt: Date.now() });
      // Every slice of the generation cut short, reported or not: an unreported one may have been
      // stored before its report was lost (and what lands later, the sweep finds).
      for (const s of this.ledger.sliceResults(meta.gen)) {
        this.discard(meta.gen, s.start, [meta.champion, meta.candidate]);
      }
      this.gc.planSweep(Date.now() + this.settings.sliceTimeoutMs * ORPHAN_SWEEP_TIMEOUTS);
      this.population.dropSlicesOf(meta.gen);
      this.population.dropPlans();
      this.ledger.dropGenerationWork();
    });
    this.events.status();
    this.events.endLive();
    // Nothing of the run is left to re-send; a watched training and the orphan sweep still wake it.
    const wake = this.housekeepingDue();
    if (wake === null) await this.ctx.storage.deleteAlarm();
    else await this.ctx.storage.setAlarm(wake);
    try {
      await this.flushOutbox();
      await this.syncStatus();
    } catch (e) {
      // D1/R2 briefly unavailable: the alarm finishes the sync.
      console.error(`coordinator ${meta.runId}: sync after ${status} failed: ${String(e)}`);
      await this.ctx.storage.setAlarm(Date.now() + 5_000);
    }
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.tail.then(fn, fn);
    this.tail = run.catch(() => {});
    return run;
  }

  // ------------------------------------------------------------------------------------------
  // Reads the driver (and tests, through a cast) use

  private meta(): RunMeta | null {
    return this.run.get();
  }

  /** Slices and re-check of generation `gen` not reported yet: the generation completes at 0. */
  private pendingWork(gen: number): number {
    return this.ledger.pending(gen);
  }

  /** Generation `gen`'s re-check result as `completeGeneration` takes it (null if it has none). */
  private storedRecheck(gen: number): RecheckReport | null {
    const task = this.ledger.recheck(gen);
    if (!task) return null;
    const result = task.done ? this.ledger.recheckResult(task.id) : null;
    if (!result) throw new Error(`generation ${gen}: the re-check's result is missing`);
    return { ...recheckSpecOf(task.task), ...result };
  }
}

/** A report that does not parse: refused with (up to three of) its issues, and logged. */
function rejected(runId: string, what: string, error: z.ZodError): ReportOutcome {
  const reason = error.issues
    .slice(0, 3)
    .map((i) => `${i.path.join('.') || '(report)'}: ${i.message}`)
    .join('; ');
  console.error(`coordinator ${runId}: rejected a ${what} report: ${reason}`);
  return { rejected: reason };
}

/**
 * Whether patience ended the run after its last completed generation (meta.gen − 1): the same pure
 * rule over the same persisted state as when that generation completed, so a restarted object
 * decides what the one before it did.
 */
function stoppedEarly(meta: RunMeta): boolean {
  return (
    patienceStop(meta.config, {
      generation: meta.gen,
      champion: meta.champion,
      championSince: meta.championSince,
    }) !== null
  );
}

function earliest(...times: (number | null)[]): number | null {
  const set = times.filter((t): t is number => t !== null);
  return set.length ? Math.min(...set) : null;
}

/** A duration as a person reads it: "40 s", "3 min", "2 h 5 min". */
function duration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 120) return `${s} s`;
  const min = Math.round(s / 60);
  return min < 120 ? `${min} min` : `${Math.floor(min / 60)} h ${min % 60} min`;
}
