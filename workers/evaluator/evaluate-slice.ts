/**
 * The evaluator's work for one queue message: population blob and shard from R2 (kept in isolate
 * memory, since consecutive messages mostly share both), each genome of the slice evaluated at
 * every shared weight by `src/wann`.
 */
import { decodeShard, shardToBatch } from '../../src/data/shard';
import {
  decodePopulation,
  enabledCount,
  type Genome,
  populationOffsets,
  slicePopulation,
} from '../../src/wann/genome';
import kernelModule from '../../src/wann/kernel/kernel.wasm';
import { compile, Evaluator } from '../../src/wann/network';
import type { Batch, GenomeResult } from '../../src/wann/types';
import { populationKey, type SliceTask, trainShardKey } from '../shared/contracts';

/** A small insertion-ordered LRU: the isolate has 128 MB; a grown population's blob is ~10 MB. */
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

/** Population blobs as read from R2, with each genome's offset: a slice is cut without decoding. */
const populations = new LruCache<string, { bytes: Uint8Array; offsets: Uint32Array }>(2);
const batches = new LruCache<string, Batch>(8); // ~1 MB of float32 inputs per 1,000-image shard
const shardBytes = new LruCache<string, Uint8Array>(8); // 257 KB each; kept only when forwarding
/**
 * One evaluator per isolate (it reuses its scratch buffers across genomes), with the WebAssembly
 * SIMD kernel: wrangler's default CompiledWasm rule makes the `.wasm` import a compiled
 * `WebAssembly.Module`, which may be instantiated synchronously (compiling bytes may not). Created
 * on first use, so the kernel is not instantiated at startup. If instantiation throws, the JS path
 * (same results but for ~1 ulp on exp-based activations), logged once per isolate.
 */
let evaluator: Evaluator | undefined;
function isolateEvaluator(): Evaluator {
  if (!evaluator) {
    try {
      evaluator = new Evaluator({ kernel: kernelModule });
    } catch (e) {
      console.error(`evaluator: wasm kernel unavailable (${String(e)}); evaluating with the JS path`);
      evaluator = new Evaluator();
    }
  }
  return evaluator;
}

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

/** The encoded genomes [sliceStart, sliceEnd) of the task's generation. */
async function loadSliceGenomes(env: EvaluatorBindings, task: SliceTask): Promise<Uint8Array> {
  const key = populationKey(task.runId, task.gen);
  let population = populations.get(key);
  if (!population) {
    const object = await env.BLOBS.get(key);
    if (!object) throw new StaleTaskError(`${key} is not in R2`);
    const bytes = new Uint8Array(await object.arrayBuffer());
    population = { bytes, offsets: populationOffsets(bytes) };
    populations.set(key, population);
  }
  const size = population.offsets.length - 1;
  if (task.sliceEnd > size || task.sliceStart >= task.sliceEnd) {
    throw new PermanentTaskError(
      `slice [${task.sliceStart}, ${task.sliceEnd}) is outside the population of ${size}`,
    );
  }
  return slicePopulation(population.bytes, population.offsets, task.sliceStart, task.sliceEnd);
}

async function loadShardBytes(env: EvaluatorBindings, shard: number): Promise<Uint8Array> {
  const key = trainShardKey(shard);
  const object = await env.BLOBS.get(key);
  if (!object) throw new PermanentTaskError(`training shard ${key} is not in R2 (upload the shards)`);
  return new Uint8Array(await object.arrayBuffer());
}

async function loadBatch(env: EvaluatorBindings, shard: number): Promise<Batch> {
  const key = trainShardKey(shard);
  const cached = batches.get(key);
  if (cached) return cached;
  const batch = shardToBatch(decodeShard(await loadShardBytes(env, shard)));
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

/** The CPU-bound part: compile and evaluate each genome at every shared weight. */
function evaluateGenomes(task: SliceTask, genomes: readonly Genome[], batch: Batch): GenomeResult[] {
  const evaluator = isolateEvaluator();
  const results: GenomeResult[] = [];
  for (let i = 0; i < genomes.length; i++) {
    try {
      results.push(evaluator.evaluate(compile(genomes[i]), batch, task.weights));
    } catch (e) {
      // Deterministic (the same genome fails every time): retrying cannot help, and one broken
      // genome must not stop the run. NaN fitness ranks it last and keeps it from champion.
      console.error(`evaluator: ${task.runId} gen ${task.gen} genome ${task.sliceStart + i}: ${String(e)}`);
      results.push(failedResult(genomes[i], task.weights.length));
    }
  }
  return results;
}

export async function evaluateSlice(env: EvaluatorBindings, task: SliceTask): Promise<GenomeResult[]> {
  const [genomes, batch] = await Promise.all([loadSliceGenomes(env, task), loadBatch(env, task.shard)]);
  return evaluateGenomes(task, decodePopulation(genomes), batch);
}

/**
 * What a peer evaluator needs for one slice, read here from R2 (peers have no storage): the
 * slice's genomes in the population codec and the training shard's bytes.
 */
export interface SliceInputs {
  genomes: Uint8Array;
  shard: Uint8Array;
}

export async function loadSliceInputs(env: EvaluatorBindings, task: SliceTask): Promise<SliceInputs> {
  const key = trainShardKey(task.shard);
  const [genomes, shard] = await Promise.all([
    loadSliceGenomes(env, task),
    shardBytes.get(key) ?? loadShardBytes(env, task.shard),
  ]);
  shardBytes.set(key, shard);
  return { genomes, shard };
}

/** A peer's side: the same evaluation on inputs it was sent (the decoded shard stays cached). */
export function evaluateSliceInputs(task: SliceTask, inputs: SliceInputs): GenomeResult[] {
  const key = `${trainShardKey(task.shard)}:${inputs.shard.byteLength}`;
  let batch = batches.get(key);
  if (!batch) {
    batch = shardToBatch(decodeShard(inputs.shard));
    batches.set(key, batch);
  }
  const genomes = decodePopulation(inputs.genomes);
  if (genomes.length !== task.sliceEnd - task.sliceStart) {
    throw new PermanentTaskError(
      `peer got ${genomes.length} genomes for slice [${task.sliceStart}, ${task.sliceEnd})`,
    );
  }
  return evaluateGenomes(task, genomes, batch);
}
