/**
 * `/api/runs`: start, list, inspect, watch, cancel and fork searches. D1 answers the reads; each
 * run's SearchCoordinator (Durable Object RPC) does the writes and the live event stream.
 * Writes and the list need the owner (the API token, or the session cookie of the pages); one
 * run's reads need the owner or a share link for that run (see auth.ts).
 */
import { and, asc, desc, eq, getTableColumns, gt, inArray, lt, or, type SQL, sql } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/d1';
import { type Context, Hono } from 'hono';
import { z } from 'zod';
import { datasets, generations, models, type RunRow, runs } from '../../schema/schema';
import {
  RUN_IDENTITY_KEYS,
  RUN_LIST_DEFAULT_LIMIT,
  RUN_LIST_MAX_LIMIT,
  RUN_NAME_MAX,
  type RunIdentity,
  type RunListEntry,
  type RunResource,
  type RunStats,
  runIdentityInputSchema,
} from '../../src/api/types';
import { RUN_STATUSES } from '../../src/api/vocabulary';
import {
  type DatasetManifest,
  DatasetUnavailableError,
  datasetNameSchema,
  genomeShape,
} from '../../src/data/dataset';
import {
  configDataset,
  DEFAULT_DATASET_NAME,
  resolveConfig,
  type SearchConfigInput,
  searchConfigSchema,
} from '../../src/wann/config';
import { decodeGenomeBytes, genomeToJson } from '../../src/wann/genome';
import { type EarlyStop, recordedStop } from '../../src/wann/patience';
import { fixedNodeCount, GENERATION_CSV_COLUMNS, generationCsvLine } from '../../src/wann/record';
import { populationSliceKey } from '../contracts/blob-keys';
import { fromGenerationRow } from '../contracts/generation-rows';
import type { Subscriber } from '../coordinator/event-hub';
import type { ForkSource, RunConfig } from '../coordinator/types';
import { runDatasetManifest } from '../datasets/uploaded';
import { readGenomes } from '../storage/population';
import {
  addressedRunId,
  type RunLinks,
  requireOwner,
  requireOwnerRead,
  requireRunAccess,
  runLinks,
  shareAccessResource,
} from './auth';
import { requireLoadedDataset, resourceWithBaseline, runDatasetSamples } from './datasets';
import type { Env } from './env';
import { ApiError, describeIssues } from './errors';
import { credentialCheck, guardEventStream, streamRefusalMessage } from './event-stream';
import { ACTIVE_RUN, runningSearches } from './run-slots';

type AppContext = Context<{ Bindings: Env }>;

const RUN_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * Searches that may be queued or running at once; the next start or fork is refused with 429.
 * Every running search shares the same evaluators, so more at once only slows each of them down.
 */
export const MAX_RUNNING_SEARCHES = 8;

function tooManyRunningSearches(): ApiError {
  return new ApiError(
    429,
    'too_many_running_searches',
    `${MAX_RUNNING_SEARCHES} searches are already queued or running, the most this server runs at once; cancel one or wait for one to finish`,
  );
}

/** Refuses a start or fork early (before any work) when the ceiling is reached. */
async function requireRunSlot(c: AppContext): Promise<void> {
  // Rows whose coordinator is gone or done do not count (run-slots.ts).
  const active = await runningSearches(c.env, MAX_RUNNING_SEARCHES);
  if (active >= MAX_RUNNING_SEARCHES) throw tooManyRunningSearches();
}

/** Work that must finish after the response (a client that left): waitUntil where there is one. */
function waitUntil(c: AppContext, work: Promise<unknown>): void {
  const settled = work.catch((e) => console.error(`after the response: ${String(e)}`));
  try {
    c.executionCtx.waitUntil(settled);
  } catch {
    // no execution context (app.request in tests): the promise runs on its own
  }
}

function coordinator(env: Env, runId: string) {
  return env.COORD.get(env.COORD.idFromName(runId));
}

const JSON_MEDIA_TYPE = /^\s*application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i;

/**
 * A JSON object body sent as `application/json`; an empty body is `{}` (every config field has a
 * default). Not JSON or not an object: 400; a JSON object under another media type: 415.
 */
