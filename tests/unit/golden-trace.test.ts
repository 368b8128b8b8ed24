/**
 * Golden trace: the first 12 generations of a fixed seed (population 48, the real MNIST training
 * shards, trainShards 60, champion re-checks every 4 generations on 5 shards), record for record,
 * driven by LocalSearch (one thread, every genome in memory) and by the worker pool (2 threads,
 * slice sizes 5 and 48; the pool also cuts the last slices of a generation smaller, so the two runs
 * slice differently again, and runs each re-check on a worker thread). Any change to a random
 * draw, to breeding, evaluation, the statistics or the champion rule changes some record and fails
 * here; a pool that depended on slicing or on thread timing would differ from LocalSearch.
 *
 * After an intended change, regenerate the fixture (from LocalSearch) and review its diff:
 *   UPDATE_GOLDEN=1 npx vitest run --project unit tests/unit/golden-trace.test.ts
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EvalPool } from '../../node/eval-pool';
import { loadKernel } from '../../node/kernel';
import { PoolSearch } from '../../node/pool-search';
import { readShard } from '../../node/shards';
import { buildShards } from '../../scripts/build-shards';
import { shardToBatch } from '../../src/data/shard';
import { resolveConfig, type SearchConfigInput } from '../../src/wann/config';
import { breedingParams, breedMember, RECHECK_TEST_SHARD } from '../../src/wann/generation';
import { bytesToBase64, encodePopulation, type Genome } from '../../src/wann/genome';
import { LocalSearch } from '../../src/wann/local-search';
import { compile, Evaluator } from '../../src/wann/network';
import type { GenerationRecord } from '../../src/wann/record';
import type { Batch } from '../../src/wann/types';

const FIXTURE = fileURLToPath(new URL('../fixtures/golden-trace.json', import.meta.url));
const UPDATE = process.env.UPDATE_GOLDEN === '1';
const INPUT = {
  population: 48,
  seed: 20190611,
  generations: 12,
  trainShards: 60,
  recheckEvery: 4,
  recheckBatches: 5,
} satisfies SearchConfigInput;
const config = resolveConfig(INPUT, () => 0);

/** A record minus its wall time, the one field that may differ between runs. */
type TracedRecord = Omit<GenerationRecord, 'durationMs'>;
interface GoldenTrace {
  config: SearchConfigInput;
  records: TracedRecord[];
  /** The final champion, population codec, base64. */
  champion: string;
}

const traced = (r: GenerationRecord): TracedRecord => {
  const copy: Partial<GenerationRecord> = { ...r };
  delete copy.durationMs;
  return copy as TracedRecord;
};
const genomeBase64 = (g: Genome | null) => (g ? bytesToBase64(encodePopulation([g])) : '');

let dir = '';
const batches = new Map<number, Batch>();
const batchForShard = (shard: number): Batch => {
  let b = batches.get(shard);
  if (!b) {
    b = shardToBatch(readShard(dir, 'train', shard));
    batches.set(shard, b);
  }
  return b;
};

let pool: EvalPool;
let golden: GoldenTrace;
let testBatch: Batch;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'wann-golden-'));
  await buildShards(dir, { log: () => {} });
  testBatch = shardToBatch(readShard(dir, 'test', RECHECK_TEST_SHARD));
  pool = new EvalPool(2, { kernel: true });
  if (!UPDATE) golden = JSON.parse(readFileSync(FIXTURE, 'utf8')) as GoldenTrace;
}, 60_000);

afterAll(async () => {
  await pool?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('golden trace', () => {
  it('LocalSearch reproduces the committed records', () => {
    const search = new LocalSearch(config, batchForShard, new Evaluator({ kernel: loadKernel() }), testBatch);
    const records: TracedRecord[] = [];
    for (let g = 0; g < config.generations; g++) records.push(traced(search.step()));
    const champion = genomeBase64(search.championMember());
    if (UPDATE) {
      golden = { config: INPUT, records, champion };
      writeFileSync(FIXTURE, `${JSON.stringify(golden, null, 2)}\n`);
    }
    expect(golden.config).toEqual(INPUT);
    for (let g = 0; g < config.generations; g++)
      expect(records[g], `generation ${g}`).toEqual(golden.records[g]);
    expect(champion).toBe(golden.champion);
  });

  it.each([5, 48])('the worker pool (2 threads, slice size %i) reproduces them', async (sliceSize) => {
    const search = new PoolSearch(config, pool, batchForShard, sliceSize, testBatch);
    for (let g = 0; g < config.generations; g++) {
      expect(traced(await search.step()), `generation ${g}`).toEqual(golden.records[g]);
    }
    expect(genomeBase64(search.championMember())).toBe(golden.champion);
  });

  it('re-checks at generations 4 and 8 and the last (11): test accuracy there only, and the population does not change', () => {
    const withTest = golden.records.filter((r) => r.testAccuracy !== null).map((r) => r.gen);
    expect(withTest).toEqual([4, 8, 11]);
    for (const r of golden.records) {
      if (r.testAccuracy !== null) expect(r.testAccuracy).toBeGreaterThan(0);
      // Every champion after a re-check carries its re-checked fitness.
      if (r.gen >= 4) expect(r.champion?.recheckedFitness).not.toBeNull();
    }
    // The re-check only picks the champion: with it off, every population statistic is the same.
    const off = new LocalSearch(
      { ...config, recheckEvery: 0 },
      batchForShard,
      new Evaluator({ kernel: loadKernel() }),
    );
    for (let g = 0; g < config.generations; g++) {
      const { champion: _c, bestEverFitness: _b, testAccuracy, ...population } = traced(off.step());
      const { champion: _c2, bestEverFitness: _b2, testAccuracy: _t, ...expected } = golden.records[g];
      expect(population, `generation ${g}`).toEqual(expected);
      expect(testAccuracy).toBeNull();
    }
  });

  it('the worker pool evaluates a fixed population as one thread does', async () => {
    const genomes = Array.from({ length: 30 }, (_, j) => breedMember(breedingParams(config), 0, j, 0, null));
    const batch = batchForShard(0);
    const evaluator = new Evaluator({ kernel: loadKernel() });
    const alone = genomes.map((g) => evaluator.evaluate(compile(g), batch, config.weights));
    expect(await pool.evaluate(encodePopulation(genomes), 30, batch, config.weights, 4)).toEqual(alone);
  });
});
