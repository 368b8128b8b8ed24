/**
 * Inference Worker: serves published champions with onnxruntime-web. Reached only through the API
 * Worker's `INFERENCE` service binding (which authorises the caller), on the same paths, as an HTTP
 * request (`fetch`, bodies streamed; it must carry the shared `INFERENCE_KEY`, or it is a 404:
 * workers/contracts/inference-key.ts) or as plain values over RPC (`handle`, small bodies read by
 * the API Worker; the cheaper hop, which only a service binding can reach):
 * - Open Inference Protocol (KServe v2) REST under /v2: health, model metadata/readiness, infer.
 *   Errors are `{"error": "…"}`, as that protocol specifies.
 * - `POST /api/runs/:id/predict`: JSON pixels or a PNG → top-k labels. Errors in the API's shape,
 *   `{"error": {"code", "message"}}`.
 * The model is the run id; the version is the newest published unless `/versions/{v}` says otherwise.
 * A model of a dataset other than MNIST (its run's config names it, src/data/dataset.ts) is served
 * as that dataset says: its preprocessing of raw rows, its class count, its class names in answers;
 * an MNIST model's answers are exactly what they were before datasets existed.
 * Sessions are cached per (run, version) in the isolate, and so are the D1 rows naming them: a newly
 * published version is served within NEWEST_TTL_MS (2 s), at once where `modelPublished` reached
 * (directory.ts).
 */
import { WorkerEntrypoint } from 'cloudflare:workers';
import { and, desc, eq } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/d1';
import { type Context, Hono } from 'hono';
import { type ModelRow, models, runs } from '../../schema/schema';
import { describeAnswer, type ModelAnswer } from '../../src/api/model-answer';
import { builtinDataset, type DatasetManifest, preprocessedShape, rawFeatures } from '../../src/data/dataset';
import { combineEnsemble } from '../../src/onnx/ensemble';
import { carriesInferenceKey } from '../contracts/inference-key';
import { runDatasetManifest } from '../datasets/uploaded';
import { BodyTooLargeError, drainBody, readBody } from '../http/request-body';
import { ModelDirectory } from './directory';
import { ModelCache } from './model-cache';
import {
  type ImageBatch,
  type ImageGeometry,
  InputError,
  MAX_JSON_BYTES,
  MAX_PNG_BYTES,
  parseInferRequest,
  parsePredictJson,
  parsePredictPng,
  type WeightChoice,
  withoutDeskew,
} from './protocol';
import { LoadedModel } from './runtime';
import type { InferenceEnv } from './worker-configuration';

type Ctx = Context<{ Bindings: InferenceEnv }>;

const RUN_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** MNIST's classes (digits 0–9): every model whose run names no other dataset. */
const CLASSES = 10;
const cache = new ModelCache(LoadedModel.load);
const directory = new ModelDirectory();

/**
 * The dataset of a run off MNIST (null: MNIST). A run's config never changes, so it is read once
 * per isolate; the map is emptied when it grows past a bound, never read stale.
 */
const runDatasets = new Map<string, DatasetManifest | null>();
const MAX_RUN_DATASETS = 1024;
async function modelDataset(env: InferenceEnv, runId: string): Promise<DatasetManifest | null> {
  const known = runDatasets.get(runId);
  if (known !== undefined) return known;
  const row = await drizzle(env.DB)
    .select({ config: runs.config })
    .from(runs)
    .where(eq(runs.id, runId))
    .get();
  const name = (row?.config as { dataset?: unknown } | undefined)?.dataset;
  // An upload (named by its id in the config) has its manifest in D1: a ready one never changes.
  const dataset =
    typeof name === 'string' && name !== 'mnist'
      ? (builtinDataset(name) ?? (await runDatasetManifest(env.DB, name)))
      : null;
  if (runDatasets.size >= MAX_RUN_DATASETS) runDatasets.clear();
  runDatasets.set(runId, dataset);
  return dataset;
}

/**
 * The sizes of an image dataset other than MNIST's raw 28×28 → 16×16 (an idx upload at its own
 * size), whose rows are parsed and preprocessed for it (protocol.ts); null for MNIST's sizes
 * (mnist, fashion-mnist: their path is unchanged) and for tables.
 */
