/**
 * A/B of the evaluation paths on one thread: the plain JS `Evaluator` against the one with the
 * WebAssembly kernel, on the core benchmark's populations (compile included, as a generation does),
 * interleaved so that load from other processes hits both alike. Prints s/generation (population
 * 960, 1,000 images, 6 weights) from CPU time and the ratio.
 *
 *   npx tsx bench/kernel-ab.ts [--targets 120,2000] [--reps 3] [--genomes 960]
 */
import { shardToBatch } from '../src/data/shard';
import { SHARED_WEIGHTS } from '../src/wann/activation-ids';
import { enabledCount } from '../src/wann/genome';
import { compile, Evaluator } from '../src/wann/network';
import { loadKernel } from './kernel';
import { ensureShards, readShard } from './mnist';
import { benchPopulation, meanOf } from './populations';

const arg = (name: string, dflt: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : dflt;
};
const targets = arg('targets', '120,500,2000').split(',').map(Number);
const reps = Number(arg('reps', '3'));
const genomes = Number(arg('genomes', '960'));
const POPULATION = 960;

const batch = shardToBatch(readShard(await ensureShards(), 'train', 0));
const paths = { js: new Evaluator(), wasm: new Evaluator({ kernel: loadKernel() }) };
const cpu = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};
for (const target of targets) {
  const population = benchPopulation(POPULATION, target).slice(0, genomes);
  const times: Record<string, number[]> = { js: [], wasm: [] };
  let worst = 0;
  // Warm-up, and the largest fitness difference between the paths.
  for (const g of population.slice(0, 64)) {
    const plan = compile(g);
    const a = paths.js.evaluate(plan, batch, SHARED_WEIGHTS);
    const b = paths.wasm.evaluate(plan, batch, SHARED_WEIGHTS);
    for (let k = 0; k < a.fitness.length; k++) worst = Math.max(worst, Math.abs(a.fitness[k] - b.fitness[k]));
  }
  for (let r = 0; r < reps; r++) {
    for (const name of r % 2 ? (['wasm', 'js'] as const) : (['js', 'wasm'] as const)) {
      const ev = paths[name];
      const s = cpu();
      for (const g of population) ev.evaluate(compile(g), batch, SHARED_WEIGHTS);
      times[name].push(((cpu() - s) * POPULATION) / population.length);
    }
  }
  const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const js = med(times.js);
  const wasm = med(times.wasm);
  console.log(
    `~${target} (${meanOf(population.map(enabledCount)).toFixed(0)} conns): js ${js.toFixed(3)} s/gen, wasm ${wasm.toFixed(3)} s/gen, ×${(js / wasm).toFixed(2)}; max |Δfitness| ${worst.toExponential(1)}`,
  );
}
