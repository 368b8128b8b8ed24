/**
 * The evaluator's work for one slice task: read the parents it needs from generation gen−1's slice
 * objects in R2 (ranged reads, merged when close, cached in the isolate), breed and evaluate the
 * slice's members on the generation's shard (`evaluateSlice`, src/wann/slice.ts), and return the slice's
 * population blob (which the caller stores in R2) with the report for the coordinator.
 */
import { decodeAnyShard, shardToBatch } from '../../src/data/shard';
import {
  evaluateRecheck,
  RECHECK_TEST_SHARD,
  type RecheckReport,
  type SliceReport,
} from '../../src/wann/generation';
import { decodeGenomeBytes, type Genome } from '../../src/wann/genome';
import kernelModule from '../../src/wann/kernel/kernel.wasm';
import { Evaluator } from '../../src/wann/network';
import { evaluateSlice } from '../../src/wann/slice';
import type { Batch } from '../../src/wann/types';
import { testShardKey, trainShardKey } from '../contracts/blob-keys';
import { type RecheckTask, recheckSpecOf, type SliceTask } from '../contracts/queue-tasks';
import { LruCache } from '../storage/isolate-cache';
import { type ParentBytes, readGenomes } from '../storage/population';
import { missingShardAdvice } from '../storage/shards';
import type { EvaluatorEnv } from './worker-configuration';

export { StaleTaskError } from '../storage/population';

const batches = new LruCache<string, Batch>(8); // ~1 MB of float32 inputs per 1,000-image shard
const shardBytes = new LruCache<string, Uint8Array>(8); // 257 KB each; kept only when forwarding
/**
 * One evaluator per isolate (it reuses its scratch buffers across genomes), with the WebAssembly
 * SIMD kernel: wrangler's default CompiledWasm rule makes the `.wasm` import a compiled
 * `WebAssembly.Module`, which may be instantiated synchronously (compiling bytes may not). Created
 * on first use, so the kernel is not instantiated at startup. A kernel that cannot start fails the
 * task with the reason (the run's numerics are the kernel's float32: carrying on with the JS float64
 * path would change its results); a failed start is not cached, so another isolate may succeed.
 */
let evaluator: Evaluator | undefined;
function isolateEvaluator(): Evaluator {
  if (!evaluator) {
    try {
      evaluator = new Evaluator({ kernel: kernelModule });
    } catch (e) {
      throw new PermanentTaskError(
        `the evaluator's WebAssembly kernel cannot start (${(e as Error).message}); the search stops rather than compute with other numerics`,
      );
    }
  }
  return evaluator;
}

/** Retrying cannot help (e.g. a shard that was never uploaded): the run must fail with this. */
export class PermanentTaskError extends Error {
  override name = 'PermanentTaskError';
}

export type EvaluatorBindings = Pick<EvaluatorEnv, 'BLOBS'>;

/** Where to find a shard that is not in R2: MNIST's message as it was; a dataset's names its build. */
function shardAbsent(what: string, key: string, dataset: string | undefined): PermanentTaskError {
  return new PermanentTaskError(
    dataset === undefined
      ? `${what} ${key} is not in R2 (upload the shards)`
      : `${what} ${missingShardAdvice(key, dataset)}`,
  );
}

async function loadShardBytes(
  env: EvaluatorBindings,
  shard: number,
  dataset: string | undefined,
  cache = true,
): Promise<Uint8Array> {
  const key = trainShardKey(shard, dataset);
  const cached = shardBytes.get(key);
  if (cached) return cached;
  const object = await env.BLOBS.get(key);
  if (!object) throw shardAbsent('training', key, dataset);
  const bytes = new Uint8Array(await object.arrayBuffer());
  if (cache) shardBytes.set(key, bytes);
  return bytes;
}

/** What breeding and evaluating one slice needs: its parents' bytes and the shard's bytes. */
export interface SliceInputs {
  parents: ParentBytes[];
  shard: Uint8Array;
}

export async function loadSliceInputs(env: EvaluatorBindings, task: SliceTask): Promise<SliceInputs> {
  const [parents, shard] = await Promise.all([
    task.gen === 0 ? [] : readGenomes(env.BLOBS, task.runId, task.gen - 1, task.sources),
    loadShardBytes(env, task.shard, task.dataset),
  ]);
  return { parents, shard };
}

