/**
 * D1 schema (drizzle): the queryable record of runs and their per-generation statistics. The
 * Durable Object of a run holds the live search state; D1 is what lists, pages and CSV exports read.
 * `models` (published champions) and `share_links` (capabilities to view a run) follow.
 */
import { sql } from 'drizzle-orm';
import { index, integer, primaryKey, real, sqliteTable, text } from 'drizzle-orm/sqlite-core';
import { MODEL_VARIANTS, RUN_STATUSES, SHARE_SCOPES, TRAINING_STATUSES } from '../src/api/vocabulary';
import { CHAMPION_CHOICES, type ChampionRecord, OBJECTIVE_PAIRS } from '../src/wann/record';

export const runs = sqliteTable(
  'runs',
  {
    id: text('id').primaryKey(),
    status: text('status', { enum: RUN_STATUSES }).notNull(),
    /** The resolved SearchConfig (defaults filled in, seed set), plus `forkOf` for forks. */
    config: text('config', { mode: 'json' }).notNull(),
    seed: integer('seed').notNull(),
    /** Generations completed so far (the next one to evaluate). */
    generation: integer('generation').notNull().default(0),
    bestFitness: real('best_fitness'),
    championFitness: real('champion_fitness'),
    championGeneration: integer('champion_generation'),
    /** Index of the champion in generation `championGeneration`'s population (null for older runs). */
    championIndex: integer('champion_index'),
    championConnections: integer('champion_connections'),
    /** Champion batch accuracy per shared weight, as a JSON array. */
    championAccuracy: text('champion_accuracy', { mode: 'json' }).$type<number[]>(),
    /** How the champion was picked (migration 0004; null in older rows: by batch). */
    championChosenBy: text('champion_chosen_by', { enum: CHAMPION_CHOICES }),
    /** The champion's mean fitness at its latest re-check (null if none, and in older rows). */
    championRecheckedFitness: real('champion_rechecked_fitness'),
    forkOfRun: text('fork_of_run'),
    forkOfGeneration: integer('fork_of_generation'),
    error: text('error'),
    /** Milliseconds since the epoch. */
    createdAt: integer('created_at').notNull(),
    updatedAt: integer('updated_at').notNull(),
    startedAt: integer('started_at'),
    finishedAt: integer('finished_at'),
    /** Run identity (migration 0005): set at start, editable by the owner; see src/api/types.ts. */
    name: text('name').notNull().default(''),
    /** Lower-case tags, as a JSON array. */
    tags: text('tags', { mode: 'json' }).notNull().default([]).$type<string[]>(),
    notes: text('notes').notNull().default(''),
  },
  (t) => [
    index('runs_created_idx').on(t.createdAt, t.id),
    index('runs_status_idx').on(t.status, t.createdAt, t.id),
  ],
);

/**
 * One row per finished generation: a `GenerationRecord` (src/wann/record.ts) stored whole, read and
 * written only through workers/contracts/generation-rows.ts. `shard` and `champion` are null in rows
 * written before migration 0002.
 */
export const generations = sqliteTable(
  'generations',
  {
    runId: text('run_id')
      .notNull()
      .references(() => runs.id, { onDelete: 'cascade' }),
    gen: integer('gen').notNull(),
    /** The objective pair ranked on this generation. */
    objectives: text('objectives', { enum: OBJECTIVE_PAIRS }).notNull(),
    /** The training shard the generation was evaluated on. */
    shard: integer('shard'),
    // Statistics are null when undefined (e.g. no genome had a finite fitness): D1 has no NaN.
    fitnessMean: real('fitness_mean'),
    fitnessMedian: real('fitness_median'),
    fitnessMax: real('fitness_max'),
    bestEverFitness: real('best_ever_fitness'),
    /** Mean batch accuracy over the shared weights of this generation's best genome. */
    championAccuracy: real('champion_accuracy'),
    championConnections: integer('champion_connections'),
    meanConnections: real('mean_connections').notNull(),
    meanNodes: real('mean_nodes').notNull(),
    evaluations: integer('evaluations').notNull(),
    /** Wall time from dispatching the generation to its last result (ms). */
    durationMs: integer('duration_ms').notNull(),
    /** The best-ever genome after this generation (a `ChampionRecord`, JSON); null before one exists. */
    champion: text('champion', { mode: 'json' }).$type<ChampionRecord>(),
    /**
     * Ensemble accuracy of the champion on test shard 0, on generations with a champion re-check
     * (migration 0004); null elsewhere and in older rows.
     */
    testAccuracy: real('test_accuracy'),
    createdAt: integer('created_at').notNull().default(sql`(unixepoch() * 1000)`),
  },
  (t) => [primaryKey({ columns: [t.runId, t.gen] })],
);

export type RunRow = typeof runs.$inferSelect;
export type GenerationRow = typeof generations.$inferSelect;

