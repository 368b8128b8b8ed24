/**
 * Datasets as API resources: the built-ins of src/data/dataset.ts whose shards are in R2, and the
 * owner's uploaded CSV tables (D1 `datasets`, workers/datasets/). The owner lists them
 * (`GET /api/datasets`), reads one by name or id (`GET /api/datasets/:name`), uploads one
 * (`POST /api/datasets?name=…`) and deletes an upload no run uses (`DELETE /api/datasets/:name`).
 * A share link reads only its own run's (`GET /s/<token>/api/run/dataset`, or with its bearer
 * token `GET /api/runs/:id/dataset`: that route is the run's, runs.ts). Starting a run checks its
 * dataset here first, and records an upload by its id.
 *
 * Upload: `POST /api/datasets?name=NAME[&label=COLUMN][&testFraction=0.1][&seed=N]`, the body the
 * CSV file itself (`Content-Type: text/csv`, a Content-Length, at most MAX_UPLOAD_BYTES). The file
 * streams into R2 (`uploads/{id}/train.csv`) and is validated as it passes: a bad table is a 400
 * naming the row and column, and nothing stays stored. Answers 202 with the upload (status
 * 'uploaded'); a `dataset-build` task then builds the shards (status 'building' → 'ready' or
 * 'failed' with the reason; progress in [0, 1]). The same bytes with the same options again is a
 * 409 naming the dataset they already are.
 *
 * Samples: `GET /api/datasets/:name/samples[?limit=24]` (a run's own, for its share links:
 * `/api/runs/:id/dataset/samples`): class counts per split and a few training rows
 * (workers/datasets/samples.ts).
 */
import { eq, or, sql } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/d1';
import { type Context, Hono } from 'hono';
import { z } from 'zod';
import { type DatasetRow, datasets, runs } from '../../schema/schema';
import type { DatasetList, DatasetResource, UploadedDataset } from '../../src/api/types';
import { CsvFormatError } from '../../src/data/csv';
import {
  BUILTIN_DATASETS,
  buildCommand,
  builtinDataset,
  type DatasetManifest,
  DatasetUnavailableError,
  DEFAULT_DATASET,
  datasetNameSchema,
} from '../../src/data/dataset';
import { DEFAULT_SAMPLE_ROWS, MAX_SAMPLE_ROWS } from '../../src/data/dataset-samples';
import { DEFAULT_TEST_FRACTION } from '../../src/data/split';
import {
  datasetBaselinePrefix,
  datasetUploadKey,
  datasetUploadPrefix,
  shardPrefix,
  testShardKey,
  trainShardKey,
} from '../contracts/blob-keys';
import { datasetBaseline } from '../datasets/baseline';
import { deletePrefix } from '../datasets/build';
import { datasetSamples, ShardMissingError } from '../datasets/samples';
import { MAX_UPLOAD_BYTES, storeCsvUpload } from '../datasets/upload';
import {
  datasetResource,
  findUploadedDataset,
  runDatasetManifest,
  type UploadOptions,
  uploadedDatasetResource,
  uploadedManifest,
} from '../datasets/uploaded';
import { requireOwner, requireOwnerRead } from './auth';
import type { Env } from './env';
import { ApiError, describeIssues } from './errors';

export { datasetResource };

/**
 * A dataset's resource with its `baseline` (workers/datasets/baseline.ts): the cached figure, or its
 * state while it is computed; reading it queues the computation where none was (a built-in's first
 * request). `key`: a built-in's name or an upload's id.
 */
export async function resourceWithBaseline(
  env: Env,
  key: string,
  manifest: DatasetManifest,
): Promise<DatasetResource> {
  return { ...datasetResource(manifest), baseline: await datasetBaseline(env, key, manifest) };
}

/** An upload's resource; once built, its dataset with its baseline. */
async function uploadWithBaseline(env: Env, row: DatasetRow): Promise<UploadedDataset> {
  const resource = uploadedDatasetResource(row);
  const manifest = uploadedManifest(row);
  return manifest ? { ...resource, dataset: await resourceWithBaseline(env, row.id, manifest) } : resource;
}

