/**
 * This checkout's evaluator against another checkout's (an older revision, a branch), in one
 * process, rep by rep in alternating order, so load on a shared machine hits both alike; and the
 * two must give the same bits. Used to show that a refactor kept both the numbers and the speed.
 *
 *   git worktree add --detach ../old <rev> && ln -s "$PWD/node_modules" ../old/node_modules
 *   npx tsx bench/ab-evaluator.ts --other ../old [--reps 7] [--targets 120,500,2000]
 *     [--fast-exp] [--out ab-evaluator.json]
 *
 * Workload: the core benchmark's bred populations (population 960, 1,000 MNIST training images, the
 * 6 shared weights), evaluated as a search's generation is (`evaluateMany` on 64-member slices,
 * float32 wasm kernel). Times are CPU seconds of this thread; the figure is the median ratio.
 * `--fast-exp`: this checkout's evaluator with the `fastExp` option (other numerics: the fitness
 * values differ; `--other .` measures its speed-up against the default). Writes
 * bench/results/ab-evaluator.json (or `--out`).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ensureShards, readShard } from '../node/shards';
import { shardToBatch } from '../src/data/shard';
import { SHARED_WEIGHTS } from '../src/wann/activation-ids';
import { enabledCount, type Genome } from '../src/wann/genome';
import { compileKernel } from '../src/wann/kernel/kernel';
import { compile, Evaluator } from '../src/wann/network';
import type { Batch, GenomeResult } from '../src/wann/types';
import { BRED_GENERATIONS, bredPopulation, meanOf } from './populations';

const HERE = fileURLToPath(new URL('.', import.meta.url));
const arg = (name: string) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
};
const otherDir = arg('--other');
if (!otherDir) {
  console.error(
    'usage: npx tsx bench/ab-evaluator.ts --other <another checkout> [--reps N] [--targets 120,500]',
  );
  process.exit(2);
}
const REPS = Number(arg('--reps') ?? 5);
const TARGETS = (arg('--targets') ?? '120,500,2000').split(',').map(Number);
const FAST_EXP = process.argv.includes('--fast-exp');
const OUT = arg('--out') ?? 'ab-evaluator.json';
const POPULATION = 960;
const SLICE = 64;

interface EvaluatorLike {
  evaluateMany(plans: unknown[], batch: Batch, weights: readonly number[]): GenomeResult[];
}
interface Side {
  name: string;
  evaluator: EvaluatorLike;
  compile: (g: Genome) => unknown;
  secs: number[];
}

const cpu = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};
/** The checked-out commit of `dir` (and whether its tree has changes), for the record. */
const revision = (dir: string) => {
  const rev = execFileSync('git', ['-C', dir, 'rev-parse', 'HEAD'], { encoding: 'utf8' }).trim();
  const dirty = execFileSync('git', ['-C', dir, 'status', '--porcelain'], { encoding: 'utf8' }).trim();
  return dirty ? `${rev} + uncommitted changes` : rev;
};
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main() {
  const other = resolve(otherDir!);
  const wasm = (dir: string) => compileKernel(readFileSync(join(dir, 'src/wann/kernel/kernel.wasm')));
  const theirs = (await import(pathToFileURL(join(other, 'src/wann/network.ts')).href)) as {
    compile: (g: Genome) => unknown;
    Evaluator: new (o: { kernel: WebAssembly.Module }) => EvaluatorLike;
  };
  const batch = shardToBatch(readShard(await ensureShards(), 'train', 0));
  const weights = SHARED_WEIGHTS;
  const rows = [];
  for (const target of TARGETS) {
    const population = bredPopulation(POPULATION, target, BRED_GENERATIONS);
    const sides: Side[] = [
      {
        name: 'this checkout',
        evaluator: new Evaluator({ kernel: wasm(join(HERE, '..')), fastExp: FAST_EXP }) as EvaluatorLike,
        compile: compile as (g: Genome) => unknown,
        secs: [],
      },
      {
        name: other,
        evaluator: new theirs.Evaluator({ kernel: wasm(other) }),
        compile: theirs.compile,
        secs: [],
      },
    ];
    const results: Float64Array[] = sides.map(() => new Float64Array(POPULATION * weights.length));
    const loads: number[] = [];
    for (let rep = 0; rep < REPS; rep++) {
      const order = rep % 2 === 0 ? sides : [...sides].reverse();
      for (const side of order) {
        const out = results[sides.indexOf(side)];
        const t0 = cpu();
        for (let s = 0; s < population.length; s += SLICE) {
          const slice = population.slice(s, s + SLICE).map(side.compile);
          side.evaluator.evaluateMany(slice, batch, weights).forEach((r, j) => {
            out.set(r.fitness, (s + j) * weights.length);
          });
        }
        side.secs.push(cpu() - t0);
        loads.push(loadavg()[0]);
      }
    }
    let differing = 0;
    for (let i = 0; i < results[0].length; i++) {
      if (!Object.is(results[0][i], results[1][i])) differing++;
    }
    const [mine, theirsSecs] = sides.map((s) => median(s.secs));
    const ratios = sides[0].secs.map((t, i) => t / sides[1].secs[i]);
    const row = {
      meanConnections: Math.round(meanOf(population.map(enabledCount))),
      thisCheckout: mine,
      other: theirsSecs,
      medianRatio: median(ratios),
      ratios,
      differingFitnessValues: differing,
      loadAvg1: meanOf(loads),
    };
    rows.push(row);
    console.log(
      `~${row.meanConnections} connections: this ${mine.toFixed(3)} s/gen, other ${theirsSecs.toFixed(3)} s/gen, median ratio ${row.medianRatio.toFixed(3)} (${ratios.map((r) => r.toFixed(2)).join(' ')}), ${differing} fitness values differ, load ${row.loadAvg1.toFixed(1)}`,
    );
  }
  writeFileSync(
    join(HERE, 'results', OUT),
    `${JSON.stringify({ measured: new Date().toISOString(), fastExp: FAST_EXP, other, otherRevision: revision(other), thisRevision: revision(join(HERE, '..')), reps: REPS, rows }, null, 2)}\n`,
  );
}

await main();
