/**
 * Reading a dataset's shards from R2 (MNIST's `shards/train-NN.bin`, `shards/test-N.bin`; another
 * built-in's under `datasets/<name>/`, uploaded by `npm start`): the test set and training rows that
 * publishing and training evaluate on. A missing shard is an error the caller names (a failed
 * publication, a failed training), so each passes the error it throws. `dataset` absent = MNIST;
 * an upload's shards (WSH2 feature rows) are under its id.
 */
import { buildCommand, builtinDataset } from '../../src/data/dataset';
import {
  type AnyShard,
  concatAnyShards,
  decodeAnyShard,
  decodeShard,
  type Shard,
  shardsToBatch,
} from '../../src/data/shard';
import type { Batch } from '../../src/wann/types';
import { testShardKey, trainShardKey } from '../contracts/blob-keys';

/** The MNIST test set: 10 shards of 1,000 images. */
export const TEST_SHARDS = 10;

/** Test shards of `dataset` (a built-in's manifest says; MNIST's TEST_SHARDS). */
export function testShardCount(dataset?: string): number {
  return dataset === undefined ? TEST_SHARDS : (builtinDataset(dataset)?.shards.test ?? TEST_SHARDS);
}

/** How the caller fails when a shard is not in R2. */
export type MissingShard = (message: string) => Error;

/** What to do when `dataset`'s shard `key` is missing: the command that builds it, then npm start. */
export function missingShardAdvice(key: string, dataset?: string): string {
  if (dataset === undefined) return `shard ${key} is missing from R2 (npm start uploads the shards)`;
  return `shard ${key} is missing from R2 (build it with \`${buildCommand(dataset ?? 'mnist')}\`, then restart \`npm start\`, which uploads the shards)`;
}

/** The bytes of the shards at `keys`, in that order. */
async function shardBytes(
  bucket: R2Bucket,
  keys: string[],
  missing: MissingShard,
  dataset?: string,
): Promise<Uint8Array[]> {
  return Promise.all(
    keys.map(async (key) => {
      const object = await bucket.get(key);
      if (!object) throw missing(missingShardAdvice(key, dataset));
      return new Uint8Array(await object.arrayBuffer());
    }),
  );
}

/** Decode the image shards (WSH1) at `keys`, in that order. */
export async function loadShards(
  bucket: R2Bucket,
  keys: string[],
  missing: MissingShard,
  dataset?: string,
): Promise<Shard[]> {
  return (await shardBytes(bucket, keys, missing, dataset)).map((bytes) => decodeShard(bytes));
}

/** Decode the shards at `keys` whatever their format (WSH1 images or WSH2 features), in order. */
export async function loadAnyShards(
  bucket: R2Bucket,
  keys: string[],
  missing: MissingShard,
  dataset?: string,
): Promise<AnyShard[]> {
  return (await shardBytes(bucket, keys, missing, dataset)).map((bytes) => decodeAnyShard(bytes));
}

/** The first `count` training shards as one batch (publishing tunes its weight on them). */
export async function loadTrainBatch(
  bucket: R2Bucket,
  count: number,
  missing: MissingShard,
  dataset?: string,
): Promise<Batch> {
  return shardsToBatch(
    await loadAnyShards(
      bucket,
      Array.from({ length: count }, (_, i) => trainShardKey(i, dataset)),
      missing,
      dataset,
    ),
  );
}

/**
 * The whole test set of `dataset` as one batch: `shards` test shards (an upload's manifest says how
 * many; a built-in's count is known here).
 */
export async function loadTestSet(
  bucket: R2Bucket,
  missing: MissingShard,
  dataset?: string,
  shards = testShardCount(dataset),
): Promise<Batch> {
  return shardsToBatch(
    await loadAnyShards(
      bucket,
      Array.from({ length: shards }, (_, i) => testShardKey(i, dataset)),
      missing,
      dataset,
    ),
  );
}

/**
 * The training rows of the first `count` shards (WSH1 images or WSH2 feature rows, as the dataset
 * has them), kept in the isolate (shards never change).
 */
let trainingData: { count: number; dataset: string | undefined; data: Promise<AnyShard> } | null = null;
export function trainingExamples(
  bucket: R2Bucket,
  count: number,
  missing: MissingShard,
  dataset?: string,
): Promise<AnyShard> {
  if (trainingData?.count !== count || trainingData.dataset !== dataset) {
    const data = loadAnyShards(
      bucket,
      Array.from({ length: count }, (_, i) => trainShardKey(i, dataset)),
      missing,
      dataset,
    ).then(concatAnyShards);
    data.catch(() => {
      if (trainingData?.data === data) trainingData = null;
    });
    trainingData = { count, dataset, data };
  }
  return trainingData.data;
}
