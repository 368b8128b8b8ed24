/**
 * `GenerationRecord`: the statistics of one finished generation, defined once. The coordinator (or
 * the Node search) makes it from the generation's objectives; D1 rows, the REST and SSE answers,
 * the CSV download, the pages and the CLI all derive from this one shape. Non-finite statistics
 * (no genome evaluated successfully) are `null`, so the record survives JSON and D1 unchanged.
 */
import { z } from 'zod';

const int = z.number().int().min(0);
const stat = z.number().nullable();

/** How the current champion was picked (src/wann/generation.ts "Champion"). */
export const CHAMPION_CHOICES = ['batch', 'recheck'] as const;
export type ChampionChoice = (typeof CHAMPION_CHOICES)[number];

/**
 * The run's champion, addressed by (generation, index): with the re-check off, the best mean
 * fitness seen so far; with it on, the genome that won the last re-check (see generation.ts).
 */
export const championSchema = z.strictObject({
  /** Generation whose population holds the champion. */
  generation: int,
  /** Index of the champion in that generation's population. */
  index: int,
  /** Mean fitness over the shared weights (on that generation's training shard). */
  fitness: z.number(),
  /** Batch accuracy per shared weight, on that generation's training shard. */
  accuracy: z.array(z.number()),
  /** Enabled connections. */
  connections: int,
  /**
   * 'batch': it became champion on its single-batch fitness (re-check off, or the first champion
   * of a run); 'recheck': it won a re-check against the champion before it.
   */
  chosenBy: z.enum(CHAMPION_CHOICES),
  /** Its mean fitness over the batches of the latest re-check it took part in; null if none yet. */
  recheckedFitness: z.number().nullable(),
});
export type ChampionRecord = z.infer<typeof championSchema>;

export const OBJECTIVE_PAIRS = ['mean+connections', 'mean+max'] as const;
export type ObjectivePair = (typeof OBJECTIVE_PAIRS)[number];

export const generationRecordSchema = z.strictObject({
  /** Generation number, from 0. */
  gen: int,
  /** The objective pair this generation's ranking drew (80/20 between the two). */
  objectives: z.enum(OBJECTIVE_PAIRS),
  /**
   * The training shard (1,000 images) every genome of this generation was evaluated on; null only
   * for generations stored before the shard was recorded (D1 rows older than migration 0002).
   */
  shard: int.nullable(),
  /** Mean / median / max over the population of each genome's mean fitness over the weights. */
  fitnessMean: stat,
  fitnessMedian: stat,
  fitnessMax: stat,
  /**
   * The champion's mean fitness on its own generation's batch: the best seen so far with the
   * re-check off; with it on, it can fall when a re-check crowns a genome that was luckier less.
   */
  bestEverFitness: stat,
  /**
   * Mean batch accuracy over the shared weights of this generation's best genome: not the run's
   * champion's (that is `champion.accuracy`). The name is kept: it is the D1 column, the SSE and
   * JSON field and the golden trace's; the CSV (API version 2) calls it `generationBestAccuracy`.
   */
  championAccuracy: stat,
  /**
   * Enabled connections of this generation's best genome (the champion's: `champion.connections`);
   * `generationBestConnections` in the CSV.
   */
  championConnections: z.number().int().nullable(),
  /** Mean enabled connections over the population. */
  meanConnections: z.number(),
  /**
   * Mean node count over the population, the bias, inputs and outputs included (267 for MNIST);
   * the CSV's `meanHiddenNodes` counts hidden nodes only.
   */
  meanNodes: z.number(),
  /** Genomes evaluated. */
  evaluations: int,
  /** Wall time from dispatching the generation to its last slice (ms). */
  durationMs: int,
  /** The champion after this generation (`bestEverFitness` is its batch fitness). */
  champion: championSchema.nullable(),
  /**
   * Ensemble accuracy (fraction) of that champion on a fixed test subset (test shard 0: 1,000
   * images), measured by the re-check of this generation; null on generations without one.
   */
  testAccuracy: z.number().min(0).max(1).nullable(),
});
export type GenerationRecord = z.infer<typeof generationRecordSchema>;

/** Bias, inputs and outputs: the nodes every genome of a dataset has (`meanNodes` counts them). */
export function fixedNodeCount(shape: { inputs: number; outputs: number }): number {
  return 1 + shape.inputs + shape.outputs;
}

/**
 * Columns of the generations CSV (API version 2), in order, champion fields flattened. Version 1's
 * `championAccuracy` / `championConnections` (the generation's best genome) are
 * `generationBestAccuracy` / `generationBestConnections`, its `meanNodes` (bias, inputs and outputs
 * included) is `meanHiddenNodes`, and its `testAccuracy` is `checkTestAccuracy` (the name
 * src/api/figures.ts gives the re-check's figure); the champion's own batch accuracy and connections
 * are columns of their own.
 */
export const GENERATION_CSV_COLUMNS = [
  'gen',
  'objectives',
  'shard',
  'fitnessMean',
  'fitnessMedian',
  'fitnessMax',
  'bestEverFitness',
  'generationBestAccuracy',
  'generationBestConnections',
  'meanConnections',
  'meanHiddenNodes',
  'evaluations',
  'durationMs',
  'championGeneration',
  'championIndex',
  'championChosenBy',
  'championBatchAccuracy',
  'championEnabledConnections',
  'championRecheckedFitness',
  'checkTestAccuracy',
] as const;

/** One CSV line; `fixedNodes` from `fixedNodeCount` of the run's genome shape (null: unknown, left empty). */
export function generationCsvLine(r: GenerationRecord, fixedNodes: number | null): string {
  const accuracy = r.champion?.accuracy ?? [];
  const flat: Record<(typeof GENERATION_CSV_COLUMNS)[number], unknown> = {
    ...r,
    generationBestAccuracy: r.championAccuracy,
    generationBestConnections: r.championConnections,
    meanHiddenNodes: fixedNodes === null ? null : r.meanNodes - fixedNodes,
    championGeneration: r.champion?.generation,
    championIndex: r.champion?.index,
    championChosenBy: r.champion?.chosenBy,
    championBatchAccuracy: accuracy.length ? accuracy.reduce((a, b) => a + b, 0) / accuracy.length : null,
    championEnabledConnections: r.champion?.connections,
    championRecheckedFitness: r.champion?.recheckedFitness,
    checkTestAccuracy: r.testAccuracy,
  };
  return GENERATION_CSV_COLUMNS.map((k) => flat[k] ?? '').join(',');
}

/**
 * A champion as stored before the re-check existed (D1 rows, a coordinator's state) has neither
 * `chosenBy` nor `recheckedFitness`: it was chosen by its batch fitness and never re-checked.
 */
export function championWithDefaults(
  c: Omit<ChampionRecord, 'chosenBy' | 'recheckedFitness'> & Partial<ChampionRecord>,
): ChampionRecord {
  return { ...c, chosenBy: c.chosenBy ?? 'batch', recheckedFitness: c.recheckedFitness ?? null };
}

/** NaN and ±Infinity become null (JSON and D1 have neither). */
export function finiteOrNull(v: number | null | undefined): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}