/**
 * Whether a built-in's shards are in R2 (its first training and test shard: `npm start` uploads a
 * dataset whole). MNIST is always taken as loaded, as it was before datasets existed.
 */
export async function isDatasetLoaded(bucket: R2Bucket, manifest: DatasetManifest): Promise<boolean> {
  if (manifest.name === DEFAULT_DATASET) return true;
  const [train, test] = await Promise.all([
    bucket.head(trainShardKey(0, manifest.name)),
    bucket.head(testShardKey(0, manifest.name)),
  ]);
  return train !== null && test !== null;
}

/**
 * The dataset a new run names, checked, and the id its config records (a built-in's name, an
 * upload's id: a name can be reused after a delete, the id not): unknown is a 400, a built-in whose
 * shards are not loaded or an upload not yet built a 409 (naming the command that builds them).
 */
export async function requireLoadedDataset(
  bucket: R2Bucket,
  name: string,
  db: D1Database,
): Promise<{ id: string; manifest: DatasetManifest }> {
  const manifest = builtinDataset(name);
  if (!manifest) {
    const uploaded = await findUploadedDataset(db, name);
    if (!uploaded) {
      throw new ApiError(
        400,
        'unknown_dataset',
        `dataset: no dataset named '${name}'; built-in datasets: ${BUILTIN_DATASETS.map((d) => d.name).join(', ')}; uploads: GET /api/datasets`,
      );
    }
    const built = uploadedManifest(uploaded);
    if (!built) {
      throw new ApiError(
        409,
        'dataset_not_ready',
        `dataset: '${uploaded.name}' is ${uploaded.status}${uploaded.error ? ` (${uploaded.error})` : ''}; a run can start once it is ready (GET /api/datasets/${uploaded.name})`,
      );
    }
    return { id: uploaded.id, manifest: built };
  }
  if (!(await isDatasetLoaded(bucket, manifest))) {
    throw new ApiError(
      409,
      'dataset_not_loaded',
      `dataset: the shards of '${name}' are not loaded; build them with \`${buildCommand(name)}\`, then restart \`npm start\``,
    );
  }
  return { id: manifest.name, manifest };
}

const samplesQuerySchema = z.strictObject({
  limit: z.coerce.number().int().min(1).max(MAX_SAMPLE_ROWS).default(DEFAULT_SAMPLE_ROWS),
});

type AppContext = Context<{ Bindings: Env }>;

/** The samples answer of a dataset whose shards lie under `dataset` (a built-in's name, an upload's id). */
async function samplesAnswer(c: AppContext, dataset: string, manifest: DatasetManifest): Promise<Response> {
  const query = samplesQuerySchema.safeParse(c.req.query());
  if (!query.success) throw new ApiError(400, 'invalid_query', describeIssues(query.error));
  try {
    return c.json(await datasetSamples(c.env.BLOBS, dataset, manifest, query.data.limit));
  } catch (e) {
    if (!(e instanceof ShardMissingError)) throw e;
    const fix = builtinDataset(manifest.name)
      ? `; build them with \`${buildCommand(manifest.name)}\`, then restart \`npm start\``
      : '';
    throw new ApiError(
      409,
      'dataset_incomplete',
      `the shards of '${manifest.name}' are incomplete (${e.message})${fix}`,
    );
  }
}

/**
 * `GET /api/runs/:id/dataset/samples` (runs.ts): the samples of the dataset run `runId`'s config
 * names (`dataset`: a built-in's name or an upload's id), the only samples a share link reads.
 */
export async function runDatasetSamples(c: AppContext, runId: string, dataset: string): Promise<Response> {
  let manifest: DatasetManifest;
  try {
    manifest = await runDatasetManifest(c.env.DB, dataset);
  } catch (e) {
    if (!(e instanceof DatasetUnavailableError)) throw e;
    throw new ApiError(404, 'dataset_not_found', `run ${runId}'s dataset '${dataset}' is not known`);
  }
  return samplesAnswer(c, dataset, manifest);
}

