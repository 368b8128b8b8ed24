/**
 * The queue messages between the Workers of this project (the R2 keys both sides derive are
 * blob-keys.ts). Kept apart from either Worker so the producer (coordinator) and the consumer
 * (evaluator) cannot drift. The algorithm's own contract (plans, slice reports, records) is
 * src/wann/generation.ts.
 */
import { z } from 'zod';
import { datasetNameSchema } from '../../src/data/dataset';
import { breedingParamsSchema } from '../../src/wann/generation';

const int = z.number().int().min(0);

/**
 * The run's dataset, whose shards the task reads (blob-keys.ts `shardPrefix`). Absent means MNIST,
 * so an MNIST run's messages are the ones they always were.
 */
const taskDataset = datasetNameSchema.optional();

/**
 * Where a parent genome of generation gen−1 lies in R2: bytes [offset, offset + length) of the
 * slice object `populationSliceKey(runId, gen − 1, slice)`.
 */
export const genomeLocationSchema = z.strictObject({
  index: int,
  slice: int,
  offset: int,
  length: z.number().int().min(1),
});
export type GenomeLocation = z.infer<typeof genomeLocationSchema>;

/**
 * Breed members [sliceStart, sliceEnd) of generation `gen` from their parents in generation gen−1,
 * evaluate them on training shard `shard`, store the slice in R2 and report to the coordinator.
 * Never carries a genome: `parents[i]` is member sliceStart+i's parent index, and `sources` says
 * where each distinct parent lies (so the breeder reads only those bytes).
 */
export const sliceTaskSchema = z
  .strictObject({
    kind: z.literal('slice'),
    runId: z.string().min(1).max(64),
    gen: int,
    sliceStart: int,
    sliceEnd: z.number().int().min(1),
    shard: int,
    /** The shared weight values (≤ 16 numbers): keeps the evaluator free of run lookups. */
    weights: z.array(z.number()).min(1).max(16),
    breeding: breedingParamsSchema,
    /** Members with an index below this are copies of their parents (elites). */
    elites: int,
    /** One parent index per member of the slice; empty in generation 0. */
    parents: z.array(int).max(1_000),
    sources: z.array(genomeLocationSchema).max(1_000),
    dataset: taskDataset,
  })
  .refine((t) => t.sliceEnd > t.sliceStart && t.sliceEnd - t.sliceStart <= 1_000, {
    message: 'a slice holds 1 to 1,000 members',
    path: ['sliceEnd'],
  })
  .refine((t) => (t.gen === 0 ? t.parents.length === 0 : t.parents.length === t.sliceEnd - t.sliceStart), {
    message: 'one parent per member (none in generation 0)',
    path: ['parents'],
  });
export type SliceTask = z.infer<typeof sliceTaskSchema>;

/** Evaluate, export and store a published champion (test set, ONNX, genome JSON) off the coordinator. */
export const publishTaskSchema = z.strictObject({
  kind: z.literal('publish'),
  runId: z.string().min(1).max(64),
  version: z.number().int().min(1),
  /** Generations completed when the champion was published. */
  generation: int,
  /** The champion's address and where its bytes lie. */
  champion: z.strictObject({ generation: int, location: genomeLocationSchema }),
  weights: z.array(z.number()).min(1).max(16),
  trainShards: z.number().int().min(1).max(60),
  dataset: taskDataset,
});
export type PublishTask = z.infer<typeof publishTaskSchema>;

/** A genome of generation `generation` and where its bytes lie (its slice object in R2). */
const storedMemberSchema = z.strictObject({ generation: int, location: genomeLocationSchema });

/**
 * Re-check the champion (src/wann/generation.ts "Champion"): one more unit of generation `gen`'s
 * work. Evaluate the champion and the candidate (read from R2 by address) on training shards
 * `shards`, apply the rule, measure the winner's ensemble accuracy on test shard
 * `RECHECK_TEST_SHARD` (`testShardKey`, blob-keys.ts), and report with `SearchCoordinator.recheckReport`.
 */
