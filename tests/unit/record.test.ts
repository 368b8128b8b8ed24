/**
 * `GenerationRecord` is the one shape of a generation's statistics: it survives a D1 row (the
 * drizzle column encoding, and a real D1 with the migrations applied) unchanged, and the CSV line
 * follows its columns.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { and, asc, eq, getTableColumns } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/d1';
import { Miniflare } from 'miniflare';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type GenerationRow, generations, runs } from '../../schema/schema';
import {
  fixedNodeCount,
  GENERATION_CSV_COLUMNS,
  type GenerationRecord,
  generationCsvLine,
  generationRecordSchema,
} from '../../src/wann/record';
import { fromGenerationRow, toGenerationRow, toRunProgress } from '../../workers/contracts/generation-rows';

const RUN_ID = '00000000-0000-4000-8000-000000000001';

const record: GenerationRecord = {
  gen: 7,
  objectives: 'mean+max',
  shard: 41,
  fitnessMean: -1.25,
  fitnessMedian: -1.5,
  fitnessMax: 0.125,
  bestEverFitness: 0.5,
  championAccuracy: 0.3125,
  championConnections: 12,
  meanConnections: 9.75,
  meanNodes: 277.5,
  evaluations: 64,
  durationMs: 183,
  champion: {
    generation: 5,
    index: 13,
    fitness: 0.5,
    accuracy: [0.25, 0.5, 0.125, 0.0625],
    connections: 11,
    chosenBy: 'recheck',
    recheckedFitness: 0.375,
  },
  testAccuracy: 0.8125,
};

/** Generation 0 with no finite fitness and no champion yet: every nullable field null. */
const empty: GenerationRecord = {
  ...record,
  gen: 0,
  objectives: 'mean+connections',
  fitnessMean: null,
  fitnessMedian: null,
  fitnessMax: null,
  bestEverFitness: null,
  championAccuracy: null,
  championConnections: null,
  champion: null,
  testAccuracy: null,
};

/** The row as D1 hands it back: each value through its column's driver encoding and back. */
function throughColumns(values: ReturnType<typeof toGenerationRow>): GenerationRow {
  const row: Record<string, unknown> = {};
  for (const [key, column] of Object.entries(getTableColumns(generations))) {
    const value = values[key as keyof typeof values] ?? null;
    row[key] = value === null ? null : column.mapFromDriverValue(column.mapToDriverValue(value));
  }
  return row as GenerationRow;
}

describe('GenerationRecord ⇄ generations row', () => {
  it.each([
    ['a full record', record],
    ['a record with null statistics and no champion', empty],
  ])('%s round-trips unchanged and parses with the schema', (_, r) => {
    expect(generationRecordSchema.parse(r)).toEqual(r);
    const values = toGenerationRow(RUN_ID, r, 1_700_000_000_000);
    expect(values).toMatchObject({ runId: RUN_ID, gen: r.gen, createdAt: 1_700_000_000_000 });
    const back = fromGenerationRow(throughColumns(values));
    expect(back).toEqual(r);
    expect(generationRecordSchema.parse(back)).toEqual(r);
  });

  it('has a column for every record field (and only run id and creation time besides)', () => {
    const columns = Object.keys(getTableColumns(generations)).sort();
    expect(columns).toEqual([...Object.keys(record), 'runId', 'createdAt'].sort());
  });

  it('puts the champion on the run row', () => {
    expect(toRunProgress(record, 5)).toEqual({
      generation: 8,
      bestFitness: 0.5,
      championFitness: 0.5,
      championGeneration: 5,
      championIndex: 13,
      championConnections: 11,
      championAccuracy: [0.25, 0.5, 0.125, 0.0625],
      championChosenBy: 'recheck',
      championRecheckedFitness: 0.375,
      updatedAt: 5,
    });
    expect(toRunProgress(empty, 5)).toMatchObject({ championIndex: null, championFitness: null });
  });
});