/** The slice's members as stored (population codec) and the report for the coordinator. */
export interface SliceOutput {
  blob: Uint8Array;
  report: SliceReport;
}

/** Breed and evaluate one slice from its inputs: pure CPU, the same in the consumer and a peer. */
export function breedAndEvaluate(task: SliceTask, inputs: SliceInputs): SliceOutput {
  const key = `${trainShardKey(task.shard, task.dataset)}:${inputs.shard.byteLength}`;
  let batch = batches.get(key);
  if (!batch) {
    batch = shardToBatch(decodeAnyShard(inputs.shard));
    batches.set(key, batch);
  }
  const parents = new Map<number, Genome>();
  for (const p of inputs.parents) if (!parents.has(p.index)) parents.set(p.index, decodeGenomeBytes(p.bytes));
  const parentOf = (index: number, member: number) => {
    const parent = parents.get(index);
    if (!parent)
      throw new PermanentTaskError(`parent ${index} of member ${member} was not among the sources`);
    return parent;
  };
  const { blob, report } = evaluateSlice(isolateEvaluator(), task, parentOf, batch, (index, e) =>
    console.error(`evaluator: ${task.runId} gen ${task.gen} member ${index}: ${String(e)}`),
  );
  return { blob, report };
}

/** Read, breed, evaluate (here, in this isolate). */
export async function runSlice(env: EvaluatorBindings, task: SliceTask): Promise<SliceOutput> {
  return breedAndEvaluate(task, await loadSliceInputs(env, task));
}

// ---------------------------------------------------------------------------------------------
// Champion re-check

/**
 * What a re-check needs: both genomes' bytes, its training shards' bytes (in the task's order) and
 * the test subset's. At most 60 + 1 shards of 257 KB (~16 MB; 20 + 1 by default), read for the task
 * and not cached (they would push the generation's own shard out of the cache).
 */
export interface RecheckInputs {
  champion: Uint8Array;
  candidate: Uint8Array | null;
  shards: Uint8Array[];
  test: Uint8Array;
}

async function memberBytes(env: EvaluatorBindings, task: RecheckTask, who: RecheckTask['champion']) {
  const [found] = await readGenomes(env.BLOBS, task.runId, who.generation, [who.location]);
  return found.bytes;
}

export async function loadRecheckInputs(env: EvaluatorBindings, task: RecheckTask): Promise<RecheckInputs> {
  const testKey = testShardKey(RECHECK_TEST_SHARD, task.dataset);
  const [champion, candidate, shards, test] = await Promise.all([
    memberBytes(env, task, task.champion),
    task.candidate ? memberBytes(env, task, task.candidate) : null,
    Promise.all(task.shards.map((s) => loadShardBytes(env, s, task.dataset, false))),
    env.BLOBS.get(testKey).then(async (object) => {
      if (!object) throw shardAbsent('test', testKey, task.dataset);
      return new Uint8Array(await object.arrayBuffer());
    }),
  ]);
  return { champion, candidate, shards, test };
}

/** Evaluate a re-check from its inputs: pure CPU, the same in the consumer and a peer. */
export function recheckFromInputs(task: RecheckTask, inputs: RecheckInputs): RecheckReport {
  const byShard = new Map(task.shards.map((s, i) => [s, inputs.shards[i]]));
  return evaluateRecheck(
    isolateEvaluator(),
    recheckSpecOf(task),
    {
      champion: decodeGenomeBytes(inputs.champion),
      candidate: inputs.candidate ? decodeGenomeBytes(inputs.candidate) : null,
    },
    // One 1,000-image batch at a time (~1 MB each), made when its shard's turn comes.
    (shard) => shardToBatch(decodeAnyShard(byShard.get(shard)!)),
    shardToBatch(decodeAnyShard(inputs.test)),
    task.weights,
  );
}

/** Read and evaluate a re-check here, in this isolate. */
export async function runRecheck(env: EvaluatorBindings, task: RecheckTask): Promise<RecheckReport> {
  return recheckFromInputs(task, await loadRecheckInputs(env, task));
}
