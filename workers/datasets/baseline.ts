/**
 * A dataset's softmax-regression baseline (src/wann/baseline.ts `fitBaseline`'s procedure) as
 * queued work, computed once per dataset and procedure version and kept in R2:
 *
 * - The record `baselines/{dataset}/v{version}.json` (`dataset`: a built-in's name, an upload's id)
 *   says where it stands: 'queued' → 'running' (epochs done so far) → 'ready' with the figure, or
 *   'failed' with the reason (a dataset that cannot give one: too few rows for a validation split,
 *   a missing shard). R2 rather than a D1 table: one small object per dataset, deleted with it.
 * - Requested (`requestBaseline`) when an upload's build ends ready, and for any dataset when its
 *   resource is read without a record (a built-in's first request, or its first run's page). A
 *   record left 'queued' or 'running' for BASELINE_STALL_MS is sent again from its saved epoch.
 * - Each `dataset-baseline` task (training queue, evaluator) continues from the record's epoch:
 *   whole epochs for at most BASELINE_CHUNK_MS of wall time (at least one), the progress saved to
 *   R2, the record moved on by a conditional put (only one of duplicate deliveries wins, and only it
 *   sends the next task); done by the rule, it scores the test split once and records the figure.
 *   Same seed and data, same figure: the procedure is deterministic and resumes exactly.
 *
 * Memory: one shard at a time is decoded (MNIST: 1 MB as float32, a 4,096-feature table: 16 MB),
 * plus the shard bytes kept in the isolate up to SHARD_CACHE_BYTES (MNIST's 60 + 10 shards: 18 MB,
 * all of them) and the state (4 × (features + 1) × classes doubles).
 */
import { z } from 'zod';
import type { DatasetBaseline } from '../../src/api/types';
import { type DatasetManifest, DatasetUnavailableError } from '../../src/data/dataset';
import { decodeAnyShard, shardToBatch } from '../../src/data/shard';
import {
  BASELINE_VERSION,
  type BaselineSource,
  baselineEpoch,
  baselineEpochChoice,
  baselineTestScore,
  carveValidationSplit,
  decodeBaselineProgress,
  encodeBaselineProgress,
  initialBaselineProgress,
  validatedBaseline,
} from '../../src/wann/baseline';
import {
  datasetBaselineKey,
  datasetBaselinePrefix,
  datasetBaselineProgressKey,
  testShardKey,
  trainShardKey,
} from '../contracts/blob-keys';
import type { DatasetBaselineTask, TrainQueue } from '../contracts/queue-tasks';
import { deletePrefix } from './build';
import { findUploadedDataset, runDatasetManifest } from './uploaded';

/** Seeds the validation split and the minibatch order: fixed, so the figure depends on the data alone. */
export const BASELINE_SEED = 1;
/** Wall time of one chunk's epochs (at least one epoch runs): seconds, never minutes, per delivery. */
export const BASELINE_CHUNK_MS = 10_000;
/** A record not moved for this long is sent again from its saved epoch (a lost message). */
export const BASELINE_STALL_MS = 5 * 60_000;
/** Shard bytes kept in the isolate between parts and chunks (MNIST's 70 shards fit). */
const SHARD_CACHE_BYTES = 32 * 1024 * 1024;

const baselineRecordSchema = z.object({
  version: z.number().int(),
  status: z.enum(['queued', 'running', 'ready', 'failed']),
  /** Epochs completed. */
  epoch: z.number().int().min(0),
  updatedAt: z.number(),
  error: z.string().nullable(),
  /** `ValidatedBaseline` once ready (the fields the API shows are checked; the rest is kept). */
  result: z
    .looseObject({
      testAccuracy: z.number(),
      validationAccuracy: z.number(),
      epochs: z.number().int(),
      weights: z.number().int(),
    })
    .nullable(),
});
export type BaselineRecord = z.infer<typeof baselineRecordSchema>;

export interface BaselineBindings {
  BLOBS: R2Bucket;
  DB: D1Database;
  TRAIN_QUEUE: TrainQueue;
}

/** The record and its etag, or null where none is stored (or it is not one this code reads). */
async function readRecord(
  bucket: R2Bucket,
  dataset: string,
): Promise<{ record: BaselineRecord; etag: string } | null> {
  const object = await bucket.get(datasetBaselineKey(dataset, BASELINE_VERSION));
  if (!object) return null;
  const parsed = baselineRecordSchema.safeParse(await object.json().catch(() => null));
  return parsed.success ? { record: parsed.data, etag: object.etag } : null;
}