function imageGeometry(dataset: DatasetManifest | null): ImageGeometry | undefined {
  const p = dataset?.preprocessing;
  if (!dataset || p?.kind !== 'image') return undefined;
  const [rawHeight, rawWidth] = dataset.rawShape;
  if (rawHeight === 28 && rawWidth === 28 && p.width === 16 && p.height === 16) return undefined;
  return { rawWidth, rawHeight, width: p.width, height: p.height, deskew: p.deskew };
}

/** The batch as the model's dataset preprocesses raw rows (MNIST's deskew was applied in parsing). */
function forDataset(batch: ImageBatch, dataset: DatasetManifest | null): ImageBatch {
  // A tabular model's rows go in raw: its graph standardises them (publish.ts); rows of an image
  // dataset at its own sizes were preprocessed for it in parsing.
  const p = dataset?.preprocessing;
  if (imageGeometry(dataset)) return batch;
  return p?.kind === 'image' && !p.deskew ? withoutDeskew(batch) : batch;
}

/** The published model row for (run, version or newest); rows are cached (see directory.ts). */
async function findModel(env: InferenceEnv, runId: string, version?: string): Promise<ModelRow> {
  if (!RUN_ID.test(runId)) throw new InputError(404, `unknown model '${runId}' (models are named by run id)`);
  let v: number | undefined;
  if (version !== undefined) {
    v = /^[1-9]\d{0,8}$/.test(version) ? Number(version) : Number.NaN;
    if (Number.isNaN(v)) throw new InputError(404, `unknown version '${version}' (versions are 1, 2, …)`);
  }
  const db = drizzle(env.DB);
  const row = await directory.get(runId, v, () =>
    db
      .select()
      .from(models)
      .where(v === undefined ? eq(models.runId, runId) : and(eq(models.runId, runId), eq(models.version, v)))
      .orderBy(desc(models.version))
      .limit(1)
      .get(),
  );
  if (row) return row;
  const run = await db.select({ id: runs.id }).from(runs).where(eq(runs.id, runId)).get();
  if (!run) throw new InputError(404, `unknown model '${runId}': no such run`);
  if (v !== undefined) throw new InputError(404, `run ${runId} has no published version ${v}`);
  throw new InputError(404, `run ${runId} has no published model yet (POST /api/runs/${runId}/publish)`);
}

/** Run `work` on the row's session, loaded on a miss; held (not released) until `work` ends. */
function withModel<T>(
  env: InferenceEnv,
  row: ModelRow,
  work: (model: LoadedModel) => Promise<T> | T,
): Promise<T> {
  const load = async () => {
    const object = await env.BLOBS.get(row.onnxKey);
    if (!object) throw new InputError(503, `model file ${row.onnxKey} is missing from storage`);
    return new Uint8Array(await object.arrayBuffer());
  };
  return cache.use(`${row.runId}/${row.version}`, load, work);
}

/** Which model answered: version, variant, and the weights that voted. */
function answeredBy(row: ModelRow, trained: boolean, weight: WeightChoice): ModelAnswer {
  return {
    version: row.version,
    variant: trained ? 'trained' : 'shared',
    trainedFrom: row.trainedFrom ?? null,
    weights: trained ? 'trained' : weight,
  };
}

/** The same, as `/v2` response parameters (snake_case, string values as the protocol's). */
function answerParameters(a: ModelAnswer) {
  return {
    variant: a.variant,
    ...(a.trainedFrom != null ? { trained_from: String(a.trainedFrom) } : {}),
    answered_by: describeAnswer(a),
  };
}

interface Answer {
  probabilities: Float32Array;
  labels: Int32Array;
  /** Ensemble only: votes per class, count × classes. */
  votes?: Int32Array;
}

async function answer(
  model: LoadedModel,
  row: ModelRow,
  sent: ImageBatch,
  weight: WeightChoice,
  dataset: DatasetManifest | null,
): Promise<Answer> {
  const classes = dataset?.classes.length ?? CLASSES;
  const batch = forDataset(sent, dataset);
  const features = batch.images.length / batch.count;
  if (model.trained) {
    // Trained per-connection weights: one network, no shared weight to choose.
    if (weight !== 'ensemble') {
      throw new InputError(
        400,
        `version ${row.version} has trained per-connection weights: shared_weight does not apply (leave it out)`,
      );
    }
    return model.runTrained(batch.images, batch.count, features);
  }
  const weights = weight === 'ensemble' ? row.weights : [weight];
  const runs = await model.runWeights(batch.images, batch.count, features, weights);
  if (weight !== 'ensemble') return runs[0];
  const combined = combineEnsemble(
    runs.map((r) => r.probabilities),
    runs.map((r) => r.labels),
    batch.count,
    classes,
  );
  const votes = new Int32Array(batch.count * classes);
  for (const r of runs) for (let i = 0; i < batch.count; i++) votes[i * classes + r.labels[i]]++;
  return { ...combined, votes };
}

