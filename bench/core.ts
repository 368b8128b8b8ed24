/**
 * Core benchmark: seconds per generation of WANN evaluation (population 960, 1,000 MNIST images,
 * the 6 shared weights) for populations of ~120, ~500 and ~2,000 enabled connections, on one
 * thread and on all cores; plus the same workload through a dense, reference-style numpy
 * evaluation, measured in the same run, for the speed-up ratio.
 *
 * Robust to other load on the machine: per population, the one-thread rows that are compared (the
 * search's kernel, the float64 kernel it replaced, the dense numpy reference) are measured rep by
 * rep in alternating order, so load hits them alike, and each row records the 1-minute load
 * average seen during its repetitions (`loadAvg1`). One-thread times are CPU time of the thread;
 * the all-cores rows are wall time.
 *
 *   npm run bench            (writes bench/results/core.json and the README table)
 *   npm run bench -- --quick (fewer repetitions, writes neither results nor README)
 *   npm run bench -- --js    (the plain JS evaluator, without the WebAssembly kernel)
 *   npm run bench -- --targets 2000   (some populations only; writes neither results nor README)
 */

import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EvalPool } from '../node/eval-pool';
import { loadKernel } from '../node/kernel';
import { ensureShards, readShard } from '../node/shards';
import { updateReadmeTable } from '../scripts/readme-table';
import { shardToBatch } from '../src/data/shard';
import { SHARED_WEIGHTS } from '../src/wann/activation-ids';
import { enabledCount, encodePopulation, genomeToJson, nodeCount } from '../src/wann/genome';
import { compile, Evaluator } from '../src/wann/network';
import { BRED_GENERATIONS, bredPopulation, distinctRowFraction, meanOf } from './populations';

const HERE = fileURLToPath(new URL('.', import.meta.url));

const POPULATION = 960;
const targetsArg = process.argv.indexOf('--targets');
const TARGETS = targetsArg >= 0 ? process.argv[targetsArg + 1].split(',').map(Number) : [120, 500, 2000];
/** A partial run (--quick, --targets) leaves the recorded results and README alone. */
const quick = process.argv.includes('--quick') || targetsArg >= 0;
const REPS = quick ? 1 : 3;
/** The WebAssembly SIMD kernel unless --js (the pool's workers follow the same flag). */
const useKernel = !process.argv.includes('--js');
if (!useKernel) process.env.WANN_JS = '1';
const ENGINE = useKernel ? 'wann-edge (TypeScript + wasm SIMD, float32 search)' : 'wann-edge (TypeScript)';
const ENGINE_F64 = 'wann-edge (TypeScript + wasm SIMD, float64; before float32)';
/** The search's default slice size: a generation's members are evaluated in slices of this many. */
const SLICE = 64;
const ENGINE_SHARED = `wann-edge (TypeScript + wasm SIMD, float32, ${SLICE}-member slices, shared rows once)`;

interface Row {
  meanConnections: number;
  meanHiddenNodes: number;
  threads: number;
  secondsPerGeneration: number;
  genomeEvalsPerSecond: number;
  updatesPerSecond: number;
  engine: string;
  /** Mean 1-minute load average over this row's repetitions. */
  loadAvg1: number;
  /** Distinct rows over the members' rows in the population's 64-member slices. */
  distinctRows?: number;
}