/** Published champions: one row per (run, version); blobs in R2 under models/{runId}/{version}. */
export const models = sqliteTable(
  'models',
  {
    runId: text('run_id')
      .notNull()
      .references(() => runs.id, { onDelete: 'cascade' }),
    version: integer('version').notNull(),
    /** Generation whose champion this is (the strategy state's generation at publish time). */
    generation: integer('generation').notNull(),
    onnxKey: text('onnx_key').notNull(),
    genomeKey: text('genome_key').notNull(),
    /** Shared weights the accuracies refer to (JSON array). */
    weights: text('weights', { mode: 'json' }).notNull().$type<number[]>(),
    /** Test-set (10,000 images) accuracy at each shared weight (JSON array). */
    testAccuracy: text('test_accuracy', { mode: 'json' }).notNull().$type<number[]>(),
    meanTestAccuracy: real('mean_test_accuracy').notNull(),
    ensembleTestAccuracy: real('ensemble_test_accuracy').notNull(),
    tunedWeight: real('tuned_weight').notNull(),
    tunedTestAccuracy: real('tuned_test_accuracy').notNull(),
    connections: integer('connections').notNull(),
    hiddenNodes: integer('hidden_nodes').notNull(),
    createdAt: integer('created_at').notNull(),
    /**
     * Migration 0006: 'shared' (the searched network at shared weights) or 'trained' (per-connection
     * weights trained from version `trainedFrom`; weights [], testAccuracy [its accuracy]).
     */
    variant: text('variant', { enum: MODEL_VARIANTS }).notNull().default('shared'),
    trainedFrom: integer('trained_from'),
  },
  (t) => [primaryKey({ columns: [t.runId, t.version] })],
);

/**
 * Training per-connection weights from a shared version (migration 0006, workers/models/train.ts).
 * `step` only moves forward by compare-and-set; the state is in R2.
 */
export const trainings = sqliteTable(
  'trainings',
  {
    runId: text('run_id')
      .notNull()
      .references(() => runs.id, { onDelete: 'cascade' }),
    /** The shared version trained from. */
    version: integer('version').notNull(),
    status: text('status', { enum: TRAINING_STATUSES }).notNull(),
    step: integer('step').notNull().default(0),
    steps: integer('steps').notNull(),
    stepsPerInvocation: integer('steps_per_invocation').notNull(),
    /** Mean cross-entropy of the last minibatch. */
    loss: real('loss'),
    seed: integer('seed').notNull(),
    batchSize: integer('batch_size').notNull(),
    learningRate: real('learning_rate').notNull(),
    /** The weight every connection starts at (the version's tuned weight). */
    sharedWeight: real('shared_weight').notNull(),
    /** Training shards the minibatches come from (the run's `trainShards`). */
    trainShards: integer('train_shards').notNull(),
    trainedVersion: integer('trained_version'),
    error: text('error'),
    createdAt: integer('created_at').notNull(),
    updatedAt: integer('updated_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.runId, t.version] })],
);

export type TrainingRow = typeof trainings.$inferSelect;

/** Share links: capabilities to view (and maybe query) one run. Only the token's hash is stored. */
export const shareLinks = sqliteTable(
  'share_links',
  {
    id: text('id').primaryKey(),
    runId: text('run_id')
      .notNull()
      .references(() => runs.id, { onDelete: 'cascade' }),
    /** SHA-256 of the token, hex. */
    tokenHash: text('token_hash').notNull().unique(),
    scope: text('scope', { enum: SHARE_SCOPES }).notNull(),
    /** Milliseconds since the epoch. */
    expiresAt: integer('expires_at').notNull(),
    revokedAt: integer('revoked_at'),
    createdAt: integer('created_at').notNull(),
  },
  (t) => [index('share_links_run_idx').on(t.runId)],
);

export type ModelRow = typeof models.$inferSelect;
export type ShareLinkRow = typeof shareLinks.$inferSelect;

/**
 * The owner's browser sessions (the `wann_session` cookie names one by `id`; its HMAC proves the
 * server issued it). A row is what makes a cookie still good: signing out revokes one row, "end
 * all sessions" revokes every row, and expired rows are deleted when a new session starts.
 */
export const ownerSessions = sqliteTable(
  'owner_sessions',
  {
    /** The cookie's random session id (base64url, 128 bits). */
    id: text('id').primaryKey(),
    /** Milliseconds since the epoch. */
    createdAt: integer('created_at').notNull(),
    expiresAt: integer('expires_at').notNull(),
    revokedAt: integer('revoked_at'),
  },
  (t) => [index('owner_sessions_expires_idx').on(t.expiresAt)],
);

/** An uploaded dataset's life: stored, shards being built, usable, or refused with `error`. */
export const DATASET_STATUSES = ['pending', 'uploaded', 'building', 'ready', 'failed'] as const;
export type DatasetStatus = (typeof DATASET_STATUSES)[number];

/**
 * Uploaded datasets (migration 0007; the built-ins are manifests in code, src/data/dataset.ts).
 * The upload lies in R2 under `uploads/{id}/`, its shards under `datasets/{id}/` once built.
 */
export const datasets = sqliteTable(
  'datasets',
  {
    /** `u-` and 16 hex digits: also the dataset's R2 prefix and its name in queue tasks. */
    id: text('id').primaryKey(),
    /** Unique, like a run's name; the API, CLI and configs address a dataset by it or its id. */
    name: text('name').notNull().unique(),
    status: text('status', { enum: DATASET_STATUSES }).notNull(),
    /** How to build it: `{ label?, testFraction, seed }` as uploaded. */
    options: text('options', { mode: 'json' }).notNull(),
    /** `sha256:` and the hex digest of the uploaded bytes: a repeated upload is recognised by it. */
    sourceHash: text('source_hash').notNull(),
    bytes: integer('bytes').notNull(),
    /** The DatasetManifest once ready. */
    manifest: text('manifest', { mode: 'json' }),
    error: text('error'),
    /** Build progress in [0, 1]. */
    progress: real('progress').notNull().default(0),
    createdAt: integer('created_at').notNull(),
    updatedAt: integer('updated_at').notNull(),
  },
  (t) => [index('datasets_source_hash_idx').on(t.sourceHash)],
);

export type DatasetRow = typeof datasets.$inferSelect;