export async function readBaselineRecord(bucket: R2Bucket, dataset: string): Promise<BaselineRecord | null> {
  return (await readRecord(bucket, dataset))?.record ?? null;
}

/** Writes `record` if the stored one still has `etag` (null: if none is stored); false if it moved. */
async function putRecord(bucket: R2Bucket, dataset: string, record: BaselineRecord, etag: string | null) {
  const written = await bucket.put(datasetBaselineKey(dataset, BASELINE_VERSION), JSON.stringify(record), {
    httpMetadata: { contentType: 'application/json' },
    ...(etag === null ? {} : { onlyIf: { etagMatches: etag } }),
  });
  return written === null ? null : written.etag;
}

/** The API's `baseline` field of a dataset resource (src/api/types.ts `datasetBaselineSchema`). */
export function baselineField(record: BaselineRecord, manifest: DatasetManifest): DatasetBaseline {
  const weights = (manifest.features + 1) * manifest.classes.length;
  const { result } = record;
  return {
    status: record.status,
    epochs: result?.epochs ?? record.epoch,
    weights: result?.weights ?? weights,
    validationAccuracy: result?.validationAccuracy ?? null,
    testAccuracy: result?.testAccuracy ?? null,
    error: record.error,
  };
}

/**
 * Dataset `dataset`'s baseline record, its computation queued where there is none (or where it has
 * stalled). Idempotent: a task sent twice is deduplicated by the record's etag.
 */
export async function requestBaseline(
  env: Pick<BaselineBindings, 'BLOBS' | 'TRAIN_QUEUE'>,
  dataset: string,
  now = Date.now(),
): Promise<BaselineRecord> {
  const stored = await readRecord(env.BLOBS, dataset);
  const record = stored?.record;
  if (record && (record.status === 'ready' || record.status === 'failed')) return record;
  if (record && now - record.updatedAt < BASELINE_STALL_MS) return record;
  const queued: BaselineRecord = {
    version: BASELINE_VERSION,
    status: record?.status ?? 'queued',
    epoch: record?.epoch ?? 0,
    updatedAt: now,
    error: record ? `no chunk moved it for ${BASELINE_STALL_MS / 60_000} min; sent again` : null,
    result: null,
  };
  if ((await putRecord(env.BLOBS, dataset, queued, stored?.etag ?? null)) === null) {
    return (await readBaselineRecord(env.BLOBS, dataset)) ?? queued; // another request got there first
  }
  await env.TRAIN_QUEUE.send(
    { kind: 'dataset-baseline', dataset, epoch: queued.epoch },
    { contentType: 'json' },
  );
  return queued;
}

/** An upload's baseline requested once its build has made it ready (nothing otherwise). */
export async function requestUploadBaseline(
  env: Pick<BaselineBindings, 'BLOBS' | 'DB' | 'TRAIN_QUEUE'>,
  datasetId: string,
): Promise<void> {
  const row = await findUploadedDataset(env.DB, datasetId);
  if (row?.status === 'ready') await requestBaseline(env, row.id);
}

/** The `baseline` field for dataset `dataset` (requested if needed); null if storage cannot say. */
export async function datasetBaseline(
  env: Pick<BaselineBindings, 'BLOBS' | 'TRAIN_QUEUE'>,
  dataset: string,
  manifest: DatasetManifest,
): Promise<DatasetBaseline | null> {
  try {
    return baselineField(await requestBaseline(env, dataset), manifest);
  } catch (e) {
    // The dataset's resource is still worth answering without its baseline.
    console.error(`baseline of ${dataset}: ${String(e)}`);
    return null;
  }
}

/** A fault of the dataset, not of the moment: recorded as 'failed', not retried. */
export class BaselineFailure extends Error {
  override name = 'BaselineFailure';
}

let shardCache: { dataset: string; bytes: Map<string, Uint8Array>; size: number } | null = null;

async function shardBytes(bucket: R2Bucket, dataset: string, key: string): Promise<Uint8Array> {
  if (shardCache?.dataset !== dataset) shardCache = { dataset, bytes: new Map(), size: 0 };
  const cached = shardCache.bytes.get(key);
  if (cached) return cached;
  const object = await bucket.get(key);
  if (!object) throw new BaselineFailure(`shard ${key} of dataset ${dataset} is missing from R2`);
  const bytes = new Uint8Array(await object.arrayBuffer());
  if (shardCache.size + bytes.length <= SHARD_CACHE_BYTES) {
    shardCache.bytes.set(key, bytes);
    shardCache.size += bytes.length;
  }
  return bytes;
}

