/**
 * Generation benchmark: where a generation's time goes now that the workers breed and the main
 * thread only ranks and selects (DESIGN.md "One generation").
 *
 * 1. The serial part, everything the main thread does per generation that is not waiting for the
 *    workers: planGeneration (NSGA-II ranking, tournaments), the slice messages (serialised as
 *    postMessage does), receiving the reports (structured clones of synthetic ones) and
 *    completeGeneration. It handles only numbers, so synthetic objectives and reports stand in for a
 *    search, at populations 960 and 10,000 (10,000 last: its ranking is the slowest step).
 * 2. The search's seconds per generation on the reference config (population 960, seed 1,
 *    generations 0–40) with 1 and 2 worker threads, split into evaluation (first slice out to last
 *    report in) and the serial part; the 1- and 2-thread repetitions are interleaved so machine load
 *    hits both alike. As the machine's own ceiling, the same interleaving evaluates a fixed population
 *    (bench/populations.ts, ~120 connections) with no breeding and no serial part.
 *
 *   npm run bench:generation              (writes bench/results/generation.json and the README table)
 *   npm run bench:generation -- --quick   (fewer repetitions and generations; writes neither)
 */
import { writeFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MessageChannel } from 'node:worker_threads';
import { EvalPool, type StoredSlice, sliceBounds, type ToWorker } from '../node/eval-pool';
import { PoolSearch } from '../node/pool-search';
import { ensureShards, readShard } from '../node/shards';
import { updateReadmeTable } from '../scripts/readme-table';
import { shardToBatch } from '../src/data/shard';
import { stream } from '../src/random';
import { SHARED_WEIGHTS } from '../src/wann/activation-ids';
import { resolveConfig, type SearchConfig } from '../src/wann/config';
import {
  breedingParams,
  type GenerationObjectives,
  planGeneration,
  RECHECK_TEST_SHARD,
  type SliceReport,
} from '../src/wann/generation';
import { encodePopulation } from '../src/wann/genome';
import type { ChampionRecord } from '../src/wann/record';
import { completeGeneration } from '../src/wann/tell';
import type { Batch } from '../src/wann/types';
import { benchPopulation } from './populations';

const HERE = fileURLToPath(new URL('.', import.meta.url));
const quick = process.argv.includes('--quick');
const REPS = quick ? 1 : 3;
const GENERATIONS = quick ? 8 : 41; // generations 0–40
const THREADS = [1, 2];