export async function readJsonObject(c: AppContext): Promise<Record<string, unknown>> {
  const text = await c.req.text();
  if (text.trim() === '') return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new ApiError(400, 'invalid_json', `the body is not valid JSON: ${(e as Error).message}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ApiError(400, 'invalid_json', 'the body must be a JSON object');
  }
  if (!JSON_MEDIA_TYPE.test(c.req.header('Content-Type') ?? '')) {
    throw new ApiError(415, 'unsupported_media_type', 'send the body as `Content-Type: application/json`');
  }
  return value as Record<string, unknown>;
}

function parseQuery<T extends z.ZodType>(c: AppContext, schema: T): z.output<T> {
  const parsed = schema.safeParse(c.req.query());
  if (!parsed.success) throw new ApiError(400, 'invalid_query', describeIssues(parsed.error));
  return parsed.data;
}

/** The run a route addresses (`:id`, or a share link's own run under `/s/<token>/api/run`); 404 if none. */
export async function findRun(c: AppContext, id: string): Promise<RunRow> {
  const runId = addressedRunId(c, id);
  if (RUN_ID.test(runId)) {
    const row = await drizzle(c.env.DB).select().from(runs).where(eq(runs.id, runId)).get();
    if (row) return row;
  }
  throw new ApiError(404, 'run_not_found', `no run with id '${id}'`);
}

const at = (ms: number) => new Date(ms).toISOString();
const iso = (ms: number | null) => (ms === null ? null : at(ms));

/** A run as the API shows it; its links are where this request's credential reads it (`links`). */
export function runResource(row: RunRow, links: RunLinks): RunResource {
  const config = row.config as RunConfig;
  const self = links.api;
  return {
    id: row.id,
    status: row.status,
    name: row.name,
    tags: row.tags,
    notes: row.notes,
    config,
    generation: row.generation,
    generations: config.generations,
    bestFitness: row.bestFitness,
    champion:
      row.championFitness === null || row.championGeneration === null
        ? null
        : {
            fitness: row.championFitness,
            generation: row.championGeneration,
            index: row.championIndex,
            connections: row.championConnections ?? 0,
            accuracy: row.championAccuracy ?? [],
            chosenBy: row.championChosenBy ?? 'batch',
            recheckedFitness: row.championRecheckedFitness,
          },
    error: row.error,
    // Present only when patience ended the run, so other runs' answers are what they were.
    ...stopField(config, row.status, row.generation),
    forkOf: config.forkOf ?? null,
    timings: {
      createdAt: at(row.createdAt),
      startedAt: iso(row.startedAt),
      updatedAt: at(row.updatedAt),
      finishedAt: iso(row.finishedAt),
      elapsedMs: row.startedAt === null ? null : (row.finishedAt ?? row.updatedAt) - row.startedAt,
    },
    urls: {
      self,
      events: `${self}/events`,
      // Owner actions are offered to the owner only (a share link's answers have none).
      ...(links.owner ? { cancel: `${self}/cancel`, fork: `${self}/fork` } : {}),
      generations: `${self}/generations`,
      champion: `${self}/champion`,
      page: links.page,
    },
  };
}

function stopField(config: RunConfig, status: string, generation: number): { stop?: EarlyStop } {
  const stop = recordedStop(config, status, generation);
  return stop ? { stop } : {};
}

/** Insert the run row, then start its coordinator; a failed start leaves a `failed` row, not a half run. */
async function createRun(c: AppContext, config: RunConfig, identity: RunIdentity, from?: ForkSource) {
  const id = crypto.randomUUID();
  // A fork's first parents: the source's last finished generation (and its champion), copied
  // under the new run's id before its coordinator plans from them.
  if (from && config.forkOf) await copyForkObjects(c.env, config.forkOf.runId, id, from);
  const now = Date.now();
  const db = drizzle(c.env.DB);
  await db.insert(runs).values({
    id,
    status: 'queued',
    config,
    seed: config.seed,
    forkOfRun: config.forkOf?.runId ?? null,
    forkOfGeneration: config.forkOf?.generation ?? null,
    ...identity,
    createdAt: now,
    updatedAt: now,
  });
  // Starts that raced past requireRunSlot: the later one (in creation order) gives way.
  const ahead = await runningSearches(
    c.env,
    MAX_RUNNING_SEARCHES,
    and(ACTIVE_RUN, or(lt(runs.createdAt, now), and(eq(runs.createdAt, now), lt(runs.id, id))))!,
  );
  if (ahead >= MAX_RUNNING_SEARCHES) {
    await db.delete(runs).where(eq(runs.id, id));
    const copied = await c.env.BLOBS.list({ prefix: `runs/${id}/` });
    if (copied.objects.length) await c.env.BLOBS.delete(copied.objects.map((o) => o.key));
    throw tooManyRunningSearches();
  }
  await startRun(c, id, config, from);
  const row = await db.select().from(runs).where(eq(runs.id, id)).get();
  const resource = runResource(row!, runLinks(c, id));
  return c.json(resource, 202, { Location: resource.urls.self });
}

async function copyForkObjects(env: Env, sourceId: string, id: string, from: ForkSource): Promise<void> {
  const objects = from.slices.map((s) => ({ gen: from.generation - 1, slice: s.start }));
  // The champion's and the re-check candidate's objects too, when older (each copied once).
  for (const c of [from.champion, from.candidate]) {
    if (!c || c.champion.generation === from.generation - 1) continue;
    const o = { gen: c.champion.generation, slice: c.location.slice };
    if (!objects.some((x) => x.gen === o.gen && x.slice === o.slice)) objects.push(o);
  }
  for (const o of objects) {
    const object = await env.BLOBS.get(populationSliceKey(sourceId, o.gen, o.slice));
    if (!object) {
      throw new ApiError(409, 'fork_source_moved', `run ${sourceId} moved on while forking; try again`);
    }
    await env.BLOBS.put(populationSliceKey(id, o.gen, o.slice), await object.arrayBuffer());
  }
}

async function startRun(c: AppContext, id: string, config: RunConfig, from?: ForkSource) {
  try {
    await coordinator(c.env, id).start(id, config, from);
  } catch (e) {
    const message = `could not start the run: ${(e as Error).message}`;
    await drizzle(c.env.DB)
      .update(runs)
      .set({ status: 'failed', error: message, updatedAt: Date.now(), finishedAt: Date.now() })
      .where(eq(runs.id, id));
    throw new ApiError(503, 'start_failed', message);
  }
}

function randomSeed(): number {
  return crypto.getRandomValues(new Uint32Array(1))[0];
}

/**
 * Splits a body into the run's identity (top-level `name`, `tags`, `notes`) and the rest; the
 * identity is validated here (400 `invalid_identity` naming the field).
 */
function splitIdentity(input: Record<string, unknown>): {
  identity: Partial<RunIdentity>;
  rest: Record<string, unknown>;
} {
  const rest = { ...input };
  const given: Record<string, unknown> = {};
  for (const key of RUN_IDENTITY_KEYS) {
    if (key in rest) {
      given[key] = rest[key];
      delete rest[key];
    }
  }
  const parsed = runIdentityInputSchema.safeParse(given);
  if (!parsed.success) throw new ApiError(400, 'invalid_identity', describeIssues(parsed.error));
  return { identity: parsed.data, rest };
}

const RUN_IDS =
  /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}(,[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})*$/;

/**
 * `GET /api/runs`: newest first, `limit` per page (at most RUN_LIST_MAX_LIMIT), `next` carries the
 * filters on. Filters: `status` (comma-separated statuses), `tag` (one tag), `q` (text found in the
 * name, notes, tags or id; case-insensitive for ASCII), `ids` (comma-separated run ids, at most
 * RUN_LIST_MAX_LIMIT), `dataset` (a dataset's name or an upload's id; `mnist` also finds the runs
 * whose config names none).
 */
const listQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(RUN_LIST_MAX_LIMIT).default(RUN_LIST_DEFAULT_LIMIT),
  cursor: z
    .string()
    .regex(/^\d{1,15}\.[0-9a-f-]{36}$/, 'not a cursor returned by this API')
    .optional(),
  status: z
    .string()
    .transform((s) => s.split(',').filter(Boolean))
    .pipe(z.array(z.enum(RUN_STATUSES)).max(RUN_STATUSES.length))
    .optional(),
  tag: z
    .string()
    .transform((t) => t.trim().toLowerCase())
    .pipe(z.string().min(1).max(32))
    .optional(),
  q: z.string().max(RUN_NAME_MAX).optional(),
  dataset: datasetNameSchema.optional(),
  ids: z
    .string()
    .regex(RUN_IDS, 'comma-separated run ids')
    .transform((s) => s.split(','))
    .pipe(z.array(z.string()).max(RUN_LIST_MAX_LIMIT))
    .optional(),
});

/** The filters of a list query as SQL conditions. */
function listFilters(q: z.output<typeof listQuery>): SQL[] {
  const where: SQL[] = [];
  if (q.status?.length) where.push(inArray(runs.status, q.status));
  if (q.tag) where.push(sql`exists (select 1 from json_each(${runs.tags}) where value = ${q.tag})`);
  if (q.ids) where.push(inArray(runs.id, q.ids));
  if (q.dataset) {
    // A run records a built-in by name (MNIST by nothing at all) and an upload by its id.
    const recorded = sql`json_extract(${runs.config}, '$.dataset')`;
    where.push(
      q.dataset === DEFAULT_DATASET_NAME
        ? sql`(${recorded} is null or ${recorded} = ${q.dataset})`
        : sql`(${recorded} = ${q.dataset} or ${recorded} in (select ${datasets.id} from ${datasets} where ${datasets.name} = ${q.dataset}))`,
    );
  }
  const text = q.q?.trim().toLowerCase();
  if (text) {
    where.push(
      sql`(instr(lower(${runs.name}), ${text}) > 0 or instr(lower(${runs.notes}), ${text}) > 0 or instr(${runs.tags}, ${text}) > 0 or instr(${runs.id}, ${text}) > 0)`,
    );
  }
  return where;
}

/**
 * A run's test figures (src/api/figures.ts defines them), as correlated subqueries (one page at a
 * time): the best published shared-weight version's ensemble accuracy, the best trained version's
 * accuracy (its ensemble column holds its one accuracy), and the latest champion re-check's
 * test-subset accuracy, read only for runs whose config re-checks (so the scan stops within
 * `recheckEvery` rows).
 */
function statsColumns() {
  const checked = generations.testAccuracy;
  const best = (variant: 'shared' | 'trained') =>
    sql<
      number | null
    >`(select max(${models.ensembleTestAccuracy}) from ${models} where ${models.runId} = ${runs.id} and ${models.variant} = ${variant})`;
  return {
    ensembleTestAccuracy: best('shared'),
    trainedTestAccuracy: best('trained'),
    modelCount: sql<number>`(select count(*) from ${models} where ${models.runId} = ${runs.id})`,
    checkTestAccuracy: sql<
      number | null
    >`(case when coalesce(json_extract(${runs.config}, '$.recheckEvery'), 0) > 0 then (select ${checked} from ${generations} where ${generations.runId} = ${runs.id} and ${checked} is not null order by ${generations.gen} desc limit 1) end)`,
  };
}

interface StatsColumns {
  ensembleTestAccuracy: number | null;
  trainedTestAccuracy: number | null;
  checkTestAccuracy: number | null;
  modelCount: number;
}

/** The `stats` of a run from its stats columns (with API version 1's names kept as aliases). */
function runStats({
  ensembleTestAccuracy,
  trainedTestAccuracy,
  checkTestAccuracy,
  modelCount,
}: StatsColumns): RunStats {
  return {
    ensembleTestAccuracy,
    trainedTestAccuracy,
    checkTestAccuracy,
    bestModelTestAccuracy: ensembleTestAccuracy,
    latestCheckTestAccuracy: checkTestAccuracy,
    models: modelCount,
  };
}

/** A run with its stats columns, by id (the run a route addresses, as `findRun`). */
async function findRunWithStats(c: AppContext, id: string): Promise<{ row: RunRow; stats: RunStats }> {
  const runId = addressedRunId(c, id);
  if (RUN_ID.test(runId)) {
    const found = await drizzle(c.env.DB)
      .select({ ...getTableColumns(runs), ...statsColumns() })
      .from(runs)
      .where(eq(runs.id, runId))
      .get();
    if (found) {
      const { ensembleTestAccuracy, trainedTestAccuracy, checkTestAccuracy, modelCount, ...row } = found;
      return {
        row,
        stats: runStats({ ensembleTestAccuracy, trainedTestAccuracy, checkTestAccuracy, modelCount }),
      };
    }
  }
  throw new ApiError(404, 'run_not_found', `no run with id '${id}'`);
}

/** Bias, inputs and outputs of a run's genomes; null if its dataset is no longer known. */
async function runFixedNodes(c: AppContext, row: RunRow): Promise<number | null> {
  try {
    const manifest = await runDatasetManifest(c.env.DB, configDataset(row.config as { dataset?: string }));
    return fixedNodeCount(genomeShape(manifest));
  } catch (e) {
    if (e instanceof DatasetUnavailableError) return null;
    throw e;
  }
}

const generationsQuery = z.strictObject({
  /** Generations after this one (exclusive); -1 = from the start. */
  after: z.coerce.number().int().min(-1).default(-1),
  limit: z.coerce.number().int().min(1).max(100_000).optional(),
});

const eventsQuery = z.strictObject({
  /** Replay the generations after this one (-1: all of them). */
  since: z
    .string()
    .regex(/^(-1|\d{1,9})$/, 'must be a generation number (an integer ≥ -1)')
    .transform(Number)
    .optional(),
  /**
   * `1`: the stream stays open after the run ends, for its `model` events (a version published, a
   * training moving): what a finished run's page needs to hear the CLI publish or train.
   */
  models: z
    .enum(['0', '1'])
    .transform((v) => v === '1')
    .optional(),
});

const PAGE = 1000;

/**
 * A run's shard counts within its dataset's training shards: one the request sets beyond them is a
 * 400 naming the limit; a default beyond them (60 and 20, MNIST's) becomes the limit. A built-in
 * has 60, so its configs gain no field.
 */
function fitShards(
  input: SearchConfigInput,
  manifest: DatasetManifest,
): Pick<SearchConfigInput, 'trainShards' | 'recheckBatches'> {
  const limit = manifest.shards.train;
  const fitted: Pick<SearchConfigInput, 'trainShards' | 'recheckBatches'> = {};
  for (const field of ['trainShards', 'recheckBatches'] as const) {
    const given = input[field];
    if (given !== undefined && given > limit) {
      throw new ApiError(
        400,
        'invalid_config',
        `${field}: at most ${limit}, the training shards of dataset '${manifest.name}' (got ${given})`,
      );
    }
    const fallback = searchConfigSchema.shape[field].parse(undefined);
    if (given === undefined && fallback > limit) fitted[field] = limit;
  }
  return fitted;
}

export const runsApp = new Hono<{ Bindings: Env }>()
  .post('/', requireOwner, async (c) => {
    const { identity, rest: input } = splitIdentity(await readJsonObject(c));
    const parsed = searchConfigSchema.safeParse(input);
    if (!parsed.success) throw new ApiError(400, 'invalid_config', describeIssues(parsed.error));
    let start = input as SearchConfigInput;
    if (parsed.data.dataset !== undefined) {
      const { id, manifest } = await requireLoadedDataset(c.env.BLOBS, parsed.data.dataset, c.env.DB);
      start = { ...start, dataset: id, ...fitShards(start, manifest) };
    }
    await requireRunSlot(c);
    const config: RunConfig = resolveConfig(start, randomSeed);
    return createRun(c, config, { name: '', tags: [], notes: '', ...identity });
  })

  .get('/', requireOwnerRead, async (c) => {
    const q = parseQuery(c, listQuery);
    const db = drizzle(c.env.DB);
    const where = listFilters(q);
    if (q.cursor) {
      const dot = q.cursor.indexOf('.');
      const at = Number(q.cursor.slice(0, dot));
      const id = q.cursor.slice(dot + 1);
      where.push(or(lt(runs.createdAt, at), and(eq(runs.createdAt, at), lt(runs.id, id)))!);
    }
    const rows = await db
      .select({ ...getTableColumns(runs), ...statsColumns() })
      .from(runs)
      .where(and(...where))
      .orderBy(desc(runs.createdAt), desc(runs.id))
      .limit(q.limit + 1);
    const page = rows.slice(0, q.limit);
    const last = page[page.length - 1];
    let next: string | null = null;
    if (rows.length > q.limit && last) {
      const url = new URL(c.req.url);
      url.searchParams.set('limit', String(q.limit));
      url.searchParams.set('cursor', `${last.createdAt}.${last.id}`);
      next = `${url.origin}/api/runs?${url.searchParams}`;
    }
    const entries = page.map(
      ({
        ensembleTestAccuracy,
        trainedTestAccuracy,
        checkTestAccuracy,
        modelCount,
        ...row
      }): RunListEntry => ({
        ...runResource(row, runLinks(c, row.id)),
        stats: runStats({ ensembleTestAccuracy, trainedTestAccuracy, checkTestAccuracy, modelCount }),
      }),
    );
    return c.json({ runs: entries, next });
  })

  .get('/:id', requireRunAccess('view'), async (c) => {
    const { row, stats } = await findRunWithStats(c, c.req.param('id'));
    return c.json({ ...runResource(row, runLinks(c, row.id)), access: shareAccessResource(c), stats });
  })

  .get('/:id/dataset', requireRunAccess('view'), async (c) => {
    // A share link reads its run's dataset here, and no other.
    const row = await findRun(c, c.req.param('id'));
    const name = configDataset(row.config as { dataset?: string });
    let manifest: DatasetManifest;
    try {
      manifest = await runDatasetManifest(c.env.DB, name);
    } catch (e) {
      if (!(e instanceof DatasetUnavailableError)) throw e;
      throw new ApiError(404, 'dataset_not_found', `run ${row.id}'s dataset '${name}' is not known`);
    }
    return c.json(await resourceWithBaseline(c.env, name, manifest));
  })

  .get('/:id/dataset/samples', requireRunAccess('view'), async (c) => {
    // Likewise its samples: a share link's only samples (datasets.ts).
    const row = await findRun(c, c.req.param('id'));
    return runDatasetSamples(c, row.id, configDataset(row.config as { dataset?: string }));
  })

  .get('/:id/generations', requireRunAccess('view'), async (c) => {
    const row = await findRun(c, c.req.param('id'));
    const q = parseQuery(c, generationsQuery);
    const db = drizzle(c.env.DB);
    const fetchPage = async (after: number, limit: number) =>
      (
        await db
          .select()
          .from(generations)
          .where(and(eq(generations.runId, row.id), gt(generations.gen, after)))
          .orderBy(asc(generations.gen))
          .limit(limit)
      ).map(fromGenerationRow);

    if ((c.req.header('Accept') ?? '').includes('text/csv')) {
      const fixedNodes = await runFixedNodes(c, row);
      // Streamed page by page: a long run has up to 100,000 generations.
      const total = q.limit ?? Number.POSITIVE_INFINITY;
      const encoder = new TextEncoder();
      const body = new ReadableStream<Uint8Array>({
        async start(controller) {
          controller.enqueue(encoder.encode(`${GENERATION_CSV_COLUMNS.join(',')}\n`));
          let after = q.after;
          let sent = 0;
          while (sent < total) {
            const rows = await fetchPage(after, Math.min(PAGE, total - sent));
            if (rows.length === 0) break;
            const lines = rows.map((r) => generationCsvLine(r, fixedNodes));
            controller.enqueue(encoder.encode(`${lines.join('\n')}\n`));
            sent += rows.length;
            after = rows[rows.length - 1].gen;
            if (rows.length < PAGE) break;
          }
          controller.close();
        },
      });
      return c.body(body, 200, {
        'Content-Type': 'text/csv; charset=utf-8',
        'Content-Disposition': `attachment; filename="run-${row.id}-generations.csv"`,
      });
    }

    const limit = Math.min(q.limit ?? PAGE, PAGE * 5);
    const rows = await fetchPage(q.after, limit + 1);
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    const next =
      rows.length > limit && last
        ? `${runLinks(c, row.id).api}/generations?after=${last.gen}&limit=${limit}`
        : null;
    return c.json({ runId: row.id, generations: page, next });
  })

  .get('/:id/events', requireRunAccess('view'), async (c) => {
    const row = await findRun(c, c.req.param('id'));
    const q = parseQuery(c, eventsQuery);
    // EventSource resends the last `id:` (a generation) when it reconnects: replay from there.
    const lastEventId = c.req.header('Last-Event-ID');
    let since = q.since;
    if (since === undefined && lastEventId !== undefined && /^\d{1,9}$/.test(lastEventId.trim())) {
      since = Number(lastEventId.trim());
    }
    const access = c.get('access');
    const subscriber: Subscriber =
      access?.kind === 'share' ? { kind: 'share', linkId: access.link.id } : { kind: 'owner' };
    const subscription = await coordinator(c.env, row.id).subscribe(since, subscriber, { models: q.models });
    if (!subscription.ok) {
      throw new ApiError(429, subscription.reason, streamRefusalMessage(row.id, subscription), {
        'Retry-After': '10',
      });
    }
    // The credential is asked again every STREAM_RECHECK_MS: revoked or expired, the stream ends
    // (and the coordinator is told, as a caller's cancel does not always reach it).
    const runCoordinator = coordinator(c.env, row.id);
    const stream = guardEventStream(subscription.stream, credentialCheck(c), {
      onEnd: () => waitUntil(c, runCoordinator.unsubscribe(subscription.id)),
      signal: c.req.raw.signal,
    });
    return c.body(stream, 200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-cache, no-transform',
      'X-Accel-Buffering': 'no',
    });
  })

  // Edits the run's identity (owner only; a share link's holder cannot).
  .patch('/:id', requireOwner, async (c) => {
    const row = await findRun(c, c.req.param('id'));
    const { identity, rest } = splitIdentity(await readJsonObject(c));
    const unknown = Object.keys(rest);
    if (unknown.length) {
      throw new ApiError(
        400,
        'invalid_identity',
        `${unknown.map((k) => `${k}: unknown field`).join('; ')} (a run's name, tags and notes can be edited; its config cannot: fork it instead)`,
      );
    }
    if (Object.keys(identity).length === 0) {
      throw new ApiError(400, 'invalid_identity', '(body): send at least one of name, tags, notes');
    }
    const db = drizzle(c.env.DB);
    await db.update(runs).set(identity).where(eq(runs.id, row.id));
    const updated = await findRun(c, row.id);
    return c.json(runResource(updated, runLinks(c, row.id)));
  })

  .post('/:id/cancel', requireOwner, async (c) => {
    const row = await findRun(c, c.req.param('id'));
    const outcome = await coordinator(c.env, row.id).cancel();
    if (!outcome.ok) {
      throw new ApiError(409, 'run_finished', `run ${row.id} is already ${outcome.status ?? row.status}`);
    }
    const updated = await findRun(c, row.id);
    return c.json(runResource(updated, runLinks(c, row.id)));
  })

  .post('/:id/fork', requireOwner, async (c) => {
    const source = await findRun(c, c.req.param('id'));
    const { identity, rest: edits } = splitIdentity(await readJsonObject(c));
    const { forkOf: _, ...base } = source.config as RunConfig;
    const parsed = searchConfigSchema.safeParse({ ...base, ...edits });
    if (!parsed.success) throw new ApiError(400, 'invalid_config', describeIssues(parsed.error));
    // An explicit 'mnist' is no field at all, as resolveConfig records it.
    // Patience 0 is off, recorded as no field (as resolveConfig records it).
    const { dataset, patience, ...kept } = parsed.data;
    const rest: typeof kept & { patience?: number } = patience ? { ...kept, patience } : kept;
    const merged: typeof rest & { dataset?: string } =
      dataset === undefined || dataset === DEFAULT_DATASET_NAME ? rest : { ...rest, dataset };
    if (configDataset(merged) !== configDataset(base)) {
      throw new ApiError(
        400,
        'invalid_config',
        `dataset: a fork keeps the dataset of the run it continues (${configDataset(base)})`,
      );
    }
    if (merged.population !== base.population) {
      throw new ApiError(
        400,
        'invalid_config',
        `population: a fork keeps the population size of the run it continues (${base.population})`,
      );
    }
    const from = await coordinator(c.env, source.id).forkSource();
    if (!from) throw new ApiError(409, 'not_started', `run ${source.id} has no finished generation to fork`);
    if (merged.generations <= from.generation) {
      throw new ApiError(
        400,
        'invalid_config',
        `generations: must be more than ${from.generation}, the generation this fork continues from`,
      );
    }
    await requireRunSlot(c);
    const config: RunConfig = {
      ...merged,
      seed: merged.seed ?? base.seed,
      forkOf: { runId: source.id, generation: from.generation },
    };
    // A fork keeps its parent's tags; its name says what it is, unless one is given.
    const name = `${source.name || source.id.slice(0, 8)} (fork)`;
    return createRun(
      c,
      config,
      {
        name: name.length > RUN_NAME_MAX ? name.slice(0, RUN_NAME_MAX) : name,
        tags: source.tags,
        notes: '',
        ...identity,
      },
      from,
    );
  })

  .get('/:id/champion', requireRunAccess('view'), async (c) => {
    const row = await findRun(c, c.req.param('id'));
    const address = await coordinator(c.env, row.id).champion();
    if (!address) throw new ApiError(404, 'no_champion', `run ${row.id} has no finished generation yet`);
    const [stored] = await readGenomes(c.env.BLOBS, row.id, address.champion.generation, [address.location]);
    const genome = genomeToJson(decodeGenomeBytes(stored.bytes));
    return c.json(genome, 200, {
      'Content-Disposition': `inline; filename="run-${row.id}-champion.json"`,
    });
  });
