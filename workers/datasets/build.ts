/**
 * The queued build of an uploaded dataset (a `dataset-build` task, handled by the evaluator):
 * read the upload back from R2 once per pass (a CSV table: src/data/csv-dataset.ts, WSH2 shards;
 * an idx set: src/data/idx-dataset.ts, WSH1 shards at the chosen W×H), write the shards under
 * `datasets/{id}/`, then the manifest into the dataset's D1 row with status 'ready'. Progress goes
 * to the row after each pass. A table that cannot be built marks the row 'failed' with the
 * parser's message and deletes every shard already written; anything else (R2 or D1 unavailable)
 * throws, so the queue retries (a rebuild writes the same shards: the split and order are seeded).
 */
import { eq } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/d1';
import { ZodError } from 'zod';
import { datasets } from '../../schema/schema';
import { CsvFormatError } from '../../src/data/csv';
import { buildCsvDataset, CsvDatasetError } from '../../src/data/csv-dataset';
import { IdxFormatError } from '../../src/data/idx';
import { buildIdxDataset } from '../../src/data/idx-dataset';
import {
  datasetFileKey,
  datasetUploadKey,
  shardPrefix,
  testShardKey,
  trainShardKey,
} from '../contracts/blob-keys';
import type { DatasetBuildTask } from '../contracts/queue-tasks';
import { DEFAULT_IMAGE_SIDE, uploadOptionsSchema } from './uploaded';

export interface DatasetBuildEnv {
  BLOBS: R2Bucket;
  DB: D1Database;
}

/** The text of a stored object, a fresh read each call (one pass of the build). */
function storedText(bucket: R2Bucket, key: string): () => AsyncIterable<string> {
  return async function* () {
    const object = await bucket.get(key);
    if (object === null) throw new Error(`dataset build: ${key} is not in R2`);
    const reader = object.body.pipeThrough(new TextDecoderStream()).getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return;
        yield value;
      }
    } finally {
      reader.releaseLock();
    }
  };
}

/** The bytes of a stored object, a fresh read each call. */
function storedBytes(bucket: R2Bucket, key: string): () => AsyncIterable<Uint8Array> {
  return async function* () {
    const object = await bucket.get(key);
    if (object === null) throw new Error(`dataset build: ${key} is not in R2`);
    const reader = object.body.getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return;
        yield value;
      }
    } finally {
      await reader.cancel().catch(() => {});
    }
  };
}

/** Every object under `prefix` deleted (an uploaded dataset's shards or its upload). */
export async function deletePrefix(bucket: R2Bucket, prefix: string): Promise<void> {
  let cursor: string | undefined;
  do {
    const listed = await bucket.list({ prefix, cursor });
    if (listed.objects.length > 0) await bucket.delete(listed.objects.map((o) => o.key));
    cursor = listed.truncated ? listed.cursor : undefined;
  } while (cursor !== undefined);
}

/** Whether an error is the uploaded table's fault (recorded, not retried). */
function isTableError(e: unknown): e is Error {
  return (
    e instanceof CsvFormatError ||
    e instanceof CsvDatasetError ||
    e instanceof IdxFormatError ||
    e instanceof ZodError
  );
}

export async function runDatasetBuild(env: DatasetBuildEnv, task: DatasetBuildTask): Promise<void> {
  const db = drizzle(env.DB);
  const row = await db.select().from(datasets).where(eq(datasets.id, task.datasetId)).get();
  // Deleted meanwhile, or a duplicate delivery of a build that already ended.
  // A pending upload is still receiving files: its build is queued by `POST …/build`, not before.
  if (!row || row.status === 'ready' || row.status === 'failed' || row.status === 'pending') return;
  const id = row.id;
  const touch = (fields: Partial<typeof datasets.$inferInsert>) =>
    db
      .update(datasets)
      .set({ ...fields, updatedAt: Date.now() })
      .where(eq(datasets.id, id));
  await touch({ status: 'building', progress: 0 });
  const options = uploadOptionsSchema.parse(row.options);
  const writeShard = async (split: 'train' | 'test', index: number, bytes: Uint8Array) => {
    await env.BLOBS.put(split === 'train' ? trainShardKey(index, id) : testShardKey(index, id), bytes);
  };
  const onProgress = async ({ pass, passes }: { pass: number; passes: number }) => {
    await touch({ progress: pass / passes });
  };
  try {
    const manifest =
      options.format === 'idx'
        ? await buildIdxDataset(
            {
              images: storedBytes(env.BLOBS, datasetFileKey(id, 'images')),
              labels: storedBytes(env.BLOBS, datasetFileKey(id, 'labels')),
              ...(options.files?.['test-images']
                ? {
                    test: {
                      images: storedBytes(env.BLOBS, datasetFileKey(id, 'test-images')),
                      labels: storedBytes(env.BLOBS, datasetFileKey(id, 'test-labels')),
                    },
                  }
                : {}),
            },
            {
              name: row.name,
              width: options.imageSize?.width ?? DEFAULT_IMAGE_SIDE,
              height: options.imageSize?.height ?? DEFAULT_IMAGE_SIDE,
              deskew: options.deskew ?? false,
              classes: options.classes,
              testFraction: options.testFraction,
              seed: options.seed,
              sourceHash: row.sourceHash,
            },
            writeShard,
            onProgress,
          )
        : await buildCsvDataset(
            storedText(env.BLOBS, datasetUploadKey(id, 'train')),
            {
              name: row.name,
              label: options.label,
              testFraction: options.testFraction,
              seed: options.seed,
              sourceHash: row.sourceHash,
            },
            writeShard,
            onProgress,
            options.files?.['test-table'] ? storedText(env.BLOBS, datasetUploadKey(id, 'test')) : undefined,
          );
    await touch({ status: 'ready', progress: 1, manifest, error: null });
  } catch (e) {
    if (!isTableError(e)) throw e;
    await deletePrefix(env.BLOBS, shardPrefix(id));
    const message = e instanceof ZodError ? `the built manifest is invalid: ${e.message}` : e.message;
    await touch({ status: 'failed', error: message });
  }
}
