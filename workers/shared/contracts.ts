/**
 * Contracts between the Workers of this project: the queue messages and the R2 keys both sides
 * derive. Kept apart from either Worker so the producer (coordinator) and the consumer (evaluator)
 * cannot drift. The algorithm's own contract (plans, slice reports, records) is src/wann/generation.ts.
 */
import { z } from 'zod';
import { breedingParamsSchema } from '../../src/wann/generation';

const int = z.number().int().min(0);

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
});
export type PublishTask = z.infer<typeof publishTaskSchema>;

export const queueTaskSchema = z.discriminatedUnion('kind', [sliceTaskSchema, publishTaskSchema]);
export type QueueTask = SliceTask | PublishTask;

/** What the coordinator answers to a report; only 'accepted' changes anything. */
export type ReportOutcome = 'accepted' | 'duplicate' | 'stale' | { rejected: string };

/** Members [sliceStart, …) of generation `gen`, written by the slice that bred them. */
export function populationSliceKey(runId: string, gen: number, sliceStart: number): string {
  return `runs/${runId}/gen/${gen}/${sliceStart}`;
}

/** Every slice object of a run starts with this (R2 list prefix, for cleanup). */
export function runBlobPrefix(runId: string): string {
  return `runs/${runId}/`;
}

/** Training shard `index` (0-based): `shards/train-07.bin`. */
export function trainShardKey(index: number): string {
  return `shards/train-${String(index).padStart(2, '0')}.bin`;
}

/** Test shard `index` (0-based): `shards/test-3.bin`. */
export function testShardKey(index: number): string {
  return `shards/test-${index}.bin`;
}
