/**
 * Core benchmark: seconds per generation of WANN evaluation (population 960, 1,000 MNIST images,
 * the 6 shared weights) for populations of ~120, ~500 and ~2,000 enabled connections, on one
 * thread and on all cores; plus the same workload through a dense, reference-style numpy
 * evaluation, measured in the same run, for the speed-up ratio.
 *
 *   npm run bench            (writes bench/results/core.json and the README table)
 *   npm run bench -- --quick (fewer repetitions, writes neither results nor README)
 *   npm run bench -- --js    (the plain JS evaluator, without the WebAssembly kernel)
 */

import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { shardToBatch } from '../src/data/shard';
import { SHARED_WEIGHTS } from '../src/wann/activation-ids';
import { enabledCount, encodePopulation, genomeToJson, nodeCount } from '../src/wann/genome';
import { compile, Evaluator } from '../src/wann/network';
import { EvalPool } from './eval-pool';
import { loadKernel } from './kernel';
import { ensureShards, readShard } from './mnist';
import { benchPopulation, meanOf } from './populations';
import { updateReadmeTable } from './readme-table';

const HERE = fileURLToPath(new URL('.', import.meta.url));

const POPULATION = 960;
const TARGETS = [120, 500, 2000];
const quick = process.argv.includes('--quick');
const REPS = quick ? 1 : 3;
/** The WebAssembly SIMD kernel unless --js (the pool's workers follow the same flag). */
const useKernel = !process.argv.includes('--js');
if (!useKernel) process.env.WANN_JS = '1';
const ENGINE = useKernel ? 'wann-edge (TypeScript + wasm SIMD)' : 'wann-edge (TypeScript)';

interface Row {
  meanConnections: number;
  meanHiddenNodes: number;
  threads: number;
  secondsPerGeneration: number;
  genomeEvalsPerSecond: number;
  updatesPerSecond: number;
  engine: string;
}

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
      const population = benchPopulation(POPULATION, target);
      const made = (performance.now() - t0) / 1000;
      const conns = meanOf(population.map(enabledCount));
      const hidden = meanOf(population.map((g) => nodeCount(g) - 267));
      const updates = conns * batch.count * weights.length * POPULATION;
      console.log(
        `\n~${target} connections: mean ${conns.toFixed(0)} enabled, ${hidden.toFixed(0)} hidden nodes (made in ${made.toFixed(1)} s)`,
      );

      // One thread: compile + evaluate every genome, as a generation does.
      const evaluator = new Evaluator(useKernel ? { kernel: loadKernel() } : {});
      const single: number[] = [];
      for (let r = 0; r < REPS; r++) {
        const s = performance.now();
        for (const g of population) evaluator.evaluate(compile(g), batch, weights);
        single.push((performance.now() - s) / 1000);
      }
      // All cores: the population travels encoded, as it does to the platform's evaluators.
      const encoded = encodePopulation(population);
      await pool.evaluate(encoded, POPULATION, poolBatch, weights); // warm-up: JIT + batch transfer
      const multi: number[] = [];
      for (let r = 0; r < REPS; r++) {
        const s = performance.now();
        await pool.evaluate(encodePopulation(population), POPULATION, poolBatch, weights);
        multi.push((performance.now() - s) / 1000);
      }
      for (const [n, secs] of [
        [1, median(single)],
        [threads, median(multi)],
      ] as const) {
        rows.push({
          meanConnections: Math.round(conns),
          meanHiddenNodes: Math.round(hidden),
          threads: n,
          secondsPerGeneration: +secs.toFixed(4),
          genomeEvalsPerSecond: Math.round(POPULATION / secs),
          updatesPerSecond: Math.round(updates / secs),
          engine: ENGINE,
        });
        console.log(
          `  ${n} thread(s): ${secs.toFixed(3)} s/generation, ${(POPULATION / secs).toFixed(0)} genomes/s`,
        );
      }

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
      try {
        const out = execFileSync('python3', [join(HERE, 'reference_dense.py'), file], {
          encoding: 'utf8',
          env: { ...process.env, OMP_NUM_THREADS: '1', OPENBLAS_NUM_THREADS: '1' },
        });
        const { secondsPerGenome } = JSON.parse(out) as { secondsPerGenome: number };
        const secs = secondsPerGenome * POPULATION;
        rows.push({
          meanConnections: Math.round(conns),
          meanHiddenNodes: Math.round(hidden),
          threads: 1,
          secondsPerGeneration: +secs.toFixed(3),
          genomeEvalsPerSecond: +(1 / secondsPerGenome).toFixed(2),
          updatesPerSecond: Math.round(updates / secs),
          engine: 'dense numpy, reference-style',
        });
        console.log(
          `  dense numpy (reference-style), 1 thread: ${secs.toFixed(1)} s/generation (from ${sample} genomes)`,
        );
      } catch (e) {
        console.log(`  dense numpy baseline skipped: ${(e as Error).message.split('\n')[0]}`);
      }
    }
  } finally {
    await pool.close();
    rmSync(tmp, { recursive: true, force: true });
  }

  const results = rows.map(({ engine, meanHiddenNodes, ...core }) => ({ ...core, meanHiddenNodes, engine }));
  // --quick is a smoke run: it leaves the recorded results alone.
  if (!quick) writeFileSync(join(HERE, 'results', 'core.json'), `${JSON.stringify(results, null, 2)}\n`);
  const table = [
    '| mean enabled connections | hidden nodes | engine | threads | s / generation | genomes / s | conn·image·weight updates / s | vs dense numpy |',
    '|---:|---:|---|---:|---:|---:|---:|---:|',
    ...rows.map((r) => {
      const dense = rows.find((d) => d.meanConnections === r.meanConnections && d.engine.startsWith('dense'));
      const ratio = dense ? `${(dense.secondsPerGeneration / r.secondsPerGeneration).toFixed(0)}×` : '–';
      return `| ${r.meanConnections} | ${r.meanHiddenNodes} | ${r.engine} | ${r.threads} | ${r.secondsPerGeneration} | ${r.genomeEvalsPerSecond} | ${(r.updatesPerSecond / 1e9).toFixed(2)} G | ${ratio} |`;
    }),
  ].join('\n');
  console.log(`\n${table}`);
  if (!quick)
    updateReadmeTable(
      'core',
      `${table}\n\n_Measured ${new Date().toISOString().slice(0, 10)} by \`npm run bench\` (population 960, 1,000 images, 6 weights; ${availableParallelism()} cores)._`,
    );
}

await main();
