/**
 * How many rows a real search's slices share: the source of the README's "9–14 % distinct rows"
 * (Shared rows). A search (LocalSearch, float32 kernel, population 960, the default config) runs
 * to generation `--to`; from generation `--from` on, every `--every` generations, its population is
 * cut into 64-member slices as the evaluators cut it and `distinctRowFraction` counts the
 * structurally distinct rows over all the members' rows (bench/populations.ts, as `npm run bench`
 * counts them for its bred populations).
 *
 *   npx tsx bench/search-sharing.ts [--seed 1] [--from 50] [--to 200] [--every 10]
 *
 * About 200 generations of population 960 on one thread: a few minutes on a quiet machine.
 * Writes bench/results/search-sharing.json.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { loadKernel } from '../node/kernel';
import { ensureShards, readShard, trainBatches } from '../node/shards';
import { shardToBatch } from '../src/data/shard';
import { resolveConfig } from '../src/wann/config';
import { RECHECK_TEST_SHARD } from '../src/wann/generation';
import { enabledCount } from '../src/wann/genome';
import { LocalSearch } from '../src/wann/local-search';
import { Evaluator } from '../src/wann/network';
import { distinctRowFraction } from './populations';

const SLICE = 64;
const HERE = fileURLToPath(new URL('.', import.meta.url));
const { values: args } = parseArgs({
  options: {
    seed: { type: 'string', default: '1' },
    from: { type: 'string', default: '50' },
    to: { type: 'string', default: '200' },
    every: { type: 'string', default: '10' },
    /** Only to try the script quickly; the README's figure is at 960. */
    population: { type: 'string', default: '960' },
  },
});
const from = Number(args.from);
const to = Number(args.to);
const every = Number(args.every);

const dir = await ensureShards();
const train = trainBatches(dir);
const config = resolveConfig(
  { generations: to + 1, seed: Number(args.seed), population: Number(args.population) },
  () => 1,
);
const search = new LocalSearch(
  config,
  train,
  new Evaluator({ kernel: loadKernel() }),
  shardToBatch(readShard(dir, 'test', RECHECK_TEST_SHARD)),
);
const samples: { generation: number; meanConnections: number; distinctRows: number }[] = [];
while (search.generation <= to) {
  const r = search.step();
  if (r.gen >= from && (r.gen - from) % every === 0) {
    const members = search.members;
    const sample = {
      generation: r.gen,
      meanConnections: +(members.reduce((s, g) => s + enabledCount(g), 0) / members.length).toFixed(1),
      distinctRows: +distinctRowFraction(members, SLICE).toFixed(3),
    };
    samples.push(sample);
    console.log(JSON.stringify(sample));
  }
}
const fractions = samples.map((s) => s.distinctRows);
const result = {
  measured: new Date().toISOString().slice(0, 10),
  seed: config.seed,
  population: config.population,
  sliceSize: SLICE,
  min: Math.min(...fractions),
  max: Math.max(...fractions),
  samples,
};
writeFileSync(join(HERE, 'results', 'search-sharing.json'), `${JSON.stringify(result, null, 2)}\n`);
console.log(`distinct rows: ${(100 * result.min).toFixed(0)}–${(100 * result.max).toFixed(0)} %`);
