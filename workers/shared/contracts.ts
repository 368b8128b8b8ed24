/**
 * Contracts between the Workers of this project: the evaluation queue message and the R2 keys
 * both sides derive. Kept apart from either Worker so the producer (coordinator) and the consumer
 * (evaluator) cannot drift.
 */
import { z } from 'zod';

/** One queue message: evaluate genomes [sliceStart, sliceEnd) of a generation on one shard. */
export const sliceTaskSchema = z.strictObject({
  runId: z.string().min(1).max(64),
  gen: z.number().int().min(0),
  sliceStart: z.number().int().min(0),
  sliceEnd: z.number().int().min(1),
  shard: z.number().int().min(0),
  /** The shared weight values (≤ 16 numbers): keeps the evaluator free of run lookups. */
  weights: z.array(z.number()).min(1).max(16),
});
export type SliceTask = z.infer<typeof sliceTaskSchema>;

/** What the coordinator answers to a report; only 'accepted' changes anything. */
export type ReportOutcome = 'accepted' | 'duplicate' | 'stale' | 'rejected';

/** Population of generation `gen`, written by the coordinator in the `encodePopulation` format. */
export function populationKey(runId: string, gen: number): string {
  return `runs/${runId}/gen/${gen}`;
}

/** Training shard `index` (0-based): `shards/train-07.bin`. */
export function trainShardKey(index: number): string {
  return `shards/train-${String(index).padStart(2, '0')}.bin`;
}

/** Test shard `index` (0-based): `shards/test-3.bin`. */
export function testShardKey(index: number): string {
  return `shards/test-${index}.bin`;
}
