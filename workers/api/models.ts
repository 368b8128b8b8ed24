/**
 * Published models: publish on demand, list versions with their test accuracies, download the
 * `.onnx` and the genome JSON, and predictions. Predictions and the Open Inference Protocol (`/v2`)
 * are answered by the inference Worker (service binding INFERENCE: onnxruntime-web stays out of
 * this bundle); this Worker only authorises and forwards them.
 */
import { and, desc, eq } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/d1';
import { type Context, Hono } from 'hono';
import { z } from 'zod';
import { type ModelRow, models, type TrainingRow, trainings } from '../../schema/schema';
import type { ModelResource } from '../../src/api/types';
import {
  INFERENCE_KEY_HEADER,
  MIN_INFERENCE_KEY_LENGTH,
  usableInferenceKey,
} from '../contracts/inference-key';
import { BodyTooLargeError, readBody } from '../http/request-body';
import { MAX_JSON_BYTES, MAX_RPC_BODY_BYTES } from '../inference/limits';
import { runPublishTask } from '../models/publish';
import { MAX_TRAINING_STEPS, startTraining, TrainingRequestError, trainingProgress } from '../models/train';
import { addressedRunId, type RunLinks, requireOwner, requireRunAccess, runLinks } from './auth';
import { limitForwardedBody } from './body-limit';
import type { Env } from './env';
import { ApiError, describeIssues } from './errors';
import { findRun, readJsonObject } from './runs';

type AppContext = Context<{ Bindings: Env }>;

function coordinator(env: Env, runId: string) {
  return env.COORD.get(env.COORD.idFromName(runId));
}

/**
 * A published version; its links are where this request's credential reads it (`links`).
 * `training`: progress of training weights from this (shared) version, if one was started.
 */
export function modelResource(
  row: ModelRow,
  links: RunLinks,
  training: TrainingRow | null = null,
): ModelResource {
  const base = `${links.api}/models/${row.version}`;
  return {
    version: row.version,
    generation: row.generation,
    createdAt: new Date(row.createdAt).toISOString(),
    weights: row.weights,
    testAccuracy: row.testAccuracy,
    meanTestAccuracy: row.meanTestAccuracy,
    ensembleTestAccuracy: row.ensembleTestAccuracy,
    tunedWeight: row.tunedWeight,
    tunedTestAccuracy: row.tunedTestAccuracy,
    connections: row.connections,
    hiddenNodes: row.hiddenNodes,
    variant: row.variant,
    trainedFrom: row.trainedFrom,
    training: training && row.variant === 'shared' ? trainingProgress(training) : null,
    urls: {
      onnx: `${base}/model.onnx`,
      genome: `${base}/genome.json`,
      ...(links.predict
        ? { infer: `${links.origin}/v2/models/${row.runId}/versions/${row.version}/infer` }
        : {}),
    },
  };
}

/** Body of `POST /api/runs/:id/models/:version/train` (every field optional). */
const trainRequestSchema = z.strictObject({
  /** Adam steps in all (minibatches of 128 training images). */
  steps: z.number().int().min(1).max(MAX_TRAINING_STEPS).optional(),
  /** Steps per queued invocation (at most the model's CPU bound; default that bound). */
  stepsPerInvocation: z.number().int().min(1).optional(),
});

async function trainingOf(c: AppContext, row: ModelRow): Promise<TrainingRow | null> {
  const t = await drizzle(c.env.DB)
    .select()
    .from(trainings)
    .where(and(eq(trainings.runId, row.runId), eq(trainings.version, row.version)))
    .get();
  return t ?? null;
}

/** `:version` is 1, 2, … or `latest`. */
async function findModel(c: AppContext, runId: string, version: string): Promise<ModelRow> {
  const db = drizzle(c.env.DB);
  let row: ModelRow | undefined;
  if (version === 'latest') {
    row = await db.select().from(models).where(eq(models.runId, runId)).orderBy(desc(models.version)).get();
    if (!row) throw new ApiError(404, 'no_model', `run ${runId} has no published model yet`);
    return row;
  }
  if (/^[1-9]\d{0,8}$/.test(version)) {
    row = await db
      .select()
      .from(models)
      .where(and(eq(models.runId, runId), eq(models.version, Number(version))))
      .get();
  }
  if (!row) throw new ApiError(404, 'model_not_found', `run ${runId} has no model version '${version}'`);
  return row;
}

async function download(c: AppContext, key: string, filename: string, contentType: string) {
  const object = await c.env.BLOBS.get(key);
  if (!object) throw new ApiError(404, 'blob_missing', `the stored file ${key} is missing`);
  return c.body(object.body, 200, {
    'Content-Type': contentType,
    'Content-Length': String(object.size),
    'Content-Disposition': `attachment; filename="${filename}"`,
    // A version never changes, but the credential that read it can end: nothing may keep a copy.
    'Cache-Control': 'private, no-store',
  });
}