/** What a model of a dataset off MNIST declares beside MNIST's metadata: its input shapes and classes. */
function datasetParameters(dataset: DatasetManifest) {
  const preprocessed = preprocessedShape(dataset);
  return {
    dataset: dataset.name,
    raw_input_shape: [-1, rawFeatures(dataset)],
    preprocessed_input_shape: [-1, dataset.features],
    input_shapes:
      dataset.kind === 'tabular'
        ? `[N,${dataset.features}] raw feature values (standardised inside the model)`
        : `[N,${rawFeatures(dataset)}] raw ${dataset.rawShape.join('x')} in [0,1] (preprocessed here) or [N,${dataset.features}] preprocessed ${preprocessed.join('x')}`,
    preprocessing: dataset.preprocessing,
    classes: dataset.classes,
  };
}

function modelMetadata(row: ModelRow, versions: number[], dataset: DatasetManifest | null) {
  return {
    name: row.runId,
    versions: versions.map(String),
    platform: 'onnxruntime_onnx',
    inputs: [
      { name: 'image', datatype: 'FP32', shape: [-1, dataset?.kind === 'tabular' ? dataset.features : -1] },
    ],
    outputs: [
      { name: 'probabilities', datatype: 'FP32', shape: [-1, dataset?.classes.length ?? CLASSES] },
      { name: 'label', datatype: 'INT64', shape: [-1] },
    ],
    parameters: {
      version: row.version,
      generation: row.generation,
      input_shapes: '[N,784] raw 28x28 in [0,1] (preprocessed here) or [N,256] preprocessed 16x16',
      shared_weight:
        row.variant === 'trained'
          ? 'not applicable: this version has trained per-connection weights (leave shared_weight out)'
          : 'a number in [-10, 10], or "ensemble" (default): majority vote over the weights',
      weights: row.weights,
      test_accuracy: row.testAccuracy,
      ensemble_test_accuracy: row.ensembleTestAccuracy,
      tuned_weight: row.tunedWeight,
      variant: row.variant,
      trained_from: row.trainedFrom,
      ...(dataset ? datasetParameters(dataset) : {}),
    },
  };
}

/** The 4xx an error stands for, or null for a fault of ours (500). */
function inputError(err: Error): InputError | null {
  if (err instanceof InputError) return err;
  if (err instanceof BodyTooLargeError) return new InputError(413, err.message);
  return null;
}

/**
 * `{"error": "…"}` (Open Inference Protocol) for /v2. An unread request body (answered early, e.g.
 * an unknown model) is drained first, so the client hears the answer (workers/http/request-body.ts).
 */
async function oipError(err: Error, c: Ctx): Promise<Response> {
  await drainBody(c.req.raw);
  const input = inputError(err);
  if (input) return c.json({ error: input.message }, input.status);
  console.error(`inference: ${c.req.method} ${c.req.path}:`, err);
  return c.json({ error: 'internal error' }, 500);
}

const API_CODES: Record<number, string> = {
  400: 'invalid_input',
  404: 'model_not_found',
  405: 'method_not_allowed',
  409: 'conflict',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
  503: 'unavailable',
};

const v2 = new Hono<{ Bindings: InferenceEnv }>()
  .get('/', (c) => c.json({ name: 'wann-inference', version: '1', extensions: [] }))
  .get('/health/live', (c) => c.json({ live: true }))
  .get('/health/ready', (c) => c.json({ ready: true }));