export const recheckTaskSchema = z
  .strictObject({
    kind: z.literal('recheck'),
    runId: z.string().min(1).max(64),
    gen: z.number().int().min(1),
    shards: z.array(z.number().int().min(0).max(59)).min(1).max(60),
    weights: z.array(z.number()).min(1).max(16),
    champion: storedMemberSchema,
    candidate: storedMemberSchema.nullable(),
    dataset: taskDataset,
  })
  .refine((t) => new Set(t.shards).size === t.shards.length, {
    message: 'shards must be distinct',
    path: ['shards'],
  });
export type RecheckTask = z.infer<typeof recheckTaskSchema>;

/**
 * One chunk of training per-connection weights from published (shared) version `version`
 * (workers/models/train.ts): continue from the D1 `trainings` row's step (`step` is the step
 * this message was sent at, for logs), a bounded number of steps, state to R2, then the next chunk.
 */
export const trainTaskSchema = z.strictObject({
  kind: z.literal('train'),
  runId: z.string().min(1).max(64),
  version: z.number().int().min(1),
  step: int,
});
export type TrainTask = z.infer<typeof trainTaskSchema>;

/**
 * Build uploaded dataset `datasetId`'s shards from its stored upload (workers/datasets/build.ts);
 * everything else it needs is on its D1 `datasets` row.
 */
export const datasetBuildTaskSchema = z.strictObject({
  kind: z.literal('dataset-build'),
  datasetId: datasetNameSchema,
});
export type DatasetBuildTask = z.infer<typeof datasetBuildTaskSchema>;

/**
 * Compute dataset `dataset`'s softmax-regression baseline from `epoch` completed epochs on
 * (workers/datasets/baseline.ts): a built-in's name or an upload's id. Sent on the training queue
 * (long CPU work, one message at a time, each chunk sending the next), never on the slices' queue.
 */
export const datasetBaselineTaskSchema = z.strictObject({
  kind: z.literal('dataset-baseline'),
  dataset: datasetNameSchema,
  epoch: z.number().int().min(0),
});
export type DatasetBaselineTask = z.infer<typeof datasetBaselineTaskSchema>;

/** What the training queue carries: training chunks and dataset baselines. */
export const trainQueueTaskSchema = z.discriminatedUnion('kind', [
  trainTaskSchema,
  datasetBaselineTaskSchema,
]);

export const queueTaskSchema = z.discriminatedUnion('kind', [
  sliceTaskSchema,
  publishTaskSchema,
  recheckTaskSchema,
  trainTaskSchema,
  datasetBuildTaskSchema,
]);
export type QueueTask = SliceTask | PublishTask | RecheckTask | TrainTask | DatasetBuildTask;

/**
 * The algorithm's view of a re-check task (src/wann/generation.ts `RecheckSpec`): numbers and
 * addresses, as the evaluator evaluates it and the coordinator checks its report.
 */
export function recheckSpecOf(task: RecheckTask) {
  return {
    gen: task.gen,
    shards: task.shards,
    champion: { generation: task.champion.generation, index: task.champion.location.index },
    candidate: task.candidate
      ? { generation: task.candidate.generation, index: task.candidate.location.index }
      : null,
  };
}

/** What the coordinator answers to a report; only 'accepted' changes anything. */
export type ReportOutcome = 'accepted' | 'duplicate' | 'stale' | { rejected: string };

/**
 * The task queue's binding with its message type (`EVAL_QUEUE`): wrangler's generated Env types it
 * `Queue` (messages unknown), since a wrangler config cannot state what a queue carries.
 */
export type TaskQueue = Queue<QueueTask>;

/**
 * Training chunks have a queue of their own (`TRAIN_QUEUE`, consumed by the evaluator Worker), so a
 * chunk never waits in front of a run's slices: locally the queue broker delivers one batch at a
 * time per queue, and one training chunk that hung stopped every search behind it.
 */
export const TRAIN_QUEUE_NAME = 'wann-train-tasks';
export type TrainQueue = Queue<TrainTask | DatasetBaselineTask>;