/**
 * Forward to the inference Worker; the path is this request's, or `path` (predictions under a
 * share link go to the run's canonical path). A request without a body, or with a declared length
 * of at most MAX_RPC_BODY_BYTES, is read here and sent as plain values over RPC (`handle`: the
 * cheaper hop, see workers/inference/index.ts); anything else is streamed over `fetch` with its
 * method, headers and query, and the inference Worker counts it against its limits.
 */
/** This Worker has no usable `INFERENCE_KEY` (a secret the deploy must set, README "Deploy"). */
class InferenceKeyMissing extends Error {
  constructor() {
    super(
      `INFERENCE_KEY is not set (or shorter than ${MIN_INFERENCE_KEY_LENGTH} characters): streamed predictions cannot reach the inference Worker`,
    );
  }
}

async function forward(c: AppContext, path?: string): Promise<Response> {
  const raw = c.req.raw;
  const url = new URL(raw.url);
  const target = path === undefined ? raw.url : `${url.origin}${path}${url.search}`;
  const length = c.req.header('Content-Length');
  const declared = length === undefined ? Number.NaN : Number(length);
  let small: Uint8Array | null | undefined;
  if (!raw.body) small = null;
  else if (Number.isInteger(declared) && declared >= 0 && declared <= MAX_RPC_BODY_BYTES) {
    try {
      small = await readBody(raw.body, length, MAX_RPC_BODY_BYTES);
    } catch (e) {
      if (e instanceof BodyTooLargeError) {
        throw new ApiError(
          413,
          'payload_too_large',
          `the body is longer than its Content-Length (${length})`,
        );
      }
      throw e;
    }
  }
  try {
    if (small !== undefined) {
      const answer = await c.env.INFERENCE.handle({
        method: raw.method,
        url: target,
        contentType: c.req.header('Content-Type') ?? null,
        body: small,
      });
      const headers: Record<string, string> = {};
      if (answer.contentType !== null) headers['Content-Type'] = answer.contentType;
      return new Response(answer.body, { status: answer.status, headers });
    }
    if (!usableInferenceKey(c.env.INFERENCE_KEY)) throw new InferenceKeyMissing();
    // The inference Worker answers only requests that carry the shared key (its URL is not a door).
    const forwarded = new Request(target, raw);
    forwarded.headers.set(INFERENCE_KEY_HEADER, c.env.INFERENCE_KEY);
    return await c.env.INFERENCE.fetch(forwarded);
  } catch (e) {
    if (e instanceof InferenceKeyMissing) {
      console.error(`api: ${e.message}`);
      throw new ApiError(
        503,
        'inference_unavailable',
        'the inference service is not configured on this server',
      );
    }
    console.error(`api: inference service call failed: ${String(e)}`);
    throw new ApiError(503, 'inference_unavailable', 'the inference service is not available');
  }
}