for (const base of ['/models/:model', '/models/:model/versions/:version']) {
  v2.get(base, async (c) => {
    const row = await findModel(c.env, c.req.param('model') ?? '', c.req.param('version'));
    const versions = await drizzle(c.env.DB)
      .select({ version: models.version })
      .from(models)
      .where(eq(models.runId, row.runId))
      .orderBy(models.version);
    return c.json(
      modelMetadata(
        row,
        versions.map((v) => v.version),
        await modelDataset(c.env, row.runId),
      ),
    );
  });
  // Ready = loaded: this also warms the session, so the first inference is not the slow one.
  v2.get(`${base}/ready`, async (c) => {
    const row = await findModel(c.env, c.req.param('model') ?? '', c.req.param('version'));
    await withModel(c.env, row, () => undefined);
    return c.json({ name: row.runId, version: String(row.version), ready: true });
  });
  v2.post(`${base}/infer`, async (c) => {
    // The body is parsed as it is read and not kept: its bytes are garbage once the numbers are out.
    // A tabular model's row width is its dataset's, so its run is read first (an image model's
    // request is checked before its model is looked up, as it always was).
    const name = c.req.param('model') ?? '';
    const known = RUN_ID.test(name) ? await modelDataset(c.env, name) : null;
    const request = parseInferRequest(
      await readBody(c.req.raw.body, c.req.header('Content-Length'), MAX_JSON_BYTES),
      known?.kind === 'tabular' ? known.features : undefined,
      imageGeometry(known),
    );
    const row = await findModel(c.env, name, c.req.param('version'));
    const dataset = await modelDataset(c.env, row.runId);
    const { trained, result } = await withModel(c.env, row, async (model) => ({
      trained: model.trained,
      result: await answer(model, row, request.batch, request.weight, dataset),
    }));
    const n = request.batch.count;
    const classes = dataset?.classes.length ?? CLASSES;
    const outputs = request.outputs.map((name) =>
      name === 'probabilities'
        ? { name, datatype: 'FP32', shape: [n, classes], data: Array.from(result.probabilities) }
        : {
            name,
            datatype: 'INT64',
            shape: [n],
            data: Array.from(result.labels),
            // The labels' class names, where the dataset has names other than the digits.
            ...(dataset
              ? { parameters: { class_names: Array.from(result.labels, (l) => dataset.classes[l]) } }
              : {}),
          },
    );
    return c.json({
      model_name: row.runId,
      model_version: String(row.version),
      ...(request.id === undefined ? {} : { id: request.id }),
      // Which model answered, in words too: the version and its variant (answeredBy below).
      parameters: {
        ...(trained ? { weights: 'trained' } : { shared_weight: request.weight }),
        ...answerParameters(answeredBy(row, trained, request.weight)),
      },
      outputs,
    });
  });
}
v2.onError(oipError);

/**
 * Classes ranked for top-k: by votes (ensemble) then probability; ties → lower class. A dataset off
 * MNIST also names each class (`className`).
 */
function topK(result: Answer, i: number, k: number, dataset: DatasetManifest | null) {
  const classes = dataset?.classes.length ?? CLASSES;
  const order = Array.from({ length: classes }, (_, j) => j);
  const p = (j: number) => result.probabilities[i * classes + j];
  const v = (j: number) => (result.votes ? result.votes[i * classes + j] : 0);
  order.sort((a, b) => v(b) - v(a) || p(b) - p(a) || a - b);
  return order.slice(0, k).map((label) => ({
    label,
    ...(dataset ? { className: dataset.classes[label] } : {}),
    score: p(label),
    ...(result.votes ? { votes: v(label) } : {}),
  }));
}

const predict = new Hono<{ Bindings: InferenceEnv }>().post('/:id/predict', async (c) => {
  const type = (c.req.header('Content-Type') ?? '').split(';')[0].trim().toLowerCase();
  const png = type === 'image/png';
  if (!png && type !== 'application/json' && type !== '') {
    throw new InputError(415, `send application/json ({"pixels": [[…]]}) or image/png, not ${type}`);
  }
  const id = c.req.param('id');
  const tabular = RUN_ID.test(id) ? await modelDataset(c.env, id) : null;
  if (tabular?.kind === 'tabular') {
    throw new InputError(
      400,
      `run ${id} searched the tabular dataset '${tabular.name}': predict takes images; send its ${tabular.features} raw feature values to POST /v2/models/${id}/infer`,
    );
  }
  const body = () =>
    readBody(c.req.raw.body, c.req.header('Content-Length'), png ? MAX_PNG_BYTES : MAX_JSON_BYTES);
  // Not kept in a variable: the body's bytes are garbage once parsed.
  const geometry = imageGeometry(tabular);
  const request = png
    ? await parsePredictPng(await body(), new URL(c.req.url).searchParams, geometry)
    : parsePredictJson(await body(), geometry);
  // `?version=N` picks a published version (a trained one too); without it, the newest.
  const row = await findModel(
    c.env,
    c.req.param('id'),
    new URL(c.req.url).searchParams.get('version') ?? undefined,
  );
  const dataset = await modelDataset(c.env, row.runId);
  const { trained, result } = await withModel(c.env, row, async (model) => ({
    trained: model.trained,
    result: await answer(model, row, request.batch, request.weight, dataset),
  }));
  const predictions = [];
  for (let i = 0; i < request.batch.count; i++) predictions.push(topK(result, i, request.topK, dataset));
  const by = answeredBy(row, trained, request.weight);
  return c.json({
    model: { runId: row.runId, ...by, answeredBy: describeAnswer(by) },
    sharedWeight: trained ? null : request.weight,
    predictions,
  });
});
predict.onError(async (err, c) => {
  await drainBody(c.req.raw);
  const input = inputError(err);
  if (input) {
    return c.json(
      { error: { code: API_CODES[input.status] ?? 'invalid_input', message: input.message } },
      input.status,
    );
  }
  console.error(`inference: ${c.req.method} ${c.req.path}:`, err);
  return c.json({ error: { code: 'internal', message: 'internal error' } }, 500);
});