/** Yield to the event loop: other requests and messages in the isolate get their turn. */
const yieldToEventLoop = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

/** The dataset's shards in R2, one decoded at a time. */
function shardSource(bucket: R2Bucket, dataset: string, manifest: DatasetManifest): BaselineSource {
  const part = async (key: string) => {
    const bytes = await shardBytes(bucket, dataset, key);
    await yieldToEventLoop();
    return shardToBatch(decodeAnyShard(bytes));
  };
  return {
    features: manifest.features,
    classes: manifest.classes.length,
    trainParts: manifest.shards.train,
    testParts: manifest.shards.test,
    trainPart: (i) => part(trainShardKey(i, dataset)),
    testPart: (i) => part(testShardKey(i, dataset)),
  };
}

/** One queued chunk of a baseline (see the module comment). */
export async function runBaselineTask(
  env: BaselineBindings,
  task: DatasetBaselineTask,
  now = () => Date.now(),
): Promise<void> {
  const stored = await readRecord(env.BLOBS, task.dataset);
  if (!stored) return; // deleted with its dataset
  const { record } = stored;
  if (record.status === 'ready' || record.status === 'failed' || record.epoch !== task.epoch) return;
  const running: BaselineRecord = { ...record, status: 'running', updatedAt: now() };
  const etag = await putRecord(env.BLOBS, task.dataset, running, stored.etag);
  if (etag === null) return; // another delivery of this chunk took it
  const fail = async (message: string) => {
    await putRecord(
      env.BLOBS,
      task.dataset,
      { ...running, status: 'failed', error: message, updatedAt: now() },
      etag,
    );
  };
  try {
    const manifest = await runDatasetManifest(env.DB, task.dataset).catch((e: unknown) => {
      throw e instanceof DatasetUnavailableError ? new BaselineFailure(e.message) : e;
    });
    const source = shardSource(env.BLOBS, task.dataset, manifest);
    const split = await carveValidationSplit(source, BASELINE_SEED);
    let progress = initialBaselineProgress(source.features, source.classes, { seed: BASELINE_SEED });
    if (task.epoch > 0) {
      const key = datasetBaselineProgressKey(task.dataset, BASELINE_VERSION, task.epoch);
      const saved = await env.BLOBS.get(key);
      if (!saved) throw new BaselineFailure(`the saved baseline progress ${key} is missing`);
      progress = decodeBaselineProgress(new Uint8Array(await saved.arrayBuffer()));
      if (progress.state.epoch !== task.epoch) {
        throw new BaselineFailure(`the saved baseline progress ${key} holds epoch ${progress.state.epoch}`);
      }
    }
    const endBy = now() + BASELINE_CHUNK_MS;
    do await baselineEpoch(progress, source, split);
    while (!baselineEpochChoice(progress.validationAccuracy).done && now() < endBy);

    if (!baselineEpochChoice(progress.validationAccuracy).done) {
      const epoch = progress.state.epoch;
      await env.BLOBS.put(
        datasetBaselineProgressKey(task.dataset, BASELINE_VERSION, epoch),
        encodeBaselineProgress(progress),
      );
      const moved = await putRecord(env.BLOBS, task.dataset, { ...running, epoch, updatedAt: now() }, etag);
      if (moved === null) return; // deleted or taken meanwhile
      await env.TRAIN_QUEUE.send(
        { kind: 'dataset-baseline', dataset: task.dataset, epoch },
        { contentType: 'json' },
      );
      return;
    }
    const result = validatedBaseline(progress, split, await baselineTestScore(progress, source));
    const done: BaselineRecord = {
      ...running,
      status: 'ready',
      epoch: progress.state.epoch,
      updatedAt: now(),
      error: null,
      result: { ...result },
    };
    if ((await putRecord(env.BLOBS, task.dataset, done, etag)) === null) return;
    // The saved progress is no longer needed (a leftover costs only storage).
    await deletePrefix(env.BLOBS, `${datasetBaselinePrefix(task.dataset)}v${BASELINE_VERSION}/`).catch(
      () => {},
    );
  } catch (e) {
    if (e instanceof BaselineFailure || e instanceof RangeError) {
      await fail(e.message);
      return;
    }
    throw e;
  }
}
