/**
 * The queue messages the ledger's due tasks become (numbers and R2 addresses, never a genome), and
 * how they are cut into `sendBatch` calls.
 */
import { genomeShape, requireBuiltinDataset } from '../../src/data/dataset';
import { configDataset, type SearchConfig } from '../../src/wann/config';
import { breedingParams, generationShard } from '../../src/wann/generation';
import type {
  GenomeLocation,
  PublishTask,
  QueueTask,
  RecheckTask,
  SliceTask,
} from '../contracts/queue-tasks';
import type { StoredPlan } from './population-index';
import type { RunMeta } from './run-state';
import type { PublicationEntry, SliceEntry } from './task-ledger';
import type { StoredSlice } from './types';

/** Queue.sendBatch takes at most 100 messages and 256 KB; stay well inside both. */
const SEND_BATCH = 100;
const SEND_BATCH_BYTES = 192 * 1024;

/** `{ dataset }` for a run off MNIST, nothing for MNIST (whose tasks stay as they always were). */
function datasetField(config: SearchConfig): { dataset?: string } {
  return config.dataset === undefined ? {} : { dataset: configDataset(config) };
}

/**
 * The messages for `due` slices of the current generation: parent indices (from `plan`) and where
 * each distinct parent lies among `previous` (generation gen − 1's stored slices).
 */
export function sliceTasks(
  meta: RunMeta,
  plan: StoredPlan,
  previous: readonly StoredSlice[],
  due: readonly SliceEntry[],
): SliceTask[] {
  const gen = meta.gen;
  const shard = generationShard(meta.config, gen);
  // A genome has one input per feature and one output per class of the run's dataset.
  const breeding = breedingParams(
    meta.config,
    meta.shape ?? genomeShape(requireBuiltinDataset(configDataset(meta.config))),
  );
  return due.map((s) => {
    const own = gen > 0 ? Array.from(plan.parents.subarray(s.start, s.end)) : [];
    const distinct = [...new Set(own)].sort((a, b) => a - b);
    return {
      kind: 'slice',
      runId: meta.runId,
      gen,
      sliceStart: s.start,
      sliceEnd: s.end,
      shard,
      weights: meta.config.weights,
      breeding,
      elites: plan.elites,
      parents: own,
      sources: distinct.map((index) => locate(previous, index)),
      ...datasetField(meta.config),
    };
  });
}

export function publishTask(meta: RunMeta, p: PublicationEntry): PublishTask {
  return {
    kind: 'publish',
    runId: meta.runId,
    version: p.version,
    generation: p.generation,
    champion: { generation: p.champion.champion.generation, location: p.champion.location },
    weights: meta.config.weights,
    trainShards: meta.config.trainShards,
    ...datasetField(meta.config),
  };
}

/**
 * The re-check of generation `gen` on training shards `shards`: the champion and the candidate in
 * `meta` (already those after gen − 1), by where they lie.
 */
export function recheckTask(meta: RunMeta, gen: number, shards: number[]): RecheckTask {
  const { champion, candidate } = meta;
  if (!champion) throw new Error(`generation ${gen}: a re-check without a champion`);
  return {
    kind: 'recheck',
    runId: meta.runId,
    gen,
    shards,
    weights: meta.config.weights,
    champion: { generation: champion.champion.generation, location: champion.location },
    candidate: candidate ? { generation: candidate.champion.generation, location: candidate.location } : null,
    ...datasetField(meta.config),
  };
}

/** Where member `index` lies among a generation's stored slices (sorted by start). */
export function locate(slices: readonly StoredSlice[], index: number): GenomeLocation {
  let lo = 0;
  let hi = slices.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const s = slices[mid];
    if (index < s.start) hi = mid - 1;
    else if (index >= s.end) lo = mid + 1;
    else {
      const i = index - s.start;
      return { index, slice: s.start, offset: s.offsets[i], length: s.offsets[i + 1] - s.offsets[i] };
    }
  }
  throw new Error(`member ${index} is in no stored slice`);
}

/** Split tasks into sendBatch calls within the queue's count and size limits. */
export function sendBatches<T extends { task: QueueTask }>(tasks: readonly T[]): T[][] {
  const out: T[][] = [];
  let part: T[] = [];
  let bytes = 0;
  for (const t of tasks) {
    const size = JSON.stringify(t.task).length + 64;
    if (part.length && (part.length >= SEND_BATCH || bytes + size > SEND_BATCH_BYTES)) {
      out.push(part);
      part = [];
      bytes = 0;
    }
    part.push(t);
    bytes += size;
  }
  if (part.length) out.push(part);
  return out;
}