export const inferenceApp = new Hono<{ Bindings: InferenceEnv }>()
  .route('/v2', v2)
  .route('/api/runs', predict);
inferenceApp.notFound(async (c) => {
  await drainBody(c.req.raw);
  return c.json({ error: `no route for ${c.req.method} ${c.req.path}` }, 404);
});

/**
 * A request the API Worker forwards as plain data (`handle`): its method, URL (path and query),
 * `Content-Type` and whole body, which the API Worker has already read (small bodies only; larger
 * ones come as an HTTP request over `fetch`, streamed).
 */
export interface ForwardedRequest {
  method: string;
  url: string;
  contentType: string | null;
  body: Uint8Array | null;
}

/** The answer to a ForwardedRequest: status and the whole body (every route answers JSON, no other header). */
export interface ForwardedResponse {
  status: number;
  contentType: string | null;
  body: string;
}

/**
 * The Worker: HTTP (forwarded by the API Worker), the same routes as one RPC method (`handle`), and
 * one RPC method for the publisher. A class (WorkerEntrypoint), because service-binding RPC calls
 * methods on an entrypoint class.
 */
export default class InferenceWorker extends WorkerEntrypoint<InferenceEnv> {
  /**
   * Only the API Worker's forwarded requests (they carry the shared key): anyone else who reaches
   * this Worker's URL gets the 404 of an unknown path, whatever the path.
   */
  override async fetch(request: Request): Promise<Response> {
    if (!(await carriesInferenceKey(request, this.env.INFERENCE_KEY))) {
      await drainBody(request);
      return Response.json(
        { error: `no route for ${request.method} ${new URL(request.url).pathname}` },
        { status: 404 },
      );
    }
    return inferenceApp.fetch(request, this.env, this.ctx);
  }

  /**
   * The routes of `fetch`, called over RPC with the body already read. Measured under `wrangler
   * dev`, a service-binding `fetch` that streams the request and the answer between the two
   * isolates cost about as much as everything else in a warm 1-image request; an RPC call with
   * the bytes and the answer as plain values costs less than a bodiless `fetch` (README,
   * bench:inference). The checks are the same: this runs the same Hono app on a Request built
   * from the parts.
   */
  async handle(request: ForwardedRequest): Promise<ForwardedResponse> {
    const headers = new Headers();
    if (request.contentType !== null) headers.set('Content-Type', request.contentType);
    if (request.body !== null) headers.set('Content-Length', String(request.body.byteLength));
    const response: Response = await inferenceApp.fetch(
      new Request(request.url, { method: request.method, headers, body: request.body }),
      this.env,
      this.ctx,
    );
    return {
      status: response.status,
      // (A copy: this project's merged Node and Workers typings lose `get` on `Response.headers`.)
      contentType: new Headers(response.headers).get('Content-Type'),
      body: await response.text(),
    };
  }

  /**
   * A new version of `runId` is in D1: forget the cached "newest version" so the next request
   * serves it. This reaches the isolate the binding lands on; others catch up within
   * NEWEST_TTL_MS (directory.ts).
   */
  modelPublished(runId: string): void {
    directory.invalidate(runId);
  }
}