describe('GenerationRecord in D1 (Miniflare, migrations applied)', () => {
  let mf: Miniflare;
  let db: ReturnType<typeof drizzle>;

  beforeAll(async () => {
    mf = new Miniflare({ modules: true, script: 'export default {}', d1Databases: ['DB'] });
    const d1 = await mf.getD1Database('DB');
    for (const file of readdirSync('migrations')
      .filter((f) => f.endsWith('.sql'))
      .sort()) {
      const sql = readFileSync(`migrations/${file}`, 'utf8');
      for (const statement of sql.split('--> statement-breakpoint')) {
        if (statement.trim()) await d1.prepare(statement).run();
      }
    }
    db = drizzle(d1);
    await db
      .insert(runs)
      .values({ id: RUN_ID, status: 'running', config: {}, seed: 1, createdAt: 1, updatedAt: 1 });
  }, 30_000);

  afterAll(() => mf?.dispose());

  it('stores and reads records unchanged, the run row with them in one batch', async () => {
    for (const r of [empty, record]) {
      await db.batch([
        db.insert(generations).values(toGenerationRow(RUN_ID, r, 2)),
        db.update(runs).set(toRunProgress(r, 2)).where(eq(runs.id, RUN_ID)),
      ]);
    }
    const rows = await db
      .select()
      .from(generations)
      .where(eq(generations.runId, RUN_ID))
      .orderBy(asc(generations.gen));
    expect(rows.map(fromGenerationRow)).toEqual([empty, record]);
    const run = await db.select().from(runs).where(eq(runs.id, RUN_ID)).get();
    expect(run).toMatchObject({
      generation: 8,
      championGeneration: 5,
      championIndex: 13,
      championChosenBy: 'recheck',
      championRecheckedFitness: 0.375,
    });
  });

  it('reads a row written before migration 0002 with a null shard and champion', async () => {
    await mf.getD1Database('DB').then((d1) =>
      d1
        .prepare(
          `INSERT INTO generations (run_id, gen, objectives, fitness_mean, fitness_median, fitness_max,
             best_ever_fitness, champion_accuracy, champion_connections, mean_connections, mean_nodes,
             evaluations, duration_ms) VALUES (?, 99, 'mean+max', 1, 1, 1, 1, 0.5, 3, 4, 5, 64, 10)`,
        )
        .bind(RUN_ID)
        .run(),
    );
    const row = await db
      .select()
      .from(generations)
      .where(and(eq(generations.runId, RUN_ID), eq(generations.gen, 99)))
      .get();
    const old = fromGenerationRow(row!);
    expect(old).toMatchObject({ gen: 99, shard: null, champion: null, evaluations: 64, testAccuracy: null });
    expect(generationRecordSchema.parse(old)).toEqual(old);
  });

  it('reads a row written before migration 0004: no test accuracy, a champion chosen by batch', async () => {
    const d1 = await mf.getD1Database('DB');
    await d1
      .prepare(
        `INSERT INTO generations (run_id, gen, objectives, shard, fitness_mean, fitness_median, fitness_max,
           best_ever_fitness, champion_accuracy, champion_connections, mean_connections, mean_nodes,
           evaluations, duration_ms, champion) VALUES (?, 98, 'mean+max', 3, 1, 1, 1, 1, 0.5, 3, 4, 5, 64, 10, ?)`,
      )
      .bind(RUN_ID, JSON.stringify({ generation: 97, index: 2, fitness: 1, accuracy: [0.5], connections: 3 }))
      .run();
    const row = await db
      .select()
      .from(generations)
      .where(and(eq(generations.runId, RUN_ID), eq(generations.gen, 98)))
      .get();
    const old = fromGenerationRow(row!);
    expect(old.testAccuracy).toBeNull();
    expect(old.champion).toEqual({
      generation: 97,
      index: 2,
      fitness: 1,
      accuracy: [0.5],
      connections: 3,
      chosenBy: 'batch',
      recheckedFitness: null,
    });
    expect(generationRecordSchema.parse(old)).toEqual(old);
  });
});

/** MNIST's bias, 256 inputs and 10 outputs. */
const MNIST_FIXED = fixedNodeCount({ inputs: 256, outputs: 10 });

describe('generations CSV (API version 2)', () => {
  it('gives one value per column, in GENERATION_CSV_COLUMNS order, named for what it holds', () => {
    const values = generationCsvLine(record, MNIST_FIXED).split(',');
    expect(values).toHaveLength(GENERATION_CSV_COLUMNS.length);
    const at = (name: (typeof GENERATION_CSV_COLUMNS)[number]) =>
      values[GENERATION_CSV_COLUMNS.indexOf(name)];
    for (const name of ['gen', 'fitnessMean', 'bestEverFitness', 'meanConnections', 'durationMs'] as const)
      expect(at(name), name).toBe(String(record[name]));
    // The generation's best genome, under names that say so (version 1 called them champion*).
    expect(at('generationBestAccuracy')).toBe('0.3125');
    expect(at('generationBestConnections')).toBe('12');
    // The champion's own figures differ from the generation's best.
    expect(at('championBatchAccuracy')).toBe(String((0.25 + 0.5 + 0.125 + 0.0625) / 4));
    expect(at('championEnabledConnections')).toBe('11');
    expect(at('meanHiddenNodes')).toBe('10.5');
    expect(at('championGeneration')).toBe('5');
    expect(at('championIndex')).toBe('13');
    expect(at('championChosenBy')).toBe('recheck');
    expect(at('championRecheckedFitness')).toBe('0.375');
    expect(at('checkTestAccuracy')).toBe('0.8125');
    for (const old of ['championAccuracy', 'championConnections', 'meanNodes', 'testAccuracy'])
      expect(GENERATION_CSV_COLUMNS as readonly string[]).not.toContain(old);
  });

  it('leaves null statistics and a missing champion empty', () => {
    const values = generationCsvLine(empty, MNIST_FIXED).split(',');
    expect(values).toHaveLength(GENERATION_CSV_COLUMNS.length);
    for (const name of [
      'fitnessMean',
      'bestEverFitness',
      'generationBestAccuracy',
      'generationBestConnections',
      'championGeneration',
      'championIndex',
      'championChosenBy',
      'championBatchAccuracy',
      'championEnabledConnections',
      'championRecheckedFitness',
      'checkTestAccuracy',
    ] as const) {
      expect(values[GENERATION_CSV_COLUMNS.indexOf(name)], name).toBe('');
    }
    expect(values[0]).toBe('0');
  });
});
