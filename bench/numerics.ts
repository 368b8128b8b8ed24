/**
 * What the float32 search numerics do to a search's result: the same short search (LocalSearch, one
 * thread) run with the float64 kernel and with the float32 kernel on the same seeds, each final
 * champion reported on the 10,000 test images with the float64 publishing path (ensemble, mean
 * over the shared weights, tuned weight). The README's float32-vs-float64 table comes from here.
 *
 *   npx tsx bench/numerics.ts [--seeds 1,2] [--generations 60] [--population 960]
 *
 * About 4 searches × 60 generations of population 960 on one thread, a few minutes on a quiet
 * machine. Writes bench/results/numerics.json.
 */
import { writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { loadKernel } from '../node/kernel';
import { ensureShards, readShard, testSet, trainBatches } from '../node/shards';
import { shardsToBatch, shardToBatch } from '../src/data/shard';
import { resolveConfig } from '../src/wann/config';
import { RECHECK_TEST_SHARD } from '../src/wann/generation';
import { enabledCount } from '../src/wann/genome';
import { LocalSearch } from '../src/wann/local-search';
import { Evaluator } from '../src/wann/network';
import { championReport, TUNING_SHARDS } from '../src/wann/report';

const HERE = fileURLToPath(new URL('.', import.meta.url));
const { values: args } = parseArgs({
  options: {
    seeds: { type: 'string', default: '1,2' },
    generations: { type: 'string', default: '60' },
    population: { type: 'string', default: '960' },
  },
});

const dir = await ensureShards();
const train = trainBatches(dir);
const test = testSet(dir);
const recheckTest = shardToBatch(readShard(dir, 'test', RECHECK_TEST_SHARD));
const tuning = shardsToBatch(Array.from({ length: TUNING_SHARDS }, (_, i) => readShard(dir, 'train', i)));
const kernel = loadKernel();
const numerics = [
  { name: 'float64 kernel', precision: 'f64' },
  { name: 'float32 kernel', precision: 'f32' },
] as const;

const rows = [];
for (const seed of (args.seeds ?? '').split(',').map(Number)) {
  for (const n of numerics) {
    const config = resolveConfig(
      { population: Number(args.population), generations: Number(args.generations), seed },
      () => seed,
    );
    const search = new LocalSearch(
      config,
      train,
      new Evaluator({ kernel, precision: n.precision }),
      recheckTest,
    );
    const t0 = performance.now();
    while (search.generation < config.generations) search.step();
    const seconds = (performance.now() - t0) / 1000;
    const champion = search.championMember();
    if (!champion) throw new Error(`seed ${seed}: no champion`);
    // Reported with the float64 JS path, as a published model is.
    const report = championReport(champion, test, tuning, config.weights);
    const row = {
      seed,
      numerics: n.name,
      ensembleTestAccuracy: report.ensembleTestAccuracy,
      meanTestAccuracy: report.meanTestAccuracy,
      tunedTestAccuracy: report.tunedTestAccuracy,
      championConnections: enabledCount(champion),
      seconds: +seconds.toFixed(1),
    };
    rows.push(row);
    console.log(JSON.stringify(row));
  }
}

const result = {
  measured: new Date().toISOString().slice(0, 10),
  population: Number(args.population),
  generations: Number(args.generations),
  tuningShards: TUNING_SHARDS,
  loadAverage: loadavg()[0],
  rows,
};
writeFileSync(join(HERE, 'results', 'numerics.json'), `${JSON.stringify(result, null, 2)}\n`);
