/**
 * The evaluator's work for one queue message: population blob and shard from R2 (kept in isolate
 * memory, since consecutive messages mostly share both), each genome of the slice evaluated at
 * every shared weight by `src/wann`.
 */
import { decodeShard, shardToBatch } from '../../src/data/shard';
import { decodePopulation, enabledCount, type Genome } from '../../src/wann/genome';
import { compile, Evaluator } from '../../src/wann/network';
import type { Batch, GenomeResult } from '../../src/wann/types';
import { populationKey, type SliceTask, trainShardKey } from '../shared/contracts';

/** A small insertion-ordered LRU: the isolate has 128 MB, a grown population is tens of MB. */
class LruCache<K, V> {
  private readonly map = new Map<K, V>();
  constructor(private readonly capacity: number) {}
  get(key: K): V | undefined {
    const v = this.map.get(key);
    if (v !== undefined) {
      this.map.delete(key);
      this.map.set(key, v);
    }
    return v;
  }
  set(key: K, value: V): void {
    this.map.delete(key);
    this.map.set(key, value);
    while (this.map.size > this.capacity) this.map.delete(this.map.keys().next().value as K);
  }
}

const populations = new LruCache<string, Genome[]>(2);
const batches = new LruCache<string, Batch>(8); // ~1 MB of float32 inputs per 1,000-image shard
/** One evaluator per isolate: it reuses its scratch buffers across genomes. */
const evaluator = new Evaluator();

/** The population blob is gone: the generation is over (or the run ended). Not an error. */
export class StaleTaskError extends Error {
  override name = 'StaleTaskError';
}
/** Retrying cannot help (e.g. a shard that was never uploaded): the run must fail with this. */
export class PermanentTaskError extends Error {
  override name = 'PermanentTaskError';
}

export interface EvaluatorBindings {
  BLOBS: R2Bucket;
}

async function loadPopulation(env: EvaluatorBindings, task: SliceTask): Promise<Genome[]> {
  const key = populationKey(task.runId, task.gen);
  const cached = populations.get(key);
  if (cached) return cached;
  const object = await env.BLOBS.get(key);
  if (!object) throw new StaleTaskError(`${key} is not in R2`);
  const genomes = decodePopulation(new Uint8Array(await object.arrayBuffer()));
  populations.set(key, genomes);
  return genomes;
}

async function loadBatch(env: EvaluatorBindings, shard: number): Promise<Batch> {
  const key = trainShardKey(shard);
  const cached = batches.get(key);
  if (cached) return cached;
  const object = await env.BLOBS.get(key);
  if (!object) throw new PermanentTaskError(`training shard ${key} is not in R2 (upload the shards)`);
  const batch = shardToBatch(decodeShard(new Uint8Array(await object.arrayBuffer())));
  batches.set(key, batch);
  return batch;
}

function failedResult(genome: Genome, weights: number): GenomeResult {
  return {
    fitness: new Array<number>(weights).fill(Number.NaN),
    accuracy: new Array<number>(weights).fill(0),
    connections: enabledCount(genome),
  };
}

export async function evaluateSlice(env: EvaluatorBindings, task: SliceTask): Promise<GenomeResult[]> {
  const [genomes, batch] = await Promise.all([loadPopulation(env, task), loadBatch(env, task.shard)]);
  if (task.sliceEnd > genomes.length || task.sliceStart >= task.sliceEnd) {
    throw new PermanentTaskError(
      `slice [${task.sliceStart}, ${task.sliceEnd}) is outside the population of ${genomes.length}`,
    );
  }
  const results: GenomeResult[] = [];
  for (let i = task.sliceStart; i < task.sliceEnd; i++) {
    try {
      results.push(evaluator.evaluate(compile(genomes[i]), batch, task.weights));
    } catch (e) {
      // Deterministic (the same genome fails every time): retrying cannot help, and one broken
      // genome must not stop the run. NaN fitness ranks it last and keeps it from champion.
      console.error(`evaluator: ${task.runId} gen ${task.gen} genome ${i}: ${String(e)}`);
      results.push(failedResult(genomes[i], task.weights.length));
    }
  }
  return results;
}