const uploadQuerySchema = z.strictObject({
  name: datasetNameSchema,
  label: z.string().min(1).max(200).optional(),
  testFraction: z.coerce.number().gt(0).lt(1).default(DEFAULT_TEST_FRACTION),
  seed: z.coerce.number().int().min(0).max(0xffffffff).default(0),
});

/** Media types a CSV file arrives as (curl --data-binary sends octet-stream when told nothing). */
const CSV_TYPES = new Set(['text/csv', 'text/plain', 'application/octet-stream']);

function newDatasetId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(8));
  return `u-${Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')}`;
}

const sameOptions = (a: UploadOptions, b: UploadOptions) =>
  a.label === b.label && a.testFraction === b.testFraction && a.seed === b.seed;

export const datasetsApp = new Hono<{ Bindings: Env }>()
  .get('/', requireOwnerRead, async (c) => {
    const loaded = await Promise.all(BUILTIN_DATASETS.map((d) => isDatasetLoaded(c.env.BLOBS, d)));
    const uploads = await drizzle(c.env.DB).select().from(datasets).orderBy(datasets.createdAt).all();
    // `datasets` is what a run can search on (the start form's picker): the loaded built-ins and
    // the uploads that are built; `uploads` lists every upload with its build state.
    const ready = uploads.flatMap((row) => {
      const manifest = uploadedManifest(row);
      return manifest ? [{ key: row.id, manifest }] : [];
    });
    const searchable = [
      ...BUILTIN_DATASETS.filter((_, i) => loaded[i]).map((manifest) => ({ key: manifest.name, manifest })),
      ...ready,
    ];
    const list: DatasetList = {
      datasets: await Promise.all(searchable.map((d) => resourceWithBaseline(c.env, d.key, d.manifest))),
      uploads: await Promise.all(uploads.map((row) => uploadWithBaseline(c.env, row))),
    };
    return c.json(list);
  })
  .get('/:name', requireOwnerRead, async (c) => {
    const name = c.req.param('name');
    const manifest = builtinDataset(name);
    if (manifest && (await isDatasetLoaded(c.env.BLOBS, manifest)))
      return c.json(await resourceWithBaseline(c.env, manifest.name, manifest));
    const uploaded = manifest ? undefined : await findUploadedDataset(c.env.DB, name);
    if (!uploaded) throw new ApiError(404, 'dataset_not_found', `no loaded dataset named '${name}'`);
    return c.json(await uploadWithBaseline(c.env, uploaded));
  })
  .get('/:name/samples', requireOwnerRead, async (c) => {
    const name = c.req.param('name');
    const manifest = builtinDataset(name);
    if (manifest && (await isDatasetLoaded(c.env.BLOBS, manifest))) return samplesAnswer(c, name, manifest);
    const uploaded = manifest ? undefined : await findUploadedDataset(c.env.DB, name);
    if (!uploaded) throw new ApiError(404, 'dataset_not_found', `no loaded dataset named '${name}'`);
    const built = uploadedManifest(uploaded);
    if (!built) {
      throw new ApiError(
        409,
        'dataset_not_ready',
        `dataset '${uploaded.name}' is ${uploaded.status}: its samples are there once it is ready`,
      );
    }
    return samplesAnswer(c, uploaded.id, built);
  })
  .post('/', requireOwner, async (c) => {
    const query = uploadQuerySchema.safeParse(c.req.query());
    if (!query.success) throw new ApiError(400, 'invalid_query', describeIssues(query.error));
    const { name, label, testFraction, seed } = query.data;
    const type = (c.req.header('Content-Type') ?? '').split(';')[0].trim().toLowerCase();
    if (!CSV_TYPES.has(type)) {
      throw new ApiError(
        415,
        'unsupported_media_type',
        `send the CSV file itself as text/csv (got '${type}')`,
      );
    }
    const declared = c.req.header('Content-Length');
    if (declared === undefined) {
      throw new ApiError(
        411,
        'length_required',
        'an upload needs a Content-Length (it streams into storage)',
      );
    }
    const length = Number(declared);
    if (length > MAX_UPLOAD_BYTES) {
      throw new ApiError(
        413,
        'payload_too_large',
        `uploads are limited to ${MAX_UPLOAD_BYTES} bytes (256 MiB); this one declares ${length}`,
      );
    }
    const body = c.req.raw.body;
    if (!(length > 0) || body === null)
      throw new ApiError(400, 'invalid_csv', 'empty file: the body has no bytes');
    if (builtinDataset(name)) throw new ApiError(409, 'dataset_exists', `'${name}' is a built-in dataset`);
    if (await findUploadedDataset(c.env.DB, name)) {
      throw new ApiError(409, 'dataset_exists', `a dataset named '${name}' exists; pick another name`);
    }

    const id = newDatasetId();
    const key = datasetUploadKey(id, 'train');
    let stored: Awaited<ReturnType<typeof storeCsvUpload>>;
    try {
      stored = await storeCsvUpload(c.env.BLOBS, key, body, length, label);
    } catch (e) {
      await c.env.BLOBS.delete(key);
      if (e instanceof CsvFormatError) throw new ApiError(400, 'invalid_csv', e.message);
      throw e;
    }

    const options: UploadOptions = { label, testFraction, seed };
    const db = drizzle(c.env.DB);
    const sameBytes = await db
      .select()
      .from(datasets)
      .where(eq(datasets.sourceHash, stored.sourceHash))
      .all();
    const twin = sameBytes.find(
      (d) => d.status !== 'failed' && sameOptions(d.options as UploadOptions, options),
    );
    if (twin) {
      await c.env.BLOBS.delete(key);
      throw new ApiError(
        409,
        'duplicate_dataset',
        `these bytes (${stored.sourceHash}) with the same options are already dataset '${twin.name}' (${twin.id})`,
      );
    }
    const now = Date.now();
    const row = {
      id,
      name,
      status: 'uploaded' as const,
      options,
      sourceHash: stored.sourceHash,
      bytes: length,
      manifest: null,
      error: null,
      progress: 0,
      createdAt: now,
      updatedAt: now,
    };
    try {
      await db.insert(datasets).values(row);
    } catch (e) {
      // The name was taken while the file streamed in.
      await c.env.BLOBS.delete(key);
      if (await findUploadedDataset(c.env.DB, name)) {
        throw new ApiError(409, 'dataset_exists', `a dataset named '${name}' exists; pick another name`);
      }
      throw e;
    }
    try {
      await c.env.EVAL_QUEUE.send({ kind: 'dataset-build', datasetId: id }, { contentType: 'json' });
    } catch (e) {
      // No build will come: leave no row waiting for one, nor its upload.
      await db.delete(datasets).where(eq(datasets.id, id));
      await c.env.BLOBS.delete(key);
      throw e;
    }
    return c.json(uploadedDatasetResource(row), 202);
  })
  .delete('/:name', requireOwner, async (c) => {
    const name = c.req.param('name');
    if (builtinDataset(name))
      throw new ApiError(409, 'dataset_builtin', `'${name}' is built in and cannot be deleted`);
    const row = await findUploadedDataset(c.env.DB, name);
    if (!row) throw new ApiError(404, 'dataset_not_found', `no uploaded dataset named '${name}'`);
    const using = await drizzle(c.env.DB)
      .select({ id: runs.id })
      .from(runs)
      .where(
        or(
          sql`json_extract(${runs.config}, '$.dataset') = ${row.id}`,
          sql`json_extract(${runs.config}, '$.dataset') = ${row.name}`,
        ),
      )
      .limit(5)
      .all();
    if (using.length > 0) {
      throw new ApiError(
        409,
        'dataset_in_use',
        `dataset '${row.name}' is used by run${using.length === 1 ? '' : 's'} ${using.map((r) => r.id).join(', ')}; delete those runs first`,
      );
    }
    await drizzle(c.env.DB).delete(datasets).where(eq(datasets.id, row.id));
    await deletePrefix(c.env.BLOBS, shardPrefix(row.id));
    await deletePrefix(c.env.BLOBS, datasetUploadPrefix(row.id));
    await deletePrefix(c.env.BLOBS, datasetBaselinePrefix(row.id));
    return c.body(null, 204);
  });
