/**
 * `GenerationRecord` ⇄ D1: the only mapping between the record (src/wann/record.ts) and the
 * `generations` table, plus the run-row columns a finished generation updates. The coordinator
 * writes with these; the API reads with them.
 */
import type { GenerationRow, generations, runs } from '../../schema/schema';
import { championWithDefaults, type GenerationRecord } from '../../src/wann/record';

/** The `generations` insert values holding `record` whole. */
export function toGenerationRow(
  runId: string,
  record: GenerationRecord,
  createdAt: number,
): typeof generations.$inferInsert {
  return { runId, ...record, createdAt };
}

/**
 * The record a row holds (rows older than migration 0002 have a null shard and champion; older than
 * 0004, a null test accuracy and a champion without `chosenBy`/`recheckedFitness`, filled in here).
 */
export function fromGenerationRow(row: GenerationRow): GenerationRecord {
  return {
    gen: row.gen,
    objectives: row.objectives,
    shard: row.shard,
    fitnessMean: row.fitnessMean,
    fitnessMedian: row.fitnessMedian,
    fitnessMax: row.fitnessMax,
    bestEverFitness: row.bestEverFitness,
    championAccuracy: row.championAccuracy,
    championConnections: row.championConnections,
    meanConnections: row.meanConnections,
    meanNodes: row.meanNodes,
    evaluations: row.evaluations,
    durationMs: row.durationMs,
    champion: row.champion ? championWithDefaults(row.champion) : null,
    testAccuracy: row.testAccuracy ?? null,
  };
}

/** The `runs` columns that follow a finished generation (set in the same batch as its row). */
export function toRunProgress(
  record: GenerationRecord,
  updatedAt: number,
): Partial<typeof runs.$inferInsert> {
  const c = record.champion;
  return {
    generation: record.gen + 1,
    bestFitness: record.bestEverFitness,
    championFitness: c?.fitness ?? null,
    championGeneration: c?.generation ?? null,
    championIndex: c?.index ?? null,
    championConnections: c?.connections ?? null,
    championAccuracy: c?.accuracy ?? null,
    championChosenBy: c?.chosenBy ?? null,
    championRecheckedFitness: c?.recheckedFitness ?? null,
    updatedAt,
  };
}
