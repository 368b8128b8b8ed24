/**
 * Reading the dataset's shards from R2 (`shards/train-NN.bin`, `shards/test-N.bin`, uploaded by
 * `npm start`): the test set and training images that publishing and training evaluate on. A
 * missing shard is an error the caller names (a failed publication, a failed training), so each
 * passes the error it throws.
 */
import { concatShards, decodeShard, type Shard, shardsToBatch } from '../../src/data/shard';
import type { Batch } from '../../src/wann/types';
import { testShardKey, trainShardKey } from '../contracts/blob-keys';

/** The MNIST test set: 10 shards of 1,000 images. */
export const TEST_SHARDS = 10;

/** How the caller fails when a shard is not in R2. */
export type MissingShard = (message: string) => Error;

/** Decode the shards at `keys`, in that order. */
export async function loadShards(bucket: R2Bucket, keys: string[], missing: MissingShard): Promise<Shard[]> {
  return Promise.all(
    keys.map(async (key) => {
      const object = await bucket.get(key);
      if (!object) throw missing(`shard ${key} is missing from R2 (npm start uploads the shards)`);
      return decodeShard(new Uint8Array(await object.arrayBuffer()));
    }),
  );
}

/** The first `count` training shards as one batch (publishing tunes its weight on them). */
export async function loadTrainBatch(bucket: R2Bucket, count: number, missing: MissingShard): Promise<Batch> {
  return shardsToBatch(
    await loadShards(
      bucket,
      Array.from({ length: count }, (_, i) => trainShardKey(i)),
      missing,
    ),
  );
}

/** The whole test set (TEST_SHARDS shards) as one batch. */
export async function loadTestSet(bucket: R2Bucket, missing: MissingShard): Promise<Batch> {
  return shardsToBatch(
    await loadShards(
      bucket,
      Array.from({ length: TEST_SHARDS }, (_, i) => testShardKey(i)),
      missing,
    ),
  );
}

/** The training images of the first `count` shards, kept in the isolate (shards never change). */
let trainingData: { count: number; data: Promise<Shard> } | null = null;
export function trainingImages(bucket: R2Bucket, count: number, missing: MissingShard): Promise<Shard> {
  if (trainingData?.count !== count) {
    const data = loadShards(
      bucket,
      Array.from({ length: count }, (_, i) => trainShardKey(i)),
      missing,
    ).then(concatShards);
    data.catch(() => {
      if (trainingData?.data === data) trainingData = null;
    });
    trainingData = { count, data };
  }
  return trainingData.data;
}
