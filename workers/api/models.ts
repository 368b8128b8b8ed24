/**
 * Published models: publish on demand, list versions with their test accuracies, download the
 * `.onnx` and the genome JSON, and predictions. Predictions and the Open Inference Protocol (`/v2`)
 * are answered by the inference Worker (service binding INFERENCE: onnxruntime-web stays out of
 * this bundle); this Worker only authorises and forwards them.
 */
import { and, desc, eq } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/d1';
import { type Context, Hono } from 'hono';
import { type ModelRow, models } from '../../schema/schema';
import { runPublishTask } from '../shared/publish';
import { requireApiToken, requireRunAccess } from './auth';
import type { Env } from './env';
import { ApiError } from './errors';
import { findRun } from './runs';

type AppContext = Context<{ Bindings: Env }>;

function coordinator(env: Env, runId: string) {
  return env.COORD.get(env.COORD.idFromName(runId));
}

export function modelResource(row: ModelRow, origin: string) {
  const base = `${origin}/api/runs/${row.runId}/models/${row.version}`;
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
    urls: {
      onnx: `${base}/model.onnx`,
      genome: `${base}/genome.json`,
      infer: `${origin}/v2/models/${row.runId}/versions/${row.version}/infer`,
    },
  };
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
    'Cache-Control': 'private, max-age=31536000, immutable', // a version never changes
  });
}

/** Forward to the inference Worker, keeping method, path, headers and the streamed body. */
async function forward(c: AppContext): Promise<Response> {
  try {
    return await c.env.INFERENCE.fetch(c.req.raw);
  } catch (e) {
    console.error(`api: inference service call failed: ${String(e)}`);
    throw new ApiError(503, 'inference_unavailable', 'the inference service is not available');
  }
}

export const modelsApp = new Hono<{ Bindings: Env }>()
  .post('/:id/publish', requireApiToken, async (c) => {
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
    const resource = modelResource(model, new URL(c.req.url).origin);
    return c.json(resource, request.created ? 201 : 200, { Location: resource.urls.onnx });
  })

  .get('/:id/models', requireRunAccess('view'), async (c) => {
    const run = await findRun(c, c.req.param('id'));
    const rows = await drizzle(c.env.DB)
      .select()
      .from(models)
      .where(eq(models.runId, run.id))
      .orderBy(desc(models.version));
    const origin = new URL(c.req.url).origin;
    return c.json({ runId: run.id, models: rows.map((r) => modelResource(r, origin)) });
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

  // Body limits and parsing are the inference Worker's (JSON up to 20 MiB, PNG up to 5 MiB).
  .post('/:id/predict', requireRunAccess('predict'), forward);

/** Open Inference Protocol errors are `{"error": "…"}`, whatever the cause (auth included). */
export const inferenceProxyApp = new Hono<{ Bindings: Env }>()
  .get('/', forward)
  .get('/health/live', forward)
  .get('/health/ready', forward)
  .get('/models/:model', requireRunAccess('view', 'model'), forward)
  .get('/models/:model/ready', requireRunAccess('view', 'model'), forward)
  .get('/models/:model/versions/:version', requireRunAccess('view', 'model'), forward)
  .get('/models/:model/versions/:version/ready', requireRunAccess('view', 'model'), forward)
  .post('/models/:model/infer', requireRunAccess('predict', 'model'), forward)
  .post('/models/:model/versions/:version/infer', requireRunAccess('predict', 'model'), forward);

inferenceProxyApp.onError((err, c) => {
  if (err instanceof ApiError) return c.json({ error: err.message }, err.status, err.headers);
  console.error(`api: ${c.req.method} ${c.req.path}:`, err);
  return c.json({ error: 'internal error' }, 500);
});
inferenceProxyApp.notFound((c) => c.json({ error: `no route for ${c.req.method} ${c.req.path}` }, 404));
