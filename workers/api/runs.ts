/**
 * `/api/runs`: start, list, inspect, watch, cancel and fork searches. D1 answers the reads; each
 * run's SearchCoordinator (Durable Object RPC) does the writes and the live event stream.
 * Writes and the list need the owner (the API token, or the session cookie of the pages); one
 * run's reads need the owner or a share link for that run (see auth.ts).
 */
import { and, asc, desc, eq, gt, inArray, lt, or } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/d1';
import { type Context, Hono } from 'hono';
import { z } from 'zod';
import { generations, type RunRow, runs } from '../../schema/schema';
import { resolveConfig, type SearchConfigInput, searchConfigSchema } from '../../src/wann/config';
import { decodeGenomeBytes, genomeToJson } from '../../src/wann/genome';
import { GENERATION_CSV_COLUMNS, generationCsvLine } from '../../src/wann/record';
import type { ForkSource, RunConfig } from '../coordinator/types';
import { populationSliceKey } from '../shared/contracts';
import { fromGenerationRow } from '../shared/generation-rows';
import { readGenomes } from '../shared/population-store';
import {
  addressedRunId,
  type RunLinks,
  requireOwner,
  requireOwnerRead,
  requireRunAccess,
  runLinks,
  shareAccessResource,
} from './auth';
import type { Env } from './env';
import { ApiError, describeIssues } from './errors';
import { credentialCheck, guardEventStream } from './event-stream';

type AppContext = Context<{ Bindings: Env }>;

const RUN_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * Searches that may be queued or running at once; the next start or fork is refused with 429.
 * Every running search shares the same evaluators, so more at once only slows each of them down.
 */
export const MAX_RUNNING_SEARCHES = 8;
const ACTIVE_RUN = inArray(runs.status, ['queued', 'running']);

function tooManyRunningSearches(): ApiError {
  return new ApiError(
    429,
    'too_many_running_searches',
    `${MAX_RUNNING_SEARCHES} searches are already queued or running, the most this server runs at once; cancel one or wait for one to finish`,
  );
}

/** Refuses a start or fork early (before any work) when the ceiling is reached. */
async function requireRunSlot(c: AppContext): Promise<void> {
  const active = await drizzle(c.env.DB).$count(runs, ACTIVE_RUN);
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

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/** A run as the API shows it; its links are where this request's credential reads it (`links`). */
function runResource(row: RunRow, links: RunLinks) {
  const config = row.config as RunConfig;
  const self = links.api;
  return {
    id: row.id,
    status: row.status,
    config,
    generation: row.generation,
    generations: config.generations,
    bestFitness: row.bestFitness,
    champion:
      row.championFitness === null
        ? null
        : {
            fitness: row.championFitness,
            generation: row.championGeneration,
            index: row.championIndex,
            connections: row.championConnections,
            accuracy: row.championAccuracy,
          },
    error: row.error,
    forkOf: config.forkOf ?? null,
    timings: {
      createdAt: iso(row.createdAt),
      startedAt: iso(row.startedAt),
      updatedAt: iso(row.updatedAt),
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

/** Insert the run row, then start its coordinator; a failed start leaves a `failed` row, not a half run. */
async function createRun(c: AppContext, config: RunConfig, from?: ForkSource) {
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
    createdAt: now,
    updatedAt: now,
  });
  // Starts that raced past requireRunSlot: the later one (in creation order) gives way.
  const ahead = await db.$count(
    runs,
    and(ACTIVE_RUN, or(lt(runs.createdAt, now), and(eq(runs.createdAt, now), lt(runs.id, id)))),
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
  const c = from.champion;
  if (c && c.champion.generation !== from.generation - 1) {
    objects.push({ gen: c.champion.generation, slice: c.location.slice });
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

const listQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z
    .string()
    .regex(/^\d{1,15}\.[0-9a-f-]{36}$/, 'not a cursor returned by this API')
    .optional(),
});

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
});

const PAGE = 1000;

export const runsApp = new Hono<{ Bindings: Env }>()
  .post('/', requireOwner, async (c) => {
    const input = await readJsonObject(c);
    const parsed = searchConfigSchema.safeParse(input);
    if (!parsed.success) throw new ApiError(400, 'invalid_config', describeIssues(parsed.error));
    await requireRunSlot(c);
    const config: RunConfig = resolveConfig(input as SearchConfigInput, randomSeed);
    return createRun(c, config);
  })

  .get('/', requireOwnerRead, async (c) => {
    const q = parseQuery(c, listQuery);
    const db = drizzle(c.env.DB);
    let where: ReturnType<typeof or>;
    if (q.cursor) {
      const dot = q.cursor.indexOf('.');
      const at = Number(q.cursor.slice(0, dot));
      const id = q.cursor.slice(dot + 1);
      where = or(lt(runs.createdAt, at), and(eq(runs.createdAt, at), lt(runs.id, id)));
    }
    const rows = await db
      .select()
      .from(runs)
      .where(where)
      .orderBy(desc(runs.createdAt), desc(runs.id))
      .limit(q.limit + 1);
    const page = rows.slice(0, q.limit);
    const origin = new URL(c.req.url).origin;
    const last = page[page.length - 1];
    const next =
      rows.length > q.limit && last
        ? `${origin}/api/runs?limit=${q.limit}&cursor=${last.createdAt}.${last.id}`
        : null;
    return c.json({ runs: page.map((r) => runResource(r, runLinks(c, r.id))), next });
  })

  .get('/:id', requireRunAccess('view'), async (c) => {
    const row = await findRun(c, c.req.param('id'));
    return c.json({ ...runResource(row, runLinks(c, row.id)), access: shareAccessResource(c) });
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
            const lines = rows.map(generationCsvLine);
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
    const subscription = await coordinator(c.env, row.id).subscribe(since);
    if (!subscription.ok) {
      throw new ApiError(
        429,
        'too_many_subscribers',
        `run ${row.id} already has ${subscription.limit} open event streams, the most one run serves; close one and try again`,
        { 'Retry-After': '10' },
      );
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
    const edits = await readJsonObject(c);
    const { forkOf: _, ...base } = source.config as RunConfig;
    const parsed = searchConfigSchema.safeParse({ ...base, ...edits });
    if (!parsed.success) throw new ApiError(400, 'invalid_config', describeIssues(parsed.error));
    const merged = parsed.data;
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
    return createRun(c, config, from);
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
