/**
 * worker_threads side of EvalPool: for each slice [s, e) of generation g it breeds the members from
 * their parents (read out of generation g−1's shared slice buffers, decoded once per generation),
 * encodes the slice into a SharedArrayBuffer, evaluates it and posts the report with the buffer.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { type BreedingParams, evaluateRecheck } from '../src/wann/generation';
import { decodeGenomeBytes, type Genome } from '../src/wann/genome';
import { compile, Evaluator, type Plan } from '../src/wann/network';
import { evaluateSlice } from '../src/wann/slice';
import type { Batch, GenomeResult } from '../src/wann/types';
import type { FromWorker, GenomeBytes, StoredSlice, ToWorker, WorkerOptions } from './eval-pool';
import { loadKernel } from './kernel';

const options = workerData as WorkerOptions;
const evaluator = new Evaluator(options.kernel ? { kernel: loadKernel() } : {});
const batches = new Map<number, Batch>();

interface Context {
  gen: number;
  breeding: BreedingParams | null;
  weights: readonly number[];
  batch: Batch;
  sources: readonly StoredSlice[];
  /** Members of `sources` decoded so far (parents shared by several children are decoded once). */
  decoded: Map<number, Genome>;
}
let context: Context | null = null;

/** Member `index` of the sources (generation gen−1, or the population being evaluated). */
function member(ctx: Context, index: number): Genome {
  const cached = ctx.decoded.get(index);
  if (cached) return cached;
  const { sources } = ctx;
  let lo = 0;
  let hi = sources.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (sources[mid].sliceStart <= index) lo = mid;
    else hi = mid - 1;
  }
  const s = sources[lo];
  if (!s || index < s.sliceStart || index >= s.sliceEnd)
    throw new RangeError(`member ${index} is in no source`);
  const i = index - s.sliceStart;
  const genome = decodeGenomeBytes(new Uint8Array(s.buffer, s.offsets[i], s.offsets[i + 1] - s.offsets[i]));
  ctx.decoded.set(index, genome);
  return genome;
}

function breedSlice(ctx: Context, task: Extract<ToWorker, { type: 'slice' }>): FromWorker {
  if (!ctx.breeding) throw new Error('slice task without breeding parameters');
  const { blob, report } = evaluateSlice(
    evaluator,
    { ...task, gen: ctx.gen, breeding: ctx.breeding, weights: ctx.weights },
    (index) => member(ctx, index),
    ctx.batch,
    (index, e) => console.error(`generation ${ctx.gen}, member ${index}: ${String(e)}`),
  );
  const buffer = new SharedArrayBuffer(blob.length);
  new Uint8Array(buffer).set(blob);
  return { type: 'slice', id: task.id, report, buffer };
}

/** Evaluate members already bred (the benchmarks' fixed populations): no breeding, no blob. */
function evaluateStored(ctx: Context, task: Extract<ToWorker, { type: 'evaluate' }>): FromWorker {
  const plans: Plan[] = [];
  for (let j = task.sliceStart; j < task.sliceEnd; j++) plans.push(compile(member(ctx, j)));
  // Shared rows evaluated once, as `evaluateMembers` does (bit-identical to one genome at a time).
  const results: GenomeResult[] = evaluator.evaluateMany(plans, ctx.batch, ctx.weights);
  return { type: 'evaluated', id: task.id, results };
}

function sharedBatch(id: number): Batch {
  const batch = batches.get(id);
  if (!batch) throw new Error(`batch ${id} was never sent to this worker`);
  return batch;
}

const decodeBytes = (b: GenomeBytes) => decodeGenomeBytes(new Uint8Array(b.buffer, b.offset, b.length));

/** A champion re-check: needs no generation context, only its own genomes and batches. */
function recheck(task: Extract<ToWorker, { type: 'recheck' }>): FromWorker {
  const byShard = new Map(task.shardBatches);
  const report = evaluateRecheck(
    evaluator,
    task.spec,
    { champion: decodeBytes(task.champion), candidate: task.candidate ? decodeBytes(task.candidate) : null },
    (shard) => sharedBatch(byShard.get(shard) ?? -1),
    sharedBatch(task.testBatch),
    task.weights,
  );
  return { type: 'rechecked', id: task.id, report };
}

parentPort!.postMessage({ type: 'ready' } satisfies FromWorker);
parentPort!.on('message', (msg: ToWorker) => {
  if (msg.type === 'batch') {
    batches.set(msg.batch, msg.data);
    return;
  }
  if (msg.type === 'generation') {
    const batch = batches.get(msg.batch);
    if (!batch) throw new Error(`batch ${msg.batch} was never sent to this worker`);
    const { gen, breeding, weights, sources } = msg;
    context = { gen, breeding, weights, batch, sources, decoded: new Map() };
    return;
  }
  try {
    if (msg.type === 'recheck') {
      parentPort!.postMessage(recheck(msg));
      return;
    }
    if (!context) throw new Error('task before its generation');
    parentPort!.postMessage(msg.type === 'slice' ? breedSlice(context, msg) : evaluateStored(context, msg));
  } catch (e) {
    parentPort!.postMessage({ type: 'error', id: msg.id, message: String((e as Error)?.stack ?? e) });
  }
});