const cpuSeconds = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main() {
  const dir = await ensureShards();
  const shard = readShard(dir, 'train', 0);
  const batch = shardToBatch(shard);
  const weights = SHARED_WEIGHTS;
  const threads = availableParallelism();
  const pool = new EvalPool(threads);
  const poolBatch = { key: 'train-00', ...batch };
  const rows: Row[] = [];
  const tmp = mkdtempSync(join(tmpdir(), 'wann-bench-'));
  try {
    for (const target of TARGETS) {
      const t0 = performance.now();
      const population = bredPopulation(POPULATION, target, BRED_GENERATIONS);
      const distinct = distinctRowFraction(population, SLICE);
      const made = (performance.now() - t0) / 1000;
      const conns = meanOf(population.map(enabledCount));
      const hidden = meanOf(population.map((g) => nodeCount(g) - 267));
      const updates = conns * batch.count * weights.length * POPULATION;
      console.log(
        `\n~${target} connections: mean ${conns.toFixed(0)} enabled, ${hidden.toFixed(0)} hidden nodes, ${(100 * distinct).toFixed(1)} % of rows distinct in ${SLICE}-member slices (made in ${made.toFixed(1)} s)`,
      );

      // One thread: compile + evaluate every genome, as a generation does. The compared one-thread
      // rows alternate rep by rep (order reversed every other rep); CPU time of this thread.
      // The shared-rows row evaluates as a search's generation does (`evaluateMembers`: each slice
      // of 64 members merged, rows they share evaluated once); the others one genome at a time.
      const paths: { engine: string; run: () => void; secs: number[]; loads: number[] }[] = [];
      const addPath = (engine: string, evaluator: Evaluator, shared = false) =>
        paths.push({
          engine,
          run: shared
            ? () => {
                for (let s = 0; s < population.length; s += SLICE)
                  evaluator.evaluateMany(population.slice(s, s + SLICE).map(compile), batch, weights);
              }
            : () => {
                for (const g of population) evaluator.evaluate(compile(g), batch, weights);
              },
          secs: [],
          loads: [],
        });
      if (useKernel) addPath(ENGINE_SHARED, new Evaluator({ kernel: loadKernel() }), true);
      addPath(ENGINE, new Evaluator(useKernel ? { kernel: loadKernel() } : {}));
      if (useKernel) addPath(ENGINE_F64, new Evaluator({ kernel: loadKernel(), precision: 'f64' }));
      // Dense reference-style evaluation (numpy), same genomes and images, on a sample of genomes
      // (it is slow), scaled to the population. Skipped when python3 + numpy are absent.
      const sample = quick ? 8 : 24;
      const file = join(tmp, `pop-${target}.json`);
      writeFileSync(
        file,
        JSON.stringify({
          genomes: population.slice(0, sample).map(genomeToJson),
          weights,
          count: batch.count,
          inputs: Buffer.from(batch.inputs.buffer, batch.inputs.byteOffset, batch.inputs.byteLength).toString(
            'base64',
          ),
          labels: Array.from(batch.labels),
        }),
      );
      const dense = { secs: [] as number[], loads: [] as number[], skipped: '' };
      const runDense = () => {
        if (dense.skipped) return;
        try {
          const out = execFileSync('python3', [join(HERE, 'reference_dense.py'), file], {
            encoding: 'utf8',
            env: { ...process.env, OMP_NUM_THREADS: '1', OPENBLAS_NUM_THREADS: '1' },
          });
          const { secondsPerGenome } = JSON.parse(out) as { secondsPerGenome: number };
          dense.secs.push(secondsPerGenome * POPULATION);
          dense.loads.push(loadavg()[0]);
        } catch (e) {
          dense.skipped = (e as Error).message.split('\n')[0];
        }
      };
      for (const p of paths) p.run(); // warm-up (JIT, kernel tier-up)
      for (let r = 0; r < REPS; r++) {
        const steps: (() => void)[] = paths.map((p) => () => {
          const s = cpuSeconds();
          p.run();
          p.secs.push(cpuSeconds() - s);
          p.loads.push(loadavg()[0]);
        });
        steps.push(runDense);
        if (r % 2) steps.reverse();
        for (const step of steps) step();
      }
      // All cores: the population travels encoded, as it does to the platform's evaluators.
      const encoded = encodePopulation(population);
      await pool.evaluate(encoded, POPULATION, poolBatch, weights); // warm-up: JIT + batch transfer
      const multi: number[] = [];
      const multiLoads: number[] = [];
      for (let r = 0; r < REPS; r++) {
        const s = performance.now();
        await pool.evaluate(encodePopulation(population), POPULATION, poolBatch, weights);
        multi.push((performance.now() - s) / 1000);
        multiLoads.push(loadavg()[0]);
      }
      const measured: [string, number, number, number[], number][] = [
        ...paths.map(
          (p) => [p.engine, 1, median(p.secs), p.loads, 4] as [string, number, number, number[], number],
        ),
        [useKernel ? ENGINE_SHARED : ENGINE, threads, median(multi), multiLoads, 4],
      ];
      if (dense.secs.length)
        measured.push(['dense numpy, reference-style', 1, median(dense.secs), dense.loads, 3]);
      else console.log(`  dense numpy baseline skipped: ${dense.skipped}`);
      for (const [engine, n, secs, loads, digits] of measured) {
        const row: Row = {
          meanConnections: Math.round(conns),
          meanHiddenNodes: Math.round(hidden),
          threads: n,
          secondsPerGeneration: +secs.toFixed(digits),
          genomeEvalsPerSecond: secs > 5 ? +(POPULATION / secs).toFixed(2) : Math.round(POPULATION / secs),
          updatesPerSecond: Math.round(updates / secs),
          engine,
          loadAvg1: +meanOf(loads).toFixed(2),
          distinctRows: +distinct.toFixed(3),
        };
        rows.push(row);
        console.log(
          `  ${engine}, ${n} thread(s): ${secs.toFixed(3)} s/generation, ${(POPULATION / secs).toFixed(1)} genomes/s (load ${row.loadAvg1})`,
        );
      }
    }
  } finally {
    await pool.close();
    rmSync(tmp, { recursive: true, force: true });
  }

  const results = rows.map(({ engine, meanHiddenNodes, loadAvg1, ...core }) => ({
    ...core,
    meanHiddenNodes,
    engine,
    loadAvg1,
  }));
  // --quick is a smoke run: it leaves the recorded results alone.
  if (!quick) writeFileSync(join(HERE, 'results', 'core.json'), `${JSON.stringify(results, null, 2)}\n`);
  const table = [
    '| mean enabled connections | hidden nodes | engine | threads | s / generation | genomes / s | conn·image·weight updates / s | vs dense numpy | load (1 min) |',
    '|---:|---:|---|---:|---:|---:|---:|---:|---:|',
    ...rows.map((r) => {
      const dense = rows.find((d) => d.meanConnections === r.meanConnections && d.engine.startsWith('dense'));
      const ratio = dense ? `${(dense.secondsPerGeneration / r.secondsPerGeneration).toFixed(0)}×` : '–';
      return `| ${r.meanConnections} | ${r.meanHiddenNodes} | ${r.engine} | ${r.threads} | ${r.secondsPerGeneration} | ${r.genomeEvalsPerSecond} | ${(r.updatesPerSecond / 1e9).toFixed(2)} G | ${ratio} | ${r.loadAvg1} |`;
    }),
  ].join('\n');
  const distinctNote = () =>
    [...new Map(rows.map((r) => [r.meanConnections, r.distinctRows ?? 1])).entries()]
      .map(([c, d]) => `${(100 * d).toFixed(0)} % at ~${c} connections`)
      .join(', ');
  console.log(`\n${table}`);
  if (!quick)
    updateReadmeTable(
      'core',
      `${table}\n\n_Measured ${new Date().toISOString().slice(0, 10)} by \`npm run bench\` (population 960 bred for ${BRED_GENERATIONS} generations by the search's own selection and mutation, \`bredPopulation\`; distinct rows in its ${SLICE}-member slices: ${distinctNote()}; 1,000 images, 6 weights; ${availableParallelism()} cores; one-thread rows: CPU time, compared rows interleaved rep by rep; load = mean 1-minute load average during the row's repetitions; updates / s counts every member's connections, shared or not)._`,
    );
}

await main();
