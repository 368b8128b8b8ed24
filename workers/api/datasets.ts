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
 * Several files (an idx image set, or a CSV table with a separate test table) come as three steps,
 * each file streamed in its own request so nothing holds a whole upload:
 * 1. `POST /api/datasets` with JSON `{name, format: 'idx'|'csv', files?: [roles], options?}`
 *    announces the upload: 201, status 'pending'. Roles: idx `images`, `labels` (and
 *    `test-images` + `test-labels`); csv `table` (and `test-table`). Options: csv `label`; idx
 *    `imageSize` (16, "WxH" or {width, height}; default 16×16), `deskew` (default false),
 *    `classes` (names by label value); both `testFraction` (only without test files), `seed`.
 * 2. `PUT /api/datasets/:id/files/:role`, the file as the body (Content-Length, at most 256 MiB;
 *    idx gzipped or plain), streams into R2 (`uploads/{id}/…`), hashed and read as it passes.
 * 3. `POST /api/datasets/:id/build` checks the set (every file there, image/label counts, test
 *    images of the training size, classes), recognises a repeated set (409: the hash of the
 *    files' hashes and the same options) and queues the build: 202, status 'uploaded'.
 * A refused file or set is a 400 naming the problem, and the whole upload is removed (its row and
 * files): nothing half-written stays; send it again. A pending upload is deleted like any other.
 */
import { eq, or, sql } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/d1';
import { type Context, Hono } from 'hono';
import { z } from 'zod';
import { type DatasetRow, datasets, runs } from '../../schema/schema';
import type { DatasetList, DatasetResource, UploadedDataset } from '../../src/api/types';
import { CsvFormatError } from '../../src/data/csv';
import { CsvDatasetError } from '../../src/data/csv-dataset';
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
import { IdxFormatError } from '../../src/data/idx';
import { checkIdxSet, type IdxFileSummary } from '../../src/data/idx-dataset';
import { UPLOAD_LIMITS } from '../../src/data/limits';
import { DEFAULT_TEST_FRACTION } from '../../src/data/split';
import {
  datasetBaselinePrefix,
  datasetFileKey,
  datasetUploadKey,
  datasetUploadPrefix,
  shardPrefix,
  testShardKey,
  trainShardKey,
} from '../contracts/blob-keys';
import { datasetBaseline } from '../datasets/baseline';
import { deletePrefix } from '../datasets/build';
import { datasetSamples, ShardMissingError } from '../datasets/samples';
import { MAX_UPLOAD_BYTES, storeCsvUpload, storeIdxUpload } from '../datasets/upload';
import {
  buildOptionsKey,
  DEFAULT_IMAGE_SIDE,
  datasetResource,
  findUploadedDataset,
  runDatasetManifest,
  UPLOAD_ROLES,
  type UploadedFile,
  type UploadOptions,
  type UploadRole,
  uploadedDatasetResource,
  uploadedManifest,
  uploadOptionsSchema,
} from '../datasets/uploaded';
import { BodyTooLargeError, readBody } from '../http/request-body';
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

const sameOptions = (a: UploadOptions, b: UploadOptions) => buildOptionsKey(a) === buildOptionsKey(b);

/** A problem with an uploaded file or set, for the person who sent it (400); null: our fault. */
class UploadFileError extends Error {
  override name = 'UploadFileError';
}

function uploadProblem(e: unknown, what: string): string | null {
  if (e instanceof UploadFileError || e instanceof IdxFormatError) return e.message;
  if (e instanceof CsvFormatError || e instanceof CsvDatasetError) return `${what}: ${e.message}`;
  return null;
}

/** Content-Length of a file upload: required (411), within MAX_UPLOAD_BYTES (413). */
function declaredLength(declared: string | undefined): number {
  if (declared === undefined) {
    throw new ApiError(411, 'length_required', 'an upload needs a Content-Length (it streams into storage)');
  }
  const length = Number(declared);
  if (length > MAX_UPLOAD_BYTES) {
    throw new ApiError(
      413,
      'payload_too_large',
      `uploads are limited to ${MAX_UPLOAD_BYTES} bytes (256 MiB) per file; this one declares ${length}`,
    );
  }
  return length;
}

/** A pending (multi-file) upload's row, or a 404 / 409. */
async function pendingUpload(db: D1Database, id: string) {
  const row = await findUploadedDataset(db, id);
  if (!row) throw new ApiError(404, 'dataset_not_found', `no upload named '${id}'`);
  if (row.status !== 'pending') {
    throw new ApiError(
      409,
      'upload_not_pending',
      `upload '${row.name}' is ${row.status}, not waiting for files`,
    );
  }
  return row;
}

/** A refused upload removed whole: its row and every file stored under it. */
async function discardUpload(env: Env, id: string): Promise<void> {
  await drizzle(env.DB).delete(datasets).where(eq(datasets.id, id));
  await deletePrefix(env.BLOBS, datasetUploadPrefix(id));
}

/**
 * `imageSize`: one side (16 → 16×16), "WxH" or {width, height}; W·H inputs at most
 * UPLOAD_LIMITS.maxFeatures.
 */
const imageSizeSchema = z
  .union([
    z.number().int().min(1).max(256),
    z
      .string()
      .regex(/^\d{1,3}([x×]\d{1,3})?$/, 'a side (16) or WxH (16x16)')
      .transform((text) => text.split(/[x×]/).map(Number)),
    z.strictObject({ width: z.number().int().min(1).max(256), height: z.number().int().min(1).max(256) }),
  ])
  .transform((v) =>
    typeof v === 'number'
      ? { width: v, height: v }
      : Array.isArray(v)
        ? { width: v[0], height: v[1] ?? v[0] }
        : v,
  )
  .refine(
    (s) =>
      s.width >= 1 &&
      s.height >= 1 &&
      s.width <= 256 &&
      s.height <= 256 &&
      s.width * s.height <= UPLOAD_LIMITS.maxFeatures,
    {
      message: `W×H must be at least 1×1, sides at most 256, and at most ${UPLOAD_LIMITS.maxFeatures} inputs`,
    },
  );

/** `POST /api/datasets` with a JSON body: a multi-file upload announced (its files come by PUT). */
const createUploadSchema = z.strictObject({
  name: datasetNameSchema,
  format: z.enum(['csv', 'idx']),
  /** The roles to be uploaded (default: the training files only). */
  files: z.array(z.enum(UPLOAD_ROLES)).min(1).max(4).optional(),
  options: z
    .strictObject({
      label: z.string().min(1).max(200).optional(),
      testFraction: z.number().gt(0).lt(1).optional(),
      seed: z.number().int().min(0).max(0xffffffff).optional(),
      imageSize: imageSizeSchema.optional(),
      deskew: z.boolean().optional(),
      classes: z.array(z.string().min(1).max(64)).min(2).max(UPLOAD_LIMITS.maxClasses).optional(),
    })
    .default({}),
});

const ROLES_OF = {
  csv: { required: ['table'], test: ['test-table'] },
  idx: { required: ['images', 'labels'], test: ['test-images', 'test-labels'] },
} as const;

async function createPendingUpload(c: Context<{ Bindings: Env }>) {
  let bytes: Uint8Array;
  try {
    bytes = await readBody(c.req.raw.body, c.req.header('Content-Length'), MAX_CREATE_BYTES);
  } catch (e) {
    if (e instanceof BodyTooLargeError) {
      throw new ApiError(413, 'payload_too_large', `request bodies are limited to ${MAX_CREATE_BYTES} bytes`);
    }
    throw e;
  }
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder().decode(bytes));
  } catch (e) {
    throw new ApiError(400, 'invalid_json', `the body is not valid JSON: ${(e as Error).message}`);
  }
  const parsed = createUploadSchema.safeParse(value);
  if (!parsed.success) throw new ApiError(400, 'invalid_upload', describeIssues(parsed.error));
  const { name, format, options } = parsed.data;
  const roles = ROLES_OF[format];
  const files = [...new Set(parsed.data.files ?? roles.required)];
  const allowed: readonly string[] = [...roles.required, ...roles.test];
  const foreign = files.filter((r) => !allowed.includes(r));
  const missing = roles.required.filter((r) => !files.includes(r));
  if (foreign.length > 0 || missing.length > 0) {
    throw new ApiError(
      400,
      'invalid_upload',
      `files: a ${format} upload has the files ${roles.required.join(', ')} (and optionally ${roles.test.join(', ')})` +
        (missing.length > 0 ? `; missing ${missing.join(', ')}` : '') +
        (foreign.length > 0 ? `; not a ${format} file: ${foreign.join(', ')}` : ''),
    );
  }
  const tests = roles.test.filter((r) => files.includes(r));
  if (tests.length > 0 && tests.length < roles.test.length) {
    throw new ApiError(
      400,
      'invalid_upload',
      `files: a separate test set is ${roles.test.join(' + ')}, both`,
    );
  }
  if (tests.length > 0 && options.testFraction !== undefined) {
    throw new ApiError(
      400,
      'invalid_upload',
      'options.testFraction: the test files are the test split; a fraction applies only without them',
    );
  }
  const wrong =
    format === 'csv'
      ? (['imageSize', 'deskew', 'classes'] as const).filter((k) => options[k] !== undefined)
      : (['label'] as const).filter((k) => options[k] !== undefined);
  if (wrong.length > 0) {
    throw new ApiError(
      400,
      'invalid_upload',
      `options: ${wrong.join(', ')} do not apply to a ${format} upload`,
    );
  }
  if (builtinDataset(name)) throw new ApiError(409, 'dataset_exists', `'${name}' is a built-in dataset`);
  if (await findUploadedDataset(c.env.DB, name)) {
    throw new ApiError(409, 'dataset_exists', `a dataset named '${name}' exists; pick another name`);
  }
  const stored: UploadOptions = {
    format,
    ...(options.label !== undefined ? { label: options.label } : {}),
    testFraction: options.testFraction ?? DEFAULT_TEST_FRACTION,
    seed: options.seed ?? 0,
    ...(format === 'idx'
      ? {
          imageSize: options.imageSize ?? { width: DEFAULT_IMAGE_SIDE, height: DEFAULT_IMAGE_SIDE },
          deskew: options.deskew ?? false,
        }
      : {}),
    ...(options.classes !== undefined ? { classes: options.classes } : {}),
    files: Object.fromEntries(files.map((r) => [r, null])),
  };
  const now = Date.now();
  const row = {
    id: newDatasetId(),
    name,
    status: 'pending' as const,
    options: stored,
    sourceHash: 'pending',
    bytes: 0,
    manifest: null,
    error: null,
    progress: 0,
    createdAt: now,
    updatedAt: now,
  };
  try {
    await drizzle(c.env.DB).insert(datasets).values(row);
  } catch (e) {
    if (await findUploadedDataset(c.env.DB, name)) {
      throw new ApiError(409, 'dataset_exists', `a dataset named '${name}' exists; pick another name`);
    }
    throw e;
  }
  return uploadedDatasetResource(row);
}