interface Row {
  measurement: 'serial part (synthetic)' | 'search' | 'evaluation only (fixed population)';
  population: number;
  threads: number;
  serialMsPerGeneration: number | null;
  evalSecondsPerGeneration: number | null;
  secondsPerGeneration: number | null;
  /** CPU time of the whole process (all threads) per generation. */
  cpuSecondsPerGeneration: number | null;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const round = (x: number, digits: number) => +x.toFixed(digits);
const cpuSeconds = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

// ---------------------------------------------------------------------------------------------
// 1. The serial part on synthetic numbers

/** Reports as evaluators would send them for one generation (values from a seeded stream). */
function syntheticReports(config: SearchConfig, gen: number, bounds: [number, number][]): SliceReport[] {
  const w = config.weights.length;
  return bounds.map(([sliceStart, sliceEnd], s) => {
    const rng = stream(config.seed, gen, 'bench', s);
    const n = sliceEnd - sliceStart;
    const fitness: number[] = [];
    const accuracy: number[] = [];
    for (let i = 0; i < n * w; i++) {
      fitness.push(-3 + rng.float() + gen / 100);
      accuracy.push(rng.float());
    }
    const offsets = [8];
    for (let i = 0; i < n; i++) offsets.push(offsets[i] + 300 + rng.int(2000));
    return {
      gen,
      sliceStart,
      sliceEnd,
      weights: w,
      fitness,
      accuracy,
      connections: Array.from({ length: n }, () => 100 + rng.int(2000)),
      nodes: Array.from({ length: n }, () => 267 + rng.int(400)),
      offsets,
    };
  });
}

/**
 * Milliseconds per generation of the main thread's work with `threads` workers, as
 * PoolSearch + EvalPool do it, minus the workers: messages go to a port nobody reads (postMessage
 * serialises them on the main thread all the same) and each report is received as a structured
 * clone.
 */
function serialPart(population: number, threads: number, generations: number): number {
  const config = resolveConfig({ population, seed: 1 }, () => 1);
  const bounds = sliceBounds(population, config.sliceSize, threads);
  const { port1, port2 } = new MessageChannel();
  const breeding = breedingParams(config);
  let objectives: GenerationObjectives | null = null;
  let champion: ChampionRecord | null = null;
  let previous: StoredSlice[] = [];
  let championSlice: StoredSlice | undefined;
  const times: number[] = [];
  for (let gen = 0; gen < generations; gen++) {
    const sent = syntheticReports(config, gen, bounds);
    const buffers = bounds.map(() => new SharedArrayBuffer(64));
    const start = performance.now();
    const plan = planGeneration(config, gen, objectives);
    for (let t = 0; t < threads; t++) {
      const context: ToWorker = {
        type: 'generation',
        gen,
        breeding,
        weights: config.weights,
        batch: 1,
        sources: previous,
      };
      port1.postMessage(context);
    }
    for (const [id, [sliceStart, sliceEnd]] of bounds.entries()) {
      const task: ToWorker = {
        type: 'slice',
        id,
        sliceStart,
        sliceEnd,
        elites: plan.elites,
        parents: gen === 0 ? new Int32Array(0) : plan.parents.slice(sliceStart, sliceEnd),
      };
      port1.postMessage(task);
    }
    const reports = sent.map((r) => structuredClone(r));
    const slices = reports.map((r, i) => ({
      sliceStart: r.sliceStart,
      sliceEnd: r.sliceEnd,
      buffer: buffers[i],
      offsets: r.offsets,
    }));
    const done = completeGeneration({ gen, config, population, reports, champion, durationMs: 0 });
    if (done.champion && done.champion !== champion) {
      const index = done.champion.index;
      championSlice = slices.find((s) => index >= s.sliceStart && index < s.sliceEnd);
    }
    champion = done.champion;
    objectives = done.objectives;
    previous = slices;
    times.push(performance.now() - start);
  }
  port1.close();
  port2.close();
  if (champion && !championSlice) throw new Error('lost the champion slice');
  // Generation 0 has no ranking: the steady state is generations ≥ 1.
  return median(times.slice(1));
}

// ---------------------------------------------------------------------------------------------
// 2. The search at 1 and 2 threads, and the machine's ceiling

interface SearchRun {
  seconds: number;
  evalSeconds: number;
  serialMs: number;
  cpuSeconds: number;
}

async function timeSearch(
  config: SearchConfig,
  threads: number,
  batchForShard: (s: number) => Batch,
  recheckTest: Batch,
) {
  const pool = new EvalPool(threads);
  try {
    await pool.ready();
    // The reference config re-checks its champion every 8 generations (on a test subset).
    const search = new PoolSearch(config, pool, batchForShard, config.sliceSize, recheckTest);
    let evalMs = 0;
    let serialMs = 0;
    const cpu0 = cpuSeconds();
    const t0 = performance.now();
    for (let g = 0; g < GENERATIONS; g++) {
      await search.step();
      evalMs += search.lastStep.evalMs;
      serialMs += search.lastStep.serialMs;
    }
    const run: SearchRun = {
      seconds: (performance.now() - t0) / 1000 / GENERATIONS,
      evalSeconds: evalMs / 1000 / GENERATIONS,
      serialMs: serialMs / GENERATIONS,
      cpuSeconds: (cpuSeconds() - cpu0) / GENERATIONS,
    };
    console.log(
      `  search, ${threads} thread(s): ${run.seconds.toFixed(3)} s/gen (evaluation ${run.evalSeconds.toFixed(3)} s, serial ${run.serialMs.toFixed(1)} ms, CPU ${run.cpuSeconds.toFixed(3)} s)`,
    );
    return run;
  } finally {
    await pool.close();
  }
}

async function timeEvaluation(population: Uint8Array, size: number, threads: number, batch: Batch) {
  const pool = new EvalPool(threads);
  try {
    await pool.ready();
    await pool.evaluate(population, size, batch, SHARED_WEIGHTS); // warm-up: JIT, batch transfer
    const cpu0 = cpuSeconds();
    const t0 = performance.now();
    const rounds = quick ? 1 : 3;
    for (let r = 0; r < rounds; r++) await pool.evaluate(population, size, batch, SHARED_WEIGHTS);
    const seconds = (performance.now() - t0) / 1000 / rounds;
    const cpu = (cpuSeconds() - cpu0) / rounds;
    console.log(
      `  evaluation only, ${threads} thread(s): ${seconds.toFixed(3)} s/gen (CPU ${cpu.toFixed(3)} s)`,
    );
    return { seconds, cpuSeconds: cpu };
  } finally {
    await pool.close();
  }
}

async function main() {
  const rows: Row[] = [];
  const dir = await ensureShards();
  const config = resolveConfig({ population: 960, seed: 1 }, () => 1);
  const shards = new Map<number, Batch>();
  const batchForShard = (s: number) => {
    let b = shards.get(s);
    if (!b) {
      b = shardToBatch(readShard(dir, 'train', s));
      shards.set(s, b);
    }
    return b;
  };
  for (let s = 0; s < config.trainShards; s++) batchForShard(s); // read before timing
  const recheckTest = shardToBatch(readShard(dir, 'test', RECHECK_TEST_SHARD));

  console.log(
    `Search, population ${config.population}, seed ${config.seed}, generations 0–${GENERATIONS - 1}:`,
  );
  const runs = new Map<number, SearchRun[]>(THREADS.map((t) => [t, []]));
  const fixed = encodePopulation(benchPopulation(config.population, 120));
  const evals = new Map<number, { seconds: number; cpuSeconds: number }[]>(THREADS.map((t) => [t, []]));
  for (let rep = 0; rep < REPS; rep++) {
    // Alternate which thread count goes first, so a drift in machine load cancels out.
    const order = rep % 2 === 0 ? THREADS : [...THREADS].reverse();
    for (const threads of order)
      runs.get(threads)!.push(await timeSearch(config, threads, batchForShard, recheckTest));
    for (const threads of order) {
      evals.get(threads)!.push(await timeEvaluation(fixed, config.population, threads, batchForShard(0)));
    }
  }
  for (const threads of THREADS) {
    const rs = runs.get(threads)!;
    rows.push({
      measurement: 'search',
      population: config.population,
      threads,
      serialMsPerGeneration: round(median(rs.map((r) => r.serialMs)), 2),
      evalSecondsPerGeneration: round(median(rs.map((r) => r.evalSeconds)), 4),
      secondsPerGeneration: round(median(rs.map((r) => r.seconds)), 4),
      cpuSecondsPerGeneration: round(median(rs.map((r) => r.cpuSeconds)), 4),
    });
  }
  for (const threads of THREADS) {
    const es = evals.get(threads)!;
    rows.push({
      measurement: 'evaluation only (fixed population)',
      population: config.population,
      threads,
      serialMsPerGeneration: null,
      evalSecondsPerGeneration: round(median(es.map((e) => e.seconds)), 4),
      secondsPerGeneration: round(median(es.map((e) => e.seconds)), 4),
      cpuSecondsPerGeneration: round(median(es.map((e) => e.cpuSeconds)), 4),
    });
  }

  // Serial part last, 10,000 at the very end: its ranking is the slowest thing measured here.
  const threads = availableParallelism();
  for (const [population, generations] of [
    [960, quick ? 6 : 30],
    [10_000, quick ? 3 : 10],
  ]) {
    const ms = serialPart(population, threads, generations);
    console.log(`Serial part, population ${population}, ${threads} threads: ${ms.toFixed(2)} ms/generation`);
    rows.push({
      measurement: 'serial part (synthetic)',
      population,
      threads,
      serialMsPerGeneration: round(ms, 2),
      evalSecondsPerGeneration: null,
      secondsPerGeneration: null,
      cpuSecondsPerGeneration: null,
    });
  }

  const speedup = (m: Row['measurement']) => {
    const one = rows.find((r) => r.measurement === m && r.threads === 1)?.secondsPerGeneration;
    const two = rows.find((r) => r.measurement === m && r.threads === 2)?.secondsPerGeneration;
    return one && two ? `${(one / two).toFixed(2)}×` : '–';
  };
  const cell = (v: number | null, digits: number) => (v === null ? '–' : v.toFixed(digits));
  const table = [
    '| measurement | population | threads | serial ms / gen | evaluation s / gen | s / gen | CPU s / gen |',
    '|---|---:|---:|---:|---:|---:|---:|',
    ...rows.map(
      (r) =>
        `| ${r.measurement} | ${r.population} | ${r.threads} | ${cell(r.serialMsPerGeneration, 2)} | ${cell(r.evalSecondsPerGeneration, 3)} | ${cell(r.secondsPerGeneration, 3)} | ${cell(r.cpuSecondsPerGeneration, 3)} |`,
    ),
  ].join('\n');
  console.log(
    `\n${table}\n\n2 threads vs 1: search ${speedup('search')}, evaluation only ${speedup('evaluation only (fixed population)')}`,
  );
  if (quick) return;
  writeFileSync(join(HERE, 'results', 'generation.json'), `${JSON.stringify(rows, null, 2)}\n`);
  updateReadmeTable(
    'generation',
    [
      "`npm run bench:generation` times a generation of the Node search (`node/pool-search.ts`: the main thread ranks and selects, worker threads breed and evaluate their slices): the serial part on synthetic objectives and reports at populations 960 and 10,000, and the search on the reference config (population 960, seed 1, generations 0–40) at 1 and 2 threads, split into evaluation and serial part, with the same interleaved evaluation of a fixed population as the machine's ceiling (`bench/results/generation.json`):",
      '',
      table,
      '',
      `2 threads vs 1: search ${speedup('search')}, evaluation only ${speedup('evaluation only (fixed population)')}.`,
      '',
      `_Measured ${new Date().toISOString().slice(0, 10)} by \`npm run bench:generation\` (medians of ${REPS} interleaved repetitions; ${availableParallelism()} cores; 1-minute load average ${loadavg()[0].toFixed(2)} at the end, the benchmark's own threads included)._`,
    ].join('\n'),
  );
}

await main();