export const modelsApp = new Hono<{ Bindings: Env }>()
  .post('/:id/publish', requireOwner, async (c) => {
    const run = await findRun(c, c.req.param('id'));
    const stub = coordinator(c.env, run.id);
    const request = await stub.requestPublication();
    if (!request.ok) {
      throw new ApiError(
        409,
        'no_champion',
        `run ${run.id} has no champion yet (it appears after the first finished generation)`,
      );
    }
    const { task } = request;
    let model = await drizzle(c.env.DB)
      .select()
      .from(models)
      .where(and(eq(models.runId, run.id), eq(models.version, task.version)))
      .get();
    if (!model) {
      // Built in this request's invocation, not on the coordinator's thread; the queued task for
      // the same version (if any) does the same idempotent steps.
      try {
        model = await runPublishTask(c.env, task);
      } catch (e) {
        throw new ApiError(503, 'publish_failed', `publishing failed: ${(e as Error).message}`);
      }
    }
    await stub.publicationDone(task.version, { ok: true, generation: model.generation });
    const resource = modelResource(model, runLinks(c, run.id));
    return c.json(resource, request.created ? 201 : 200, { Location: resource.urls.onnx });
  })

  .get('/:id/models', requireRunAccess('view'), async (c) => {
    const run = await findRun(c, c.req.param('id'));
    const rows = await drizzle(c.env.DB)
      .select()
      .from(models)
      .where(eq(models.runId, run.id))
      .orderBy(desc(models.version));
    const links = runLinks(c, run.id);
    const progress = new Map(
      (await drizzle(c.env.DB).select().from(trainings).where(eq(trainings.runId, run.id))).map((t) => [
        t.version,
        t,
      ]),
    );
    return c.json({
      runId: run.id,
      models: rows.map((r) => modelResource(r, links, progress.get(r.version) ?? null)),
    });
  })

  .get('/:id/models/:version', requireRunAccess('view'), async (c) => {
    const run = await findRun(c, c.req.param('id'));
    const row = await findModel(c, run.id, c.req.param('version'));
    return c.json(modelResource(row, runLinks(c, run.id), await trainingOf(c, row)));
  })

  // Train per-connection weights from a shared-weight version (queued work: workers/models/train.ts).
  .post('/:id/models/:version/train', requireOwner, async (c) => {
    const run = await findRun(c, c.req.param('id'));
    const parsed = trainRequestSchema.safeParse(await readJsonObject(c));
    if (!parsed.success) throw new ApiError(400, 'invalid_training', describeIssues(parsed.error));
    const row = await findModel(c, run.id, c.req.param('version'));
    const trainShards = (run.config as { trainShards?: number }).trainShards ?? 60;
    let training: TrainingRow;
    try {
      training = await startTraining(c.env, row, trainShards, parsed.data);
    } catch (e) {
      if (e instanceof TrainingRequestError) throw new ApiError(e.status, e.code, e.message);
      throw e;
    }
    return c.json(modelResource(row, runLinks(c, run.id), training), 202);
  })

  .get('/:id/models/:version/model.onnx', requireRunAccess('view'), async (c) => {
    const run = await findRun(c, c.req.param('id'));
    const row = await findModel(c, run.id, c.req.param('version'));
    return download(c, row.onnxKey, `wann-${run.id}-v${row.version}.onnx`, 'application/octet-stream');
  })

  .get('/:id/models/:version/genome.json', requireRunAccess('view'), async (c) => {
    const run = await findRun(c, c.req.param('id'));
    const row = await findModel(c, run.id, c.req.param('version'));
    return download(c, row.genomeKey, `wann-${run.id}-v${row.version}.genome.json`, 'application/json');
  })

  // A declared length over the JSON limit is refused here; the inference Worker counts streamed
  // bodies and applies each type's limit (JSON 20 MiB, PNG ~4 MiB) and every other check.
  .post('/:id/predict', limitForwardedBody(MAX_JSON_BYTES), requireRunAccess('predict'), (c) =>
    forward(c, `/api/runs/${encodeURIComponent(addressedRunId(c, c.req.param('id')))}/predict`),
  );

/** Open Inference Protocol errors are `{"error": "…"}`, whatever the cause (auth included). */
const V2_ROUTES: readonly [RegExp, 'GET' | 'POST'][] = [
  [/^\/v2\/?$/, 'GET'],
  [/^\/v2\/health\/(live|ready)$/, 'GET'],
  [/^\/v2\/models\/[^/]+(\/versions\/[^/]+)?(\/ready)?$/, 'GET'],
  [/^\/v2\/models\/[^/]+(\/versions\/[^/]+)?\/infer$/, 'POST'],
];

export const inferenceProxyApp = new Hono<{ Bindings: Env }>()
  .use(limitForwardedBody(MAX_JSON_BYTES))
  .get('/', (c) => forward(c))
  .get('/health/live', (c) => forward(c))
  .get('/health/ready', (c) => forward(c))
  .get('/models/:model', requireRunAccess('view', 'model'), (c) => forward(c))
  .get('/models/:model/ready', requireRunAccess('view', 'model'), (c) => forward(c))
  .get('/models/:model/versions/:version', requireRunAccess('view', 'model'), (c) => forward(c))
  .get('/models/:model/versions/:version/ready', requireRunAccess('view', 'model'), (c) => forward(c))
  .post('/models/:model/infer', requireRunAccess('predict', 'model'), (c) => forward(c))
  .post('/models/:model/versions/:version/infer', requireRunAccess('predict', 'model'), (c) => forward(c))
  // Anything else under /v2, in the protocol's shape too (a sub-app's notFound is not used once
  // mounted): 405 for a known path with another method, else 404.
  .all('/*', (c) => {
    const allowed = V2_ROUTES.find(([path]) => path.test(c.req.path))?.[1];
    if (allowed) {
      return c.json({ error: `${c.req.method} is not allowed on ${c.req.path}; use ${allowed}` }, 405, {
        Allow: allowed,
      });
    }
    return c.json({ error: `no route for ${c.req.method} ${c.req.path}` }, 404);
  });

inferenceProxyApp.onError((err, c) => {
  if (err instanceof ApiError) return c.json({ error: err.message }, err.status, err.headers);
  console.error(`api: ${c.req.method} ${c.req.path}:`, err);
  return c.json({ error: 'internal error' }, 500);
});