/** The JSON that announces an upload is small (class names at most). */
const MAX_CREATE_BYTES = 64 * 1024;

/**
 * Checks a complete set across its files (counts, sizes, classes, a test table's columns) and
 * returns its content hash: a lone CSV table's own hash (so the same table sent in one request is
 * recognised), else SHA-256 over "role=hash" lines in role order.
 */
async function checkUploadSet(options: UploadOptions): Promise<string> {
  const files = options.files ?? {};
  const file = (role: UploadRole) => {
    const f = files[role];
    if (!f) throw new UploadFileError(`missing file: ${role}`);
    return f;
  };
  if (options.format === 'idx') {
    const idx = (role: UploadRole): IdxFileSummary => {
      const summary = file(role).idx;
      if (!summary) throw new UploadFileError(`${role}: not an idx file`);
      return summary;
    };
    checkIdxSet(
      {
        images: idx('images'),
        labels: idx('labels'),
        ...(files['test-images'] ? { testImages: idx('test-images'), testLabels: idx('test-labels') } : {}),
      },
      options.classes,
    );
  } else if (files['test-table']) {
    const table = file('table').csv;
    const test = file('test-table').csv;
    if (table && test) {
      if (table.features !== test.features) {
        throw new UploadFileError(
          `test-table: ${test.features} feature columns, but the table has ${table.features}`,
        );
      }
      const unknown = test.classes.filter((c) => !table.classes.includes(c));
      if (unknown.length > 0) {
        throw new UploadFileError(
          `test-table: label ${JSON.stringify(unknown[0])} is not a class of the table (${table.classes.join(', ')})`,
        );
      }
    }
  }
  const roles = UPLOAD_ROLES.filter((r) => files[r]);
  if (roles.length === 1 && roles[0] === 'table') return file('table').sourceHash;
  const lines = roles.map((r) => `${r}=${file(r).sourceHash}\n`).join('');
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(lines));
  return `sha256:${Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('')}`;
}

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
    const contentType = (c.req.header('Content-Type') ?? '').split(';')[0].trim().toLowerCase();
    // An announcement is JSON with no query; a file sent with `?name=` stays the one-request form
    // (and JSON there is the wrong type for a CSV table: 415, as it always was).
    if (contentType === 'application/json' && c.req.query('name') === undefined) {
      return c.json(await createPendingUpload(c), 201);
    }
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
  .put('/:id/files/:role', requireOwner, async (c) => {
    const row = await pendingUpload(c.env.DB, c.req.param('id'));
    const role = c.req.param('role');
    const options = uploadOptionsSchema.parse(row.options);
    const files = options.files ?? {};
    if (!(UPLOAD_ROLES as readonly string[]).includes(role) || !(role in files)) {
      throw new ApiError(
        404,
        'unknown_role',
        `upload '${row.name}' expects the files ${Object.keys(files).join(', ')}; '${role}' is not one of them`,
      );
    }
    const uploadRole = role as UploadRole;
    if (files[uploadRole]) {
      throw new ApiError(409, 'file_exists', `the ${role} file of '${row.name}' is already uploaded`);
    }
    const length = declaredLength(c.req.header('Content-Length'));
    const body = c.req.raw.body;
    const key = datasetFileKey(row.id, uploadRole);
    let file: UploadedFile;
    try {
      if (!(length > 0) || body === null)
        throw new UploadFileError(`${role}: empty file (the body has no bytes)`);
      if (uploadRole === 'table' || uploadRole === 'test-table') {
        const stored = await storeCsvUpload(c.env.BLOBS, key, body, length, options.label);
        file = {
          sourceHash: stored.sourceHash,
          bytes: length,
          csv: { rows: stored.rows, features: stored.features, classes: [...stored.classes] },
        };
      } else {
        const kind = uploadRole === 'images' || uploadRole === 'test-images' ? 'images' : 'labels';
        const stored = await storeIdxUpload(c.env.BLOBS, key, body, length, kind, role);
        const { labelCounts, ...header } = stored.summary;
        file = {
          sourceHash: stored.sourceHash,
          bytes: length,
          idx: { ...header, ...(labelCounts ? { labelCounts: [...labelCounts] } : {}) },
        };
      }
    } catch (e) {
      const problem = uploadProblem(e, role);
      if (problem === null) {
        await c.env.BLOBS.delete(key);
        throw e;
      }
      // A refused file refuses the set: nothing of it stays (start the upload again).
      await discardUpload(c.env, row.id);
      throw new ApiError(400, options.format === 'idx' ? 'invalid_idx' : 'invalid_csv', problem);
    }
    // json_set, not read-modify-write: files of one upload may arrive side by side.
    const updated = await c.env.DB.prepare(
      `update datasets set options = json_set(options, '$.files."${uploadRole}"', json(?)), bytes = bytes + ?, updated_at = ? where id = ? and status = 'pending'`,
    )
      .bind(JSON.stringify(file), length, Date.now(), row.id)
      .run();
    if (updated.meta.changes !== 1) {
      await c.env.BLOBS.delete(key);
      throw new ApiError(409, 'upload_not_pending', `upload '${row.name}' is no longer waiting for files`);
    }
    const now = await findUploadedDataset(c.env.DB, row.id);
    if (!now) throw new ApiError(404, 'dataset_not_found', `no upload '${row.id}'`);
    return c.json(uploadedDatasetResource(now));
  })
  .post('/:id/build', requireOwner, async (c) => {
    const row = await pendingUpload(c.env.DB, c.req.param('id'));
    const options = uploadOptionsSchema.parse(row.options);
    const files = options.files ?? {};
    const missing = Object.entries(files)
      .filter(([, f]) => !f)
      .map(([role]) => role);
    let sourceHash: string;
    try {
      if (missing.length > 0) {
        throw new UploadFileError(
          `missing file${missing.length === 1 ? '' : 's'}: ${missing.join(', ')} (PUT /api/datasets/${row.id}/files/ROLE first)`,
        );
      }
      sourceHash = await checkUploadSet(options);
    } catch (e) {
      const problem = uploadProblem(e, 'upload');
      if (problem === null) throw e;
      await discardUpload(c.env, row.id);
      throw new ApiError(400, options.format === 'idx' ? 'invalid_idx' : 'invalid_csv', problem);
    }
    const db = drizzle(c.env.DB);
    const twin = (await db.select().from(datasets).where(eq(datasets.sourceHash, sourceHash)).all()).find(
      (d) => d.status !== 'failed' && d.id !== row.id && sameOptions(d.options as UploadOptions, options),
    );
    if (twin) {
      await discardUpload(c.env, row.id);
      throw new ApiError(
        409,
        'duplicate_dataset',
        `these files (${sourceHash}) with the same options are already dataset '${twin.name}' (${twin.id})`,
      );
    }
    const now = Date.now();
    await db
      .update(datasets)
      .set({ status: 'uploaded', sourceHash, updatedAt: now })
      .where(eq(datasets.id, row.id));
    try {
      await c.env.EVAL_QUEUE.send({ kind: 'dataset-build', datasetId: row.id }, { contentType: 'json' });
    } catch (e) {
      await discardUpload(c.env, row.id);
      throw e;
    }
    const built = await findUploadedDataset(c.env.DB, row.id);
    if (!built) throw new ApiError(404, 'dataset_not_found', `no upload '${row.id}'`);
    return c.json(uploadedDatasetResource(built), 202);
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
