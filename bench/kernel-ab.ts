/**
 * A/B of the evaluation paths on one thread, on the core benchmark's populations (compile
 * included, as a generation does), repetitions interleaved (order alternating) so that load from
 * other processes hits every path alike. Paths: `js` (plain JS evaluator, float64: the publishing
 * path), `f64` (WebAssembly kernel, float64 numerics: the kernel before the float32 search
 * numerics), `f32` (WebAssembly kernel, float32 search numerics: what a search uses). Prints
 * s/generation (population 960, 1,000 images, 6 weights) from CPU time, the ratios to the first
 * path, the largest fitness difference from the first path, and the 1-minute load average.
 *
 *   npx tsx bench/kernel-ab.ts [--targets 120,2000] [--reps 3] [--genomes 960] [--paths f64,f32]
 */
import { loadavg } from 'node:os';
import { loadKernel } from '../node/kernel';
import { ensureShards, readShard } from '../node/shards';
import { shardToBatch } from '../src/data/shard';
import { SHARED_WEIGHTS } from '../src/wann/activation-ids';
import { enabledCount } from '../src/wann/genome';
import { compile, Evaluator } from '../src/wann/network';
import { benchPopulation, meanOf } from './populations';

const arg = (name: string, dflt: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : dflt;
};
const targets = arg('targets', '120,500,2000').split(',').map(Number);
const reps = Number(arg('reps', '3'));
const genomes = Number(arg('genomes', '960'));
const names = arg('paths', 'f64,f32').split(',');
const POPULATION = 960;

const makers: Record<string, () => Evaluator> = {
  js: () => new Evaluator(),
  f64: () => new Evaluator({ kernel: loadKernel(), precision: 'f64' }),
  f32: () => new Evaluator({ kernel: loadKernel(), precision: 'f32' }),
};
for (const n of names) if (!makers[n]) throw new Error(`unknown path ${n} (js, f64, f32)`);
const batch = shardToBatch(readShard(await ensureShards(), 'train', 0));
const paths = names.map((n) => makers[n]());
const cpu = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};
const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
for (const target of targets) {
  const population = benchPopulation(POPULATION, target).slice(0, genomes);
  const times: number[][] = names.map(() => []);
  const worst = names.map(() => 0);
  // Warm-up, and the largest fitness difference from the first path.
  for (const g of population.slice(0, 64)) {
    const plan = compile(g);
    const a = paths[0].evaluate(plan, batch, SHARED_WEIGHTS);
    for (let p = 1; p < paths.length; p++) {
      const b = paths[p].evaluate(plan, batch, SHARED_WEIGHTS);
      for (let k = 0; k < a.fitness.length; k++)
        worst[p] = Math.max(worst[p], Math.abs(a.fitness[k] - b.fitness[k]));
    }
  }
  const loads: number[] = [];
  for (let r = 0; r < reps; r++) {
    const order = names.map((_, p) => p);
    if (r % 2) order.reverse();
    for (const p of order) {
      const s = cpu();
      for (const g of population) paths[p].evaluate(compile(g), batch, SHARED_WEIGHTS);
      times[p].push(((cpu() - s) * POPULATION) / population.length);
      loads.push(loadavg()[0]);
    }
  }
  const base = med(times[0]);
  const parts = names.map((n, p) => {
    const t = med(times[p]);
    const extra = p ? ` (×${(base / t).toFixed(2)}, max |Δfitness| ${worst[p].toExponential(1)})` : '';
    return `${n} ${t.toFixed(3)} s/gen${extra}`;
  });
  console.log(
    `~${target} (${meanOf(population.map(enabledCount)).toFixed(0)} conns): ${parts.join(', ')}; load ${Math.min(...loads).toFixed(2)}–${Math.max(...loads).toFixed(2)}`,
  );
}
